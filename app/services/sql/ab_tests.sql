-- A/B tests: the figures of each variant, the tests whose wait is over, and the held rest released to the winner.

-- name: figures
-- $1 workspace, $2 campaign, $3 event kind ('open', 'click', 'conversion'): per variant of the test share,
-- its deliveries, those sent, and those sent with at least one such event. Held rows are variant 0.
SELECT d.variant, count(*) AS recipients, count(*) FILTER (WHERE d.status = 'sent') AS sent,
       count(e.delivery_id) FILTER (WHERE d.status = 'sent') AS successes
FROM deliveries d
LEFT JOIN (SELECT DISTINCT delivery_id FROM events
           WHERE workspace_id = $1::integer AND campaign_id = $2::integer AND kind = $3::text) e
       ON e.delivery_id = d.id
WHERE d.workspace_id = $1::integer AND d.campaign_id = $2::integer AND d.variant > 0
GROUP BY d.variant ORDER BY d.variant

-- name: due
-- Tests across workspaces whose wait since the campaign started is over and whose winner is not chosen yet.
SELECT id, workspace_id FROM campaigns
WHERE ab_dimension <> '' AND ab_decided_at IS NULL AND status IN ('sending', 'paused', 'sent')
  AND started_at + make_interval(mins => ab_wait_minutes) <= now()
ORDER BY started_at

-- name: held-after-decision
-- Decided tests that still hold rows: the release was cut short, or a chunk was written after the decision.
SELECT c.id, c.workspace_id, c.ab_winner FROM campaigns c
WHERE c.ab_winner IS NOT NULL AND c.status IN ('sending', 'paused')
  AND EXISTS (SELECT 1 FROM deliveries d WHERE d.campaign_id = c.id AND d.status = 'held')

-- name: release-held
-- $1 workspace, $2 campaign, $3 winning variant, $4 most rows: held rows become queued rows of the winner.
WITH picked AS (
    SELECT id FROM deliveries
    WHERE workspace_id = $1::integer AND campaign_id = $2::integer AND status = 'held'
    ORDER BY id LIMIT $4::integer FOR UPDATE SKIP LOCKED
)
UPDATE deliveries d SET variant = $3::smallint, status = 'queued', updated_at = now()
FROM picked WHERE d.id = picked.id
RETURNING d.id

-- name: copy-variants
-- $1 workspace, $2 the campaign copied, $3 its copy: the variants as chosen, without their snapshots.
INSERT INTO campaign_variants (workspace_id, campaign_id, variant, subject, from_name, template_id)
SELECT workspace_id, $3::integer, variant, subject, from_name, template_id FROM campaign_variants
WHERE workspace_id = $1::integer AND campaign_id = $2::integer
