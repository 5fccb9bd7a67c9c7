-- Bounce and complaint rates: hourly counters per (workspace, server, domain group, campaign), summed into
-- rolling windows. An unknown server or campaign is counted under 0 (see the migration).

-- name: count
-- $1 workspace, $2 servers, $3 domain groups, $4 campaigns, $5 categories, $6 counts (parallel arrays).
-- Rows of one key are summed first, so one statement never updates a counter twice; keys go in one order
-- (as in count-sent) so that transactions counting at the same time never deadlock.
INSERT INTO feedback_counts AS f (workspace_id, hour, server_id, domain_group, campaign_id,
                                  hard, soft, block, complaint)
SELECT $1::integer, date_trunc('hour', now()), server_id, domain_group, campaign_id,
       coalesce(sum(n) FILTER (WHERE category = 'hard'), 0), coalesce(sum(n) FILTER (WHERE category = 'soft'), 0),
       coalesce(sum(n) FILTER (WHERE category = 'block'), 0),
       coalesce(sum(n) FILTER (WHERE category = 'complaint'), 0)
FROM (
    SELECT coalesce(s, 0) AS server_id, coalesce(g, '') AS domain_group, coalesce(c, 0) AS campaign_id,
           category, coalesce(n, 0) AS n
    FROM unnest($2::integer[], $3::text[], $4::integer[], $5::text[], $6::integer[]) AS u(s, g, c, category, n)
) AS counted
GROUP BY server_id, domain_group, campaign_id
ORDER BY server_id, domain_group, campaign_id
ON CONFLICT (workspace_id, hour, server_id, domain_group, campaign_id) DO UPDATE SET
    hard = f.hard + excluded.hard, soft = f.soft + excluded.soft, block = f.block + excluded.block,
    complaint = f.complaint + excluded.complaint

-- name: count-sent
-- $1 workspace, $2 delivery ids just written back as sent: this hour's sent counters, per server, domain
-- group and campaign, read from the rows as stored. Keys go in one order so that batches writing back at
-- the same time lock the shared counters in the same order (no deadlock).
INSERT INTO feedback_counts AS f (workspace_id, hour, server_id, domain_group, campaign_id, sent)
SELECT $1::integer, date_trunc('hour', now()), coalesce(server_id, 0), domain_group, campaign_id, count(*)
FROM deliveries
WHERE workspace_id = $1::integer AND id = ANY($2::bigint[]) AND status = 'sent'
GROUP BY coalesce(server_id, 0), domain_group, campaign_id
ORDER BY 3, 4, 5
ON CONFLICT (workspace_id, hour, server_id, domain_group, campaign_id) DO UPDATE SET sent = f.sent + excluded.sent

-- name: of-pair
-- $1 workspace, $2 server, $3 domain group, $4 window: the pair's totals over the hours within the window.
SELECT coalesce(sum(sent), 0)::bigint AS sent, coalesce(sum(hard), 0)::bigint AS hard,
       coalesce(sum(soft), 0)::bigint AS soft, coalesce(sum(block), 0)::bigint AS block,
       coalesce(sum(complaint), 0)::bigint AS complaint
FROM feedback_counts
WHERE workspace_id = $1::integer AND server_id = $2::integer AND domain_group = $3::text
  AND hour > now() - $4::interval

-- name: of-campaign
-- $1 workspace, $2 campaign: the campaign's totals since it started.
SELECT coalesce(sum(sent), 0)::bigint AS sent, coalesce(sum(hard), 0)::bigint AS hard,
       coalesce(sum(soft), 0)::bigint AS soft, coalesce(sum(block), 0)::bigint AS block,
       coalesce(sum(complaint), 0)::bigint AS complaint
FROM feedback_counts
WHERE workspace_id = $1::integer AND campaign_id = $2::integer

-- name: by-pair
-- $1 workspace, $2 the short window, $3 the long window: every (server, domain group) with traffic or
-- reports in the long window, with its totals over both windows.
SELECT server_id, domain_group,
       coalesce(sum(sent) FILTER (WHERE hour > now() - $2::interval), 0)::bigint AS short_sent,
       coalesce(sum(hard) FILTER (WHERE hour > now() - $2::interval), 0)::bigint AS short_hard,
       coalesce(sum(soft) FILTER (WHERE hour > now() - $2::interval), 0)::bigint AS short_soft,
       coalesce(sum(block) FILTER (WHERE hour > now() - $2::interval), 0)::bigint AS short_block,
       coalesce(sum(complaint) FILTER (WHERE hour > now() - $2::interval), 0)::bigint AS short_complaint,
       sum(sent)::bigint AS long_sent, sum(hard)::bigint AS long_hard, sum(soft)::bigint AS long_soft,
       sum(block)::bigint AS long_block, sum(complaint)::bigint AS long_complaint
FROM feedback_counts
WHERE workspace_id = $1::integer AND hour > now() - $3::interval
GROUP BY server_id, domain_group
ORDER BY server_id, domain_group

-- name: forget-before
-- $1 moment: counters of the hours before it, which no rate reads any more.
WITH forgotten AS (DELETE FROM feedback_counts WHERE hour < $1::timestamptz RETURNING 1)
SELECT count(*)::integer AS forgotten FROM forgotten
