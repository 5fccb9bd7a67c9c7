-- name: accept-report
INSERT INTO bounce_reports (workspace_id, source, source_ref, format, raw, raw_size)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (source, source_ref) DO NOTHING
RETURNING id;

-- name: claim-report
-- A report not yet processed, locked for this transaction; another worker holding it makes this return nothing.
SELECT id, workspace_id, source, source_ref, format, raw, attempts
FROM bounce_reports WHERE id = $1::bigint AND processed_at IS NULL
FOR UPDATE SKIP LOCKED;

-- name: finish-report
UPDATE bounce_reports SET processed_at = now(), workspace_id = coalesce(workspace_id, $2::int), error = $3::text
WHERE id = $1::bigint;

-- name: report-failed
UPDATE bounce_reports SET attempts = attempts + 1, error = $2::text WHERE id = $1::bigint AND processed_at IS NULL;

-- name: unprocessed
-- Reports a lost task left behind: received a while ago, not given up on.
SELECT id FROM bounce_reports
WHERE processed_at IS NULL AND attempts < $1::int AND received_at < now() - make_interval(secs => $2::int)
ORDER BY id LIMIT $3::int;

-- name: enabled-rules
SELECT id, pattern, category, status FROM bounce_rules
WHERE workspace_id = $1::int AND enabled ORDER BY position, id;

-- name: recent-soft
-- This address's soft bounces in the workspace over the last $3 days.
SELECT count(*) AS n FROM bounces
WHERE workspace_id = $1::int AND email = $2::text AND category = 'soft'
  AND occurred_at > now() - make_interval(days => $3::int);

-- name: store
-- One outcome; nothing when it is stored already (a report's position, or a delivery's synchronous answer).
INSERT INTO bounces (workspace_id, report_id, position, delivery_id, campaign_id, subscriber_id, server_id,
                     domain_group, email, category, status, reply_code, diagnostic, remote_mta, rule,
                     feedback_type, action_taken)
VALUES ($1::int, $2::bigint, $3::int, $4::bigint, $5::int, $6::bigint, $7::int, $8::text, $9::text, $10::text,
        $11::text, $12::text, $13::text, $14::text, $15::text, $16::text, $17::text)
ON CONFLICT DO NOTHING
RETURNING id;

-- name: mark-subscribers
-- Every subscription of the address in the workspace whose status is one of $3 moves to $4, with its history.
WITH targets AS (
    SELECT s.id, s.list_id, s.status FROM subscribers s
    WHERE s.workspace_id = $1::int AND s.email = $2::text AND s.status = ANY($3::text[])
    FOR UPDATE OF s
),
changed AS (
    UPDATE subscribers u SET status = $4::text, updated_at = now()
    FROM targets t WHERE u.id = t.id
    RETURNING u.id, u.list_id, t.status AS from_status
),
history AS (
    INSERT INTO subscriber_status_changes (workspace_id, subscriber_id, from_status, to_status, source)
    SELECT $1::int, id, from_status, $4::text, $5::text FROM changed
)
SELECT list_id FROM changed;

-- name: event
INSERT INTO events (workspace_id, subscriber_id, campaign_id, delivery_id, kind, meta)
VALUES ($1::int, $2::bigint, $3::bigint, $4::bigint, $5::text, $6::jsonb);

-- name: deliveries
SELECT id, workspace_id, campaign_id, subscriber_id, server_id, domain_group, email
FROM deliveries WHERE workspace_id = $1::int AND id = ANY($2::bigint[]);

-- name: reclassify
UPDATE bounces SET category = $3::text, rule = $4::text, action_taken = $5::text
WHERE workspace_id = $1::int AND id = $2::bigint;

-- name: of-deliveries
-- $1 workspace, $2 delivery ids: the latest bounce or complaint about each (for the campaign's send log).
SELECT DISTINCT ON (delivery_id) delivery_id, category FROM bounces
WHERE workspace_id = $1::integer AND delivery_id = ANY($2::bigint[])
  AND category IN ('hard', 'soft', 'block', 'complaint')
ORDER BY delivery_id, id DESC
