-- name: accept-report
INSERT INTO bounce_reports (workspace_id, source, source_ref, format, raw, raw_size)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (source, source_ref) DO NOTHING
RETURNING id;
