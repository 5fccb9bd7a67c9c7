-- Transactional messages: accepting many in one statement, claiming them with a lease, the minute sweep.
-- Their deliveries belong to the workspace's stream campaign; rows still in play are found through
-- deliveries_open_idx (campaign_id, id), as a campaign's are.

-- name: stream
-- $1 workspace: the id of its stream campaign, made on first use (two callers racing: one makes it, the
-- other finds none in its snapshot and asks again).
WITH made AS (
    INSERT INTO campaigns (workspace_id, name, kind, status, materialised_at, started_at, created_at, updated_at)
    VALUES ($1::integer, 'Transactional', 'transactional', 'stream', now(), now(), now(), now())
    ON CONFLICT (workspace_id) WHERE kind = 'transactional' DO NOTHING
    RETURNING id
)
SELECT id FROM made
UNION ALL
SELECT id FROM campaigns WHERE workspace_id = $1::integer AND kind = 'transactional'

-- name: accept
-- One call's content and its recipients in one statement: $1 workspace, $2 stream campaign, the content ($3
-- template, $4 subject, $5 preheader, $6 HTML, $7 text, $8 from, $9 from name, $10 reply-to, $11 headers as JSON
-- text, $12 attachment bytes), $13 API key, $14 batch id (null for one message), then one array per recipient:
-- $15 addresses, $16 merge data as JSON text, $17 metadata as JSON text; $18 tags, $19 when (null: now), $20
-- sandbox. One delivery and one message per address, ids in the order given, each row with the content's id.
-- A recipient who is a subscriber of the workspace is linked to the oldest of their rows, so opens and clicks
-- reach them.
WITH content AS (
    INSERT INTO transactional_contents (workspace_id, template_id, subject, preheader, html, text_part, from_email,
                                        from_name, reply_to, headers, attachment_bytes)
    VALUES ($1::integer, $3::integer, $4::text, $5::text, $6::text, $7::text, $8::text, $9::text, $10::text,
            $11::text::jsonb, $12::integer)
    RETURNING id
), input AS (
    SELECT i.email, i.data, i.metadata, i.n, nextval('deliveries_id_seq') AS id
    FROM unnest($15::text[], $16::text[], $17::text[]) WITH ORDINALITY AS i(email, data, metadata, n)
), delivered AS (
    INSERT INTO deliveries (id, workspace_id, campaign_id, subscriber_id, email, domain, status, transactional,
                            next_attempt_at)
    SELECT i.id, $1::integer, $2::integer,
           (SELECT s.id FROM subscribers s WHERE s.workspace_id = $1::integer AND s.email = i.email
            ORDER BY s.id LIMIT 1),
           i.email, split_part(i.email, '@', 2), 'queued', true, coalesce($19::timestamptz, now())
    FROM input i
), stored AS (
    INSERT INTO transactional_messages (id, workspace_id, content_id, api_key_id, batch_id, email, data, tags,
                                        metadata, scheduled_at, sandbox)
    SELECT i.id, $1::integer, c.id, $13::integer, $14::uuid, i.email, i.data::jsonb, $18::text[],
           i.metadata::jsonb, $19::timestamptz, $20::boolean
    FROM input i CROSS JOIN content c
)
SELECT i.id, c.id AS content_id FROM input i CROSS JOIN content c ORDER BY i.n

-- name: claim
-- $1 workspace, $2 stream campaign, $3 first delivery id, $4 last delivery id, $5 lease in seconds: the
-- waiting messages of the range whose time has come, with what each one merges and what its events carry.
WITH due AS (
    SELECT d.id FROM deliveries d
    WHERE d.workspace_id = $1::integer AND d.campaign_id = $2::integer AND d.id BETWEEN $3::bigint AND $4::bigint
      AND d.status IN ('queued', 'deferred') AND d.next_attempt_at <= now()
    FOR UPDATE OF d SKIP LOCKED
), claimed AS (
    UPDATE deliveries d SET status = 'claimed', lease_until = now() + make_interval(secs => $5::integer),
        updated_at = now()
    FROM due WHERE d.id = due.id
    RETURNING d.id, d.subscriber_id, d.email, d.attempts
)
SELECT c.id, c.subscriber_id, c.email, c.attempts, m.content_id, m.data::text AS data, m.sandbox, m.tags,
       m.metadata::text AS metadata
FROM claimed c JOIN transactional_messages m ON m.id = c.id AND m.workspace_id = $1::integer
ORDER BY c.id

-- name: note-deferrals
-- $1 workspace, $2 message ids, $3 answers: each deferral remembered, since the delivery keeps only its latest.
UPDATE transactional_messages m
SET deferrals = m.deferrals || jsonb_build_array(jsonb_build_object('at', now(), 'answer', o.answer))
FROM unnest($2::bigint[], $3::text[]) AS o(id, answer)
WHERE m.id = o.id AND m.workspace_id = $1::integer

-- name: due
-- $1 seconds of slack, $2 batch size. Across workspaces, as ranges of ids per stream: scheduled messages whose
-- time has come (never queued yet), and waiting messages overdue by more than the slack (their queue entry was
-- lost: a Redis restart, a worker that died with its lease, now expired).
SELECT workspace_id, campaign_id, min(id) AS first_id, max(id) AS last_id FROM (
    SELECT d.workspace_id, d.campaign_id, d.id,
           (row_number() OVER (PARTITION BY d.campaign_id ORDER BY d.id) - 1) / $2::integer AS batch
    FROM campaigns c JOIN deliveries d ON d.campaign_id = c.id AND d.workspace_id = c.workspace_id
    JOIN transactional_messages m ON m.id = d.id AND m.workspace_id = d.workspace_id
    WHERE c.kind = 'transactional' AND d.status IN ('queued', 'deferred') AND d.next_attempt_at <= now()
      AND (d.next_attempt_at <= now() - make_interval(secs => $1::float8)
           OR (d.attempts = 0 AND m.scheduled_at IS NOT NULL))
) due GROUP BY workspace_id, campaign_id, batch ORDER BY 1, 2, 3

-- name: cancel
-- $1 workspace, $2 message: cancelled while it still waits; no row when it is not (or not this workspace's).
UPDATE deliveries SET status = 'cancelled', last_answer = 'cancelled through the API', updated_at = now()
WHERE id = $2::bigint AND workspace_id = $1::integer AND transactional AND status IN ('queued', 'deferred')
RETURNING id
