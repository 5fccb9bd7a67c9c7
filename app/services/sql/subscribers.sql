-- Changes to many subscribers at once (bulk actions, status changes). The filter's SELECT, built per request,
-- first fills the temporary table bulk_targets in the caller's transaction; each change is then one statement
-- over it. Parameters: $1 workspace, then as named.

-- name: targets-table
CREATE TEMPORARY TABLE IF NOT EXISTS bulk_targets (id bigint PRIMARY KEY) ON COMMIT DROP

-- name: clear-targets
DELETE FROM bulk_targets

-- name: tag
-- $2 tag id
WITH added AS (
    INSERT INTO subscriber_tags (workspace_id, tag_id, subscriber_id)
    SELECT s.workspace_id, $2::int, s.id FROM subscribers s JOIN bulk_targets t ON t.id = s.id
    WHERE s.workspace_id = $1::int
    ON CONFLICT DO NOTHING
    RETURNING 1
)
SELECT count(*) AS n FROM added

-- name: untag
-- $2 tag id
WITH removed AS (
    DELETE FROM subscriber_tags st USING bulk_targets t
    WHERE st.workspace_id = $1::int AND st.tag_id = $2::int AND st.subscriber_id = t.id
    RETURNING 1
)
SELECT count(*) AS n FROM removed

-- name: copy
-- $2 target list. Copies keep status and fields; addresses already on the target list are left as they are.
WITH copied AS (
    INSERT INTO subscribers (workspace_id, list_id, email, email_domain, status, fields, source, ip, engagement_score,
                             last_open_at, last_click_at, confirmed_at, unsubscribed_at)
    SELECT s.workspace_id, $2::int, s.email, s.email_domain, s.status, s.fields, 'copy', s.ip, s.engagement_score,
           s.last_open_at, s.last_click_at, s.confirmed_at, s.unsubscribed_at
    FROM subscribers s JOIN bulk_targets t ON t.id = s.id
    WHERE s.workspace_id = $1::int
    ON CONFLICT (list_id, email) DO NOTHING
    RETURNING 1
)
SELECT count(*) AS n FROM copied

-- name: remove-moved
-- $2 target list. After a copy: every original whose address is now on the target list. An address that was
-- there already keeps the target's row and status (someone unsubscribed there stays unsubscribed).
WITH moved AS (
    DELETE FROM subscribers s USING bulk_targets t
    WHERE s.id = t.id AND s.workspace_id = $1::int AND s.list_id <> $2::int
      AND EXISTS (SELECT 1 FROM subscribers o WHERE o.list_id = $2::int AND o.email = s.email)
    RETURNING 1
)
SELECT count(*) AS n FROM moved

-- name: change-status
-- $2 new status, $3 source of the change (kept in the history). Subscribers already in that status are left alone.
WITH targets AS (
    SELECT s.id, s.status FROM subscribers s JOIN bulk_targets t ON t.id = s.id
    WHERE s.workspace_id = $1::int AND s.status <> $2::text
    FOR UPDATE OF s
),
changed AS (
    UPDATE subscribers u SET status = $2::text, updated_at = now(),
        confirmed_at = CASE WHEN $2::text = 'confirmed' THEN now() ELSE u.confirmed_at END,
        unsubscribed_at = CASE WHEN $2::text = 'unsubscribed' THEN now() ELSE u.unsubscribed_at END
    FROM targets t WHERE u.id = t.id
    RETURNING u.id, t.status AS from_status
),
history AS (
    INSERT INTO subscriber_status_changes (workspace_id, subscriber_id, from_status, to_status, source)
    SELECT $1::int, id, from_status, $2::text, $3::text FROM changed
)
SELECT count(*) AS n FROM changed

-- name: delete
WITH gone AS (
    DELETE FROM subscribers s USING bulk_targets t WHERE s.id = t.id AND s.workspace_id = $1::int
    RETURNING 1
)
SELECT count(*) AS n FROM gone
