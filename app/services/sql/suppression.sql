-- Suppression entries, added in bulk. Parameters: $1 workspace, $2 suppression list, $3 kinds, $4 values, $5 reason.

-- name: add-entries
WITH added AS (
    INSERT INTO suppression_entries (workspace_id, suppression_list_id, kind, value, reason)
    SELECT $1::bigint, l.id, i.kind, i.value, $5::text
    FROM suppression_lists l, unnest($3::text[], $4::text[]) AS i(kind, value)
    WHERE l.id = $2::bigint AND l.workspace_id = $1::bigint
    ON CONFLICT (suppression_list_id, kind, value) DO NOTHING
    RETURNING 1
)
SELECT count(*) AS n FROM added
