-- Pauses of a (server, domain group) decided by complaint rates, and the record of every decision.

-- name: active
-- $1 workspace: the pauses in force now, with their server's name.
SELECT p.server_id, s.name AS server_name, p.domain_group, p.reason, p.paused_at, p.ends_at
FROM route_pauses p JOIN delivery_servers s ON s.id = p.server_id
WHERE p.workspace_id = $1::integer AND p.ends_at > now()
ORDER BY s.name, p.domain_group

-- name: pause
-- $1 workspace, $2 server, $3 domain group, $4 reason, $5 how long, $6 how long a lift holds: pauses the
-- pair unless it is paused already or a person lifted its pause within $6. Returns a row only when this
-- call paused it, so of several workers deciding at once exactly one records the decision. A server of
-- another workspace inserts nothing.
INSERT INTO route_pauses AS p (workspace_id, server_id, domain_group, reason, paused_at, ends_at)
SELECT $1::integer, s.id, $3::text, $4::text, now(), now() + $5::interval
FROM delivery_servers s WHERE s.id = $2::integer AND s.workspace_id = $1::integer
ON CONFLICT (server_id, domain_group) DO UPDATE SET
    reason = excluded.reason, paused_at = excluded.paused_at, ends_at = excluded.ends_at, lifted_at = NULL,
    lifted_by = ''
WHERE p.ends_at <= now() AND (p.lifted_at IS NULL OR p.lifted_at <= now() - $6::interval)
RETURNING p.server_id, p.ends_at

-- name: lift
-- $1 workspace, $2 server, $3 domain group, $4 who: ends the pair's pause now. No row: no pause in force.
UPDATE route_pauses SET ends_at = now(), lifted_at = now(), lifted_by = $4::text
WHERE workspace_id = $1::integer AND server_id = $2::integer AND domain_group = $3::text AND ends_at > now()
RETURNING server_id, domain_group, reason

-- name: record
-- $1 workspace, $2 kind, $3 server, $4 domain group, $5 campaign, $6 rate, $7 threshold, $8 reason.
INSERT INTO feedback_decisions (workspace_id, kind, server_id, domain_group, campaign_id, rate, threshold, reason)
VALUES ($1::integer, $2::text, $3::integer, $4::text, $5::integer, $6::float8, $7::float8, $8::text)
RETURNING id

-- name: decided-lately
-- $1 workspace, $2 kind, $3 server (null for none), $4 domain group, $5 campaign (null for none), $6 window
-- (null: ever): whether a decision of this kind about this subject was recorded within the window.
SELECT EXISTS (
    SELECT 1 FROM feedback_decisions
    WHERE workspace_id = $1::integer AND kind = $2::text AND server_id IS NOT DISTINCT FROM $3::integer
      AND domain_group = $4::text AND campaign_id IS NOT DISTINCT FROM $5::integer
      AND ($6::interval IS NULL OR at > now() - $6::interval)
) AS found

-- name: recent
-- $1 workspace, $2 how many: the newest decisions, with the names of their server and campaign.
SELECT d.id, d.at, d.kind, d.server_id, s.name AS server_name, d.domain_group, d.campaign_id,
       c.name AS campaign_name, d.rate, d.threshold, d.reason
FROM feedback_decisions d
LEFT JOIN delivery_servers s ON s.id = d.server_id AND s.workspace_id = d.workspace_id
LEFT JOIN campaigns c ON c.id = d.campaign_id AND c.workspace_id = d.workspace_id
WHERE d.workspace_id = $1::integer
ORDER BY d.id DESC
LIMIT $2::integer

-- name: groups-without-complaint-reports
-- $1 workspace: the names of its domain groups that include gmail.com (Gmail sends no complaint reports).
SELECT name FROM domain_groups WHERE workspace_id = $1::integer AND 'gmail.com' = ANY(domains)
