-- Recipients: what a person reached from a message (unsubscribe link, one-click, preference centre).

-- name: delivery-recipient
-- $1 workspace, $2 campaign, $3 delivery (all three from the token): the address the message went to,
-- the list row it was sent for, and the campaign's lists. No row when the token names something that
-- is not that workspace's.
SELECT d.email, d.subscriber_id, s.list_id, c.list_ids
FROM deliveries d
JOIN campaigns c ON c.id = d.campaign_id AND c.workspace_id = d.workspace_id
LEFT JOIN subscribers s ON s.id = d.subscriber_id AND s.workspace_id = d.workspace_id
WHERE d.id = $3::bigint AND d.workspace_id = $1::integer AND d.campaign_id = $2::integer

-- name: memberships
-- $1 workspace, $2 address: every list row of the address, with the list's public name, in name order.
SELECT s.id, s.list_id, s.status, s.fields::text AS fields,
       coalesce(nullif(l.display_name, ''), l.name) AS list_name, l.archived_at IS NOT NULL AS archived
FROM subscribers s
JOIN lists l ON l.id = s.list_id AND l.workspace_id = s.workspace_id
WHERE s.workspace_id = $1::integer AND s.email = $2::text
ORDER BY lower(coalesce(nullif(l.display_name, ''), l.name)), s.list_id

-- name: record-unsubscribe
-- $1 workspace, $2 campaign (null: a link that names no message), $3 delivery, $4 subscriber, $5 meta as
-- JSON text. The event is always written; the campaign's figure counts people, so only the first
-- unsubscribe through a campaign's message moves it. Returns the campaign's figure when it moved.
WITH earlier AS (
    SELECT 1 FROM events
    WHERE campaign_id = $2::bigint AND kind = 'unsubscribe' AND subscriber_id = $4::bigint
      AND workspace_id = $1::integer
    LIMIT 1
), recorded AS (
    INSERT INTO events (workspace_id, subscriber_id, campaign_id, delivery_id, kind, meta)
    VALUES ($1::integer, $4::bigint, $2::bigint, $3::bigint, 'unsubscribe', $5::text::jsonb)
    RETURNING 1
), counted AS (
    INSERT INTO campaign_engagement AS c (campaign_id, workspace_id, unsubscribes)
    SELECT $2::integer, $1::integer, 1
    WHERE $2::integer IS NOT NULL AND NOT EXISTS (SELECT 1 FROM earlier)
    ON CONFLICT (campaign_id) DO UPDATE SET unsubscribes = c.unsubscribes + 1, updated_at = now()
    RETURNING c.unsubscribes
), rolled AS (
    -- The Analytics rollups count people the same way, against the message's server and domain group.
    SELECT add_performance(array_agg(ROW($1::integer, now(), d.server_id, d.domain_group, $2::integer,
                                         'unsubscribes', 1)::performance_fact)) AS touched
    FROM (SELECT 1 WHERE $2::integer IS NOT NULL AND NOT EXISTS (SELECT 1 FROM earlier)) AS first_time
    LEFT JOIN deliveries d ON d.id = $3::bigint AND d.workspace_id = $1::integer
)
SELECT (SELECT count(*) FROM recorded) AS recorded, (SELECT unsubscribes FROM counted) AS unsubscribes,
       (SELECT touched FROM rolled) AS rolled

-- name: web-version-subscriber
-- $1 workspace, $2 campaign, $3 delivery: the subscriber whose values the message merged, and the address
-- it went to. No row once the person was erased.
SELECT s.id, s.list_id, s.email, s.fields::text AS fields, s.created_at, d.email AS delivery_email
FROM deliveries d
JOIN subscribers s ON s.id = d.subscriber_id AND s.workspace_id = d.workspace_id
WHERE d.id = $3::bigint AND d.workspace_id = $1::integer AND d.campaign_id = $2::integer
