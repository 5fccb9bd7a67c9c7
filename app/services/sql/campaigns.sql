-- Campaign sending: claiming batches with a lease, writing outcomes back, and the reaper's sweeps.
-- Rows still in play (queued, claimed, deferred) are found through deliveries_open_idx (campaign_id, id),
-- so none of these reads the rows a campaign has already sent.

-- name: claim-batch
-- $1 workspace, $2 campaign, $3 first delivery id, $4 last delivery id, $5 lease in seconds.
-- Nothing is claimed unless the campaign is sending: pausing or cancelling stops claims at once. A row is
-- claimed only once its time has come, queued (a recipient's local time, best hour, window) or deferred.
WITH due AS (
    SELECT d.id FROM deliveries d
    WHERE d.workspace_id = $1::integer AND d.campaign_id = $2::integer AND d.id BETWEEN $3::bigint AND $4::bigint
      AND d.status IN ('queued', 'deferred') AND d.next_attempt_at <= now()
      AND EXISTS (SELECT 1 FROM campaigns c WHERE c.id = $2::integer AND c.workspace_id = $1::integer
                  AND c.status = 'sending')
    FOR UPDATE OF d SKIP LOCKED
)
UPDATE deliveries d SET status = 'claimed', lease_until = now() + make_interval(secs => $5::integer),
    updated_at = now()
FROM due WHERE d.id = due.id
RETURNING d.id, d.subscriber_id, d.email, d.variant, d.attempts

-- name: record-outcomes
-- $1 workspace, then one array per column: ids, statuses, server ids, domain groups, attempts to add,
-- answers, provider message ids, seconds until the next attempt (for deferred rows, and rows put back to
-- wait for their sending window or the campaign's speed limit). A row put back (queued) or deferred in a
-- campaign cancelled meanwhile is cancelled instead.
UPDATE deliveries d SET
    status = CASE WHEN c.status = 'cancelled' AND o.status IN ('queued', 'deferred') THEN 'cancelled'
                  ELSE o.status END,
    server_id = coalesce(o.server_id, d.server_id),
    domain_group = coalesce(nullif(o.domain_group, ''), d.domain_group), attempts = d.attempts + o.attempted,
    last_answer = o.answer, provider_message_id = o.provider_id,
    next_attempt_at = CASE WHEN o.status = 'deferred' OR (o.status = 'queued' AND o.wait > 0)
                           THEN now() + make_interval(secs => o.wait)
                           ELSE d.next_attempt_at END,
    sent_at = CASE WHEN o.status = 'sent' THEN now() ELSE d.sent_at END,
    lease_until = NULL, updated_at = now()
FROM unnest($2::bigint[], $3::text[], $4::integer[], $5::text[], $6::integer[], $7::text[], $8::text[],
            $9::float8[]) AS o(id, status, server_id, domain_group, attempted, answer, provider_id, wait),
     campaigns c
WHERE d.id = o.id AND d.workspace_id = $1::integer AND d.status = 'claimed' AND c.id = d.campaign_id
RETURNING d.id, d.status

-- name: due-ranges
-- $1 workspace, $2 campaign, $3 batch size: the rows a send actor could claim now, as ranges of ids.
SELECT min(id) AS first_id, max(id) AS last_id FROM (
    SELECT id, (row_number() OVER (ORDER BY id) - 1) / $3::integer AS batch FROM deliveries
    WHERE workspace_id = $1::integer AND campaign_id = $2::integer
      AND status IN ('queued', 'deferred') AND next_attempt_at <= now()
) due GROUP BY batch ORDER BY 1

-- name: fallen-due-ranges
-- $1 workspace, $2 campaign, $3 batch size, $4 the previous sweep: queued rows that came due since then,
-- as ranges of ids; one row with null ids when none did. swept_at is where the next sweep starts.
SELECT r.first_id, r.last_id, now() AS swept_at FROM (SELECT 1) one LEFT JOIN (
    SELECT min(id) AS first_id, max(id) AS last_id FROM (
        SELECT id, (row_number() OVER (ORDER BY id) - 1) / $3::integer AS batch FROM deliveries
        WHERE workspace_id = $1::integer AND campaign_id = $2::integer AND status = 'queued'
          AND next_attempt_at > $4::timestamptz AND next_attempt_at <= now()
    ) due GROUP BY batch
) r ON true ORDER BY r.first_id

-- name: expire-leases
-- Claims whose worker died: back to the queue for the reaper to hand out again (cancelled, when their
-- campaign was). Across workspaces.
UPDATE deliveries d SET status = CASE WHEN c.status = 'cancelled' THEN 'cancelled' ELSE 'queued' END,
    lease_until = NULL, updated_at = now()
FROM campaigns c
WHERE d.status = 'claimed' AND d.lease_until < now() AND c.id = d.campaign_id
RETURNING d.workspace_id, d.campaign_id, d.id, d.status

-- name: cancel-open
-- $1 workspace, $2 campaign: every row not yet handed to a worker (an A/B test's held rest too) is cancelled.
WITH cancelled AS (
    UPDATE deliveries SET status = 'cancelled', last_answer = 'campaign cancelled', updated_at = now()
    WHERE workspace_id = $1::integer AND campaign_id = $2::integer AND status IN ('queued', 'deferred', 'held')
    RETURNING 1
)
SELECT count(*) AS n FROM cancelled

-- name: finish
-- $1 workspace, $2 campaign: sent once every row is written and none is left in play (a flow step's campaign
-- never finishes).
UPDATE campaigns c SET status = 'sent', finished_at = now(), updated_at = now()
WHERE c.id = $2::integer AND c.workspace_id = $1::integer AND c.status = 'sending' AND c.kind = 'campaign'
  AND c.materialised_at IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.campaign_id = $2::integer
                  AND d.status IN ('queued', 'claimed', 'deferred', 'held'))
RETURNING c.id

-- name: status-counts
-- $1 workspace, $2 campaign: the exact figures, read once when a campaign ends (pages read the counters).
SELECT status, server_id, domain_group, count(*) AS n FROM deliveries
WHERE workspace_id = $1::integer AND campaign_id = $2::integer
GROUP BY status, server_id, domain_group
