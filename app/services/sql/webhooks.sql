-- name: listening-kinds
SELECT DISTINCT unnest(events) AS kind FROM webhook_endpoints WHERE workspace_id = $1::int AND enabled

-- name: queue-events
-- $2 event ids, $3 kinds, $4 payloads (JSON text), in step: one row per event and endpoint hearing its kind.
INSERT INTO webhook_deliveries (workspace_id, endpoint_id, event_id, kind, payload, next_attempt_at)
SELECT $1::int, e.id, ev.event_id, ev.kind, ev.payload::jsonb, now()
FROM unnest($2::uuid[], $3::text[], $4::text[]) AS ev(event_id, kind, payload)
JOIN webhook_endpoints e ON e.workspace_id = $1::int AND e.enabled AND ev.kind = ANY(e.events)

-- name: claim-due
-- Up to $1 due deliveries of enabled endpoints, leased for $2 seconds; a worker that dies leaves them due again.
WITH due AS (
    SELECT d.id FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id AND e.enabled
    WHERE d.status = 'pending' AND d.next_attempt_at <= now() AND (d.leased_until IS NULL OR d.leased_until < now())
    ORDER BY d.next_attempt_at
    LIMIT $1::int
    FOR UPDATE OF d SKIP LOCKED
)
UPDATE webhook_deliveries d SET leased_until = now() + make_interval(secs => $2::int)
FROM due WHERE d.id = due.id
RETURNING d.*

-- name: record-attempts
-- One row per attempt: $1 ids, $2 delivered?, $3 status codes (0: none), $4 errors, $5 excerpts, $6 retry delays
-- in seconds (negative: no more attempts). Returns the endpoints with how their failures now stand.
WITH outcome AS (
    SELECT * FROM unnest($1::bigint[], $2::boolean[], $3::int[], $4::text[], $5::text[], $6::int[])
        AS o(id, delivered, status_code, error, excerpt, retry_in)
),
written AS (
    UPDATE webhook_deliveries d SET
        attempts = d.attempts + 1, last_attempt_at = now(), leased_until = NULL,
        last_status_code = NULLIF(o.status_code, 0), last_error = o.error, response_excerpt = o.excerpt,
        status = CASE WHEN o.delivered THEN 'delivered' WHEN o.retry_in < 0 THEN 'failed' ELSE 'pending' END,
        delivered_at = CASE WHEN o.delivered THEN now() END,
        next_attempt_at = CASE WHEN NOT o.delivered AND o.retry_in >= 0
                               THEN now() + make_interval(secs => o.retry_in) END
    FROM outcome o WHERE d.id = o.id
    RETURNING d.endpoint_id, d.kind, o.delivered, o.retry_in
),
streaks AS (
    SELECT endpoint_id, bool_or(delivered) AS any_delivered, count(*) FILTER (WHERE NOT delivered) AS failed,
           bool_or(NOT delivered AND retry_in < 0) AS exhausted
    FROM written WHERE kind <> 'ping' GROUP BY endpoint_id
)
UPDATE webhook_endpoints e SET
    failures = CASE WHEN s.any_delivered THEN 0 ELSE e.failures + s.failed END
FROM streaks s WHERE e.id = s.endpoint_id
RETURNING e.id, e.workspace_id, e.url, e.failures, s.exhausted

-- name: private-allowed
SELECT workspace_id FROM webhook_settings WHERE workspace_id = ANY($1::int[]) AND allow_private_targets

-- name: disable
WITH disabled AS (
    UPDATE webhook_endpoints SET enabled = false, disabled_at = now(), disabled_reason = $2::text, updated_at = now()
    WHERE id = $1::int AND enabled
    RETURNING id
),
parked AS (
    UPDATE webhook_deliveries d SET next_attempt_at = NULL FROM disabled
    WHERE d.endpoint_id = disabled.id AND d.status = 'pending'
)
SELECT id FROM disabled

-- name: park-pending
-- A disabled endpoint's waiting deliveries leave the due index, so the claim never walks past them.
UPDATE webhook_deliveries SET next_attempt_at = NULL WHERE endpoint_id = $1::int AND status = 'pending'

-- name: resume-pending
-- Enabled again: what was waiting is due at once.
UPDATE webhook_deliveries SET next_attempt_at = now()
WHERE endpoint_id = $1::int AND status = 'pending' AND next_attempt_at IS NULL AND kind <> 'ping'

