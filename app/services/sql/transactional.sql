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
-- One call, checked and stored in one statement: $1 workspace, $2 stream campaign, the content ($3 template,
-- $4 subject (for a template: '' for the template's own), $5 preheader, $6 HTML, $7 text, $8 from, $9 from name,
-- $10 reply-to, $11 headers as JSON text, $12 attachment bytes), $13 API key, $14 batch id (null for one
-- message), then one array per recipient: $15 addresses, $16 merge data as JSON text, $17 metadata as JSON
-- text; $18 tags, $19 when (null: now), $20 sandbox; what refuses an address: $21 to $23 the (address, kind,
-- value) probes of the addresses whose mailability counts (suppression.entries.hashed), $24 those addresses,
-- $25 the subscriber statuses that refuse one (the matches `refused_addresses` finds for the worker); $26 the
-- fingerprint of the caller's parts of the content (`content_fingerprint`; null with attachments).
-- Answers one row per stored message (outcome 'accepted', ids in the order given, each with the content's id),
-- per suppression entry or refusing status that matched ('suppressed', 'status'), or a single 'no_template'
-- row when $3 is not the workspace's template; nothing is stored then, nor for a refused address, and a
-- template's subject, preheader, HTML and text are taken as they are at this moment.
-- The content is stored once per workspace: a message whose content is stored already points at that row. Its
-- fingerprint is the caller's, with a template's version and row version (xmin) added: any change to the
-- template makes a new content, and its HTML is neither read nor hashed for every message. A content with
-- attachments always gets its own row (its fingerprint is NULL).
-- When another call stored the same content while this one ran, this one's snapshot cannot see the row it
-- conflicted with: it stores nothing and answers a single 'retry' row, and the caller runs it again.
-- A recipient who is a subscriber of the workspace is linked to the oldest of their rows, so opens and clicks
-- reach them.
WITH template AS (
    SELECT t.subject, t.preheader, t.html, t.text_part, t.version, t.xmin FROM email_templates t
    WHERE t.id = $3::integer AND t.workspace_id = $1::integer
), suppressed AS (
    SELECT p.address, l.name, l.is_blacklist, e.kind, e.value
    FROM unnest($21::text[], $22::text[], $23::text[]) AS p(address, kind, value)
    JOIN suppression_entries e ON e.workspace_id = $1::integer AND e.kind = p.kind AND e.value = p.value
    JOIN suppression_lists l ON l.id = e.suppression_list_id
), refusing AS (
    SELECT DISTINCT ON (s.email) s.email, s.status FROM subscribers s
    WHERE s.workspace_id = $1::integer AND s.email = ANY($24::text[]) AND s.status = ANY($25::text[])
    ORDER BY s.email, s.status
), input AS (
    SELECT i.email, i.data, i.metadata, i.n, nextval('deliveries_id_seq') AS id
    FROM unnest($15::text[], $16::text[], $17::text[]) WITH ORDINALITY AS i(email, data, metadata, n)
    WHERE ($3::integer IS NULL OR EXISTS (SELECT 1 FROM template))
      AND NOT EXISTS (SELECT 1 FROM suppressed x WHERE x.address = i.email)
      AND NOT EXISTS (SELECT 1 FROM refusing r WHERE r.email = i.email)
), fingerprinted AS (
    SELECT coalesce(nullif($4::text, ''), t.subject, '') AS subject, coalesce(t.preheader, $5::text) AS preheader,
           coalesce(t.html, $6::text) AS html, CASE WHEN $3::integer IS NULL THEN $7::text ELSE t.text_part END
           AS text_part,
           CASE WHEN $3::integer IS NULL OR $26::bytea IS NULL THEN $26::bytea
                ELSE sha256($26::bytea || convert_to(t.version || ':' || t.xmin, 'UTF8')) END AS fingerprint
    FROM (SELECT 1) one LEFT JOIN template t ON true
), found AS (
    SELECT c.id FROM transactional_contents c JOIN fingerprinted f ON c.fingerprint = f.fingerprint
    WHERE c.workspace_id = $1::integer
), made AS (
    INSERT INTO transactional_contents (workspace_id, template_id, subject, preheader, html, text_part, from_email,
                                        from_name, reply_to, headers, attachment_bytes, fingerprint)
    SELECT $1::integer, $3::integer, f.subject, f.preheader, f.html, f.text_part, $8::text, $9::text, $10::text,
           $11::text::jsonb, $12::integer, f.fingerprint
    FROM fingerprinted f
    WHERE EXISTS (SELECT 1 FROM input) AND NOT EXISTS (SELECT 1 FROM found)
    ON CONFLICT (workspace_id, fingerprint) DO NOTHING
    RETURNING id
), content AS (
    SELECT id FROM found UNION ALL SELECT id FROM made
), delivered AS (
    INSERT INTO deliveries (id, workspace_id, campaign_id, subscriber_id, email, domain, status, transactional,
                            next_attempt_at)
    SELECT i.id, $1::integer, $2::integer,
           (SELECT s.id FROM subscribers s WHERE s.workspace_id = $1::integer AND s.email = i.email
            ORDER BY s.id LIMIT 1),
           i.email, split_part(i.email, '@', 2), 'queued', true, coalesce($19::timestamptz, now())
    FROM input i WHERE EXISTS (SELECT 1 FROM content)
), stored AS (
    INSERT INTO transactional_messages (id, workspace_id, content_id, api_key_id, batch_id, email, data, tags,
                                        metadata, scheduled_at, sandbox)
    SELECT i.id, $1::integer, c.id, $13::integer, $14::uuid, i.email, i.data::jsonb, $18::text[],
           i.metadata::jsonb, $19::timestamptz, $20::boolean
    FROM input i CROSS JOIN content c
)
SELECT 'accepted' AS outcome, i.n, i.email, i.id, c.id AS content_id, NULL::text AS list_name,
       NULL::boolean AS is_blacklist, NULL::text AS kind, NULL::text AS value
FROM input i CROSS JOIN content c
UNION ALL
SELECT 'suppressed', NULL, x.address, NULL, NULL, x.name, x.is_blacklist, x.kind, x.value FROM suppressed x
UNION ALL
SELECT 'status', NULL, r.email, NULL, NULL, NULL, NULL, r.status, NULL FROM refusing r
UNION ALL
SELECT 'no_template', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
WHERE $3::integer IS NOT NULL AND NOT EXISTS (SELECT 1 FROM template)
UNION ALL
SELECT 'retry', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
WHERE EXISTS (SELECT 1 FROM input) AND NOT EXISTS (SELECT 1 FROM content)
ORDER BY n

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
  -- Flow emails are `transactional` rows too (many per address): only an API message is the API's to cancel.
  AND EXISTS (SELECT 1 FROM transactional_messages m WHERE m.id = $2::bigint AND m.workspace_id = $1::integer)
RETURNING id
