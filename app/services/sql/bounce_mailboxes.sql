-- name: due
-- Enabled mailboxes of every workspace whose last poll is older than their interval, the longest waiting first.
SELECT id, workspace_id
FROM bounce_mailboxes
WHERE enabled AND (last_polled_at IS NULL OR last_polled_at <= now() - make_interval(secs => poll_seconds))
ORDER BY last_polled_at NULLS FIRST