-- name: queue-status-changes
-- After subscribers.change-status, in its transaction: $2 the status it set, $3 the event kind. The subscribers
-- it moved are those of bulk_targets with a history row to $2 written by this transaction (created_at = now()).
WITH moved AS MATERIALIZED (
    SELECT gen_random_uuid() AS event_id, s.id, s.email, s.list_id, h.source
    FROM bulk_targets t
    JOIN subscribers s ON s.id = t.id AND s.workspace_id = $1::int
    JOIN subscriber_status_changes h ON h.subscriber_id = t.id AND h.to_status = $2::text AND h.created_at = now()
)
INSERT INTO webhook_deliveries (workspace_id, endpoint_id, event_id, kind, payload, next_attempt_at)
SELECT $1::int, e.id, m.event_id, $3::text,
       jsonb_build_object('id', m.id, 'email', m.email, 'list_id', m.list_id, 'status', $2::text, 'source', m.source),
       now()
FROM moved m JOIN webhook_endpoints e ON e.workspace_id = $1::int AND e.enabled AND $3::text = ANY(e.events)

-- name: queue-engagement
-- People's opens and clicks of a tracking batch, in step: $1 workspaces, $2 event ids, $3 kinds, $4 deliveries,
-- $5 clicked links' indexes in the message, $6 per-recipient URLs clicked ('' for the message's own links), $7 times.
-- A transactional message's stream campaign is internal: its events name no campaign and carry the message's
-- metadata and tags instead.
INSERT INTO webhook_deliveries (workspace_id, endpoint_id, event_id, kind, payload, next_attempt_at)
SELECT ev.workspace_id, e.id, ev.event_id, ev.kind,
       jsonb_build_object('email', d.email, 'message_id', d.id, 'delivery_id', d.id,
                          'campaign_id', CASE WHEN d.transactional THEN NULL ELSE d.campaign_id END,
                          'subscriber_id', d.subscriber_id, 'transactional', d.transactional, 'at', ev.at)
       || jsonb_strip_nulls(jsonb_build_object('link', ev.link, 'url', NULLIF(ev.url, '')))
       || CASE WHEN m.id IS NULL THEN '{}'::jsonb
               ELSE jsonb_build_object('metadata', m.metadata, 'tags', to_jsonb(m.tags)) END,
       now()
FROM unnest($1::int[], $2::uuid[], $3::text[], $4::bigint[], $5::smallint[], $6::text[], $7::timestamptz[])
    AS ev(workspace_id, event_id, kind, delivery_id, link, url, at)
JOIN deliveries d ON d.id = ev.delivery_id AND d.workspace_id = ev.workspace_id
LEFT JOIN transactional_messages m ON d.transactional AND m.id = d.id AND m.workspace_id = d.workspace_id
JOIN webhook_endpoints e ON e.workspace_id = ev.workspace_id AND e.enabled AND ev.kind = ANY(e.events)

-- name: queue-feedback
-- A bounce or complaint ($3 the kind) of delivery $4, with what the report said ($5, JSON): shaped like the
-- engagement events, so a transactional message's names no campaign and carries its metadata and tags.
INSERT INTO webhook_deliveries (workspace_id, endpoint_id, event_id, kind, payload, next_attempt_at)
SELECT $1::int, e.id, $2::uuid, $3::text,
       jsonb_build_object('email', d.email, 'message_id', d.id, 'delivery_id', d.id,
                          'campaign_id', CASE WHEN d.transactional THEN NULL ELSE d.campaign_id END,
                          'subscriber_id', d.subscriber_id, 'transactional', d.transactional)
       || $5::text::jsonb
       || CASE WHEN m.id IS NULL THEN '{}'::jsonb
               ELSE jsonb_build_object('metadata', m.metadata, 'tags', to_jsonb(m.tags)) END,
       now()
FROM deliveries d
LEFT JOIN transactional_messages m ON d.transactional AND m.id = d.id AND m.workspace_id = d.workspace_id
JOIN webhook_endpoints e ON e.workspace_id = $1::int AND e.enabled AND $3::text = ANY(e.events)
WHERE d.id = $4::bigint AND d.workspace_id = $1::int

-- name: bring-forward
-- Replaying event $3 while a delivery of it to endpoint $2 still waits for a retry: that retry is due now
-- (a parked one, of a disabled endpoint, stays parked), so the event is never posted twice.
UPDATE webhook_deliveries SET next_attempt_at = CASE WHEN next_attempt_at IS NOT NULL THEN least(next_attempt_at, now()) END
WHERE id = (SELECT id FROM webhook_deliveries
            WHERE workspace_id = $1::int AND endpoint_id = $2::int AND event_id = $3::uuid AND status = 'pending'
            ORDER BY id DESC LIMIT 1 FOR UPDATE)
RETURNING *

-- name: forget-old
-- Up to $2 deliveries created more than $1 days ago and done with (delivered or failed), oldest first.
DELETE FROM webhook_deliveries WHERE id IN (
    SELECT id FROM webhook_deliveries
    WHERE created_at < now() - make_interval(days => $1::int) AND status <> 'pending'
    ORDER BY created_at LIMIT $2::int
)
RETURNING 1
