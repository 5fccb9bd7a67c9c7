-- Robot rules: what the aggregator reads per batch, and the settings page's reads and writes.

-- name: enabled-rules
-- $1 workspaces: their enabled rules in the order they are tried.
SELECT id, workspace_id, name, kind, applies_to, pattern, networks, links, seconds
FROM robot_rules WHERE workspace_id = ANY($1::integer[]) AND enabled
ORDER BY workspace_id, position, id

-- name: delivery-history
-- $1 workspaces, $2 deliveries (pairs), $3 since: each delivery's send time and its clicks stored since then.
SELECT d.id AS delivery_id, d.sent_at, e.occurred_at, e.link_index
FROM unnest($1::integer[], $2::bigint[]) AS w(workspace_id, delivery_id)
JOIN deliveries d ON d.id = w.delivery_id AND d.workspace_id = w.workspace_id
LEFT JOIN events e ON e.subscriber_id = d.subscriber_id AND e.kind IN ('click', 'bot_click')
    AND e.occurred_at >= $3::timestamptz AND e.delivery_id = d.id AND e.workspace_id = d.workspace_id

-- name: rules-of
-- $1 workspace: every rule, enabled or not, in the order they are tried.
SELECT id, name, kind, applies_to, pattern, networks, links, seconds, enabled, position, updated_at
FROM robot_rules WHERE workspace_id = $1::integer ORDER BY position, id

-- name: rule
-- $1 workspace, $2 rule.
SELECT id, name, kind, applies_to, pattern, networks, links, seconds, enabled, position, updated_at
FROM robot_rules WHERE workspace_id = $1::integer AND id = $2::integer

-- name: insert
-- $1 workspace, $2 name, $3 kind, $4 applies to, $5 pattern, $6 networks, $7 links, $8 seconds, $9 enabled:
-- a rule tried after the workspace's others. Nothing when the name is taken.
INSERT INTO robot_rules (workspace_id, name, kind, applies_to, pattern, networks, links, seconds, enabled, position)
SELECT $1::integer, $2, $3, $4, $5, $6::text[], $7::smallint, $8::numeric, $9::boolean,
       coalesce((SELECT max(position) FROM robot_rules WHERE workspace_id = $1::integer), 0) + 10
ON CONFLICT (workspace_id, name) DO NOTHING
RETURNING id, name, applies_to

-- name: update
-- $1 workspace, $2 rule, then as insert from $3. Nothing when the rule is not the workspace's.
UPDATE robot_rules SET name = $3, kind = $4, applies_to = $5, pattern = $6, networks = $7::text[],
    links = $8::smallint, seconds = $9::numeric, enabled = $10::boolean, updated_at = now()
WHERE workspace_id = $1::integer AND id = $2::integer
RETURNING id, name

-- name: set-enabled
-- $1 workspace, $2 rule, $3 enabled.
UPDATE robot_rules SET enabled = $3::boolean, updated_at = now()
WHERE workspace_id = $1::integer AND id = $2::integer
RETURNING id, name, enabled

-- name: delete
-- $1 workspace, $2 rule.
DELETE FROM robot_rules WHERE workspace_id = $1::integer AND id = $2::integer RETURNING id, name

-- name: name-taken
-- $1 workspace, $2 name, $3 the rule being edited (0 for a new one).
SELECT EXISTS (SELECT 1 FROM robot_rules WHERE workspace_id = $1::integer AND lower(name) = lower($2)
                                             AND id <> $3::integer) AS taken

-- name: restore-defaults
-- $1 workspace: the default rules it no longer has, added back (by name).
SELECT seed_robot_rules($1::integer) AS added
