-- Bounce and complaint rates: hourly counters per (workspace, server, domain group, campaign), summed into
-- rolling windows. An unknown server or campaign is counted under 0 (see the migration).

-- name: count
-- $1 workspace, $2 servers, $3 domain groups, $4 campaigns, $5 categories, $6 counts (parallel arrays).
-- Rows of one key are summed first, so one statement never updates a counter twice.
INSERT INTO feedback_counts AS f (workspace_id, hour, server_id, domain_group, campaign_id,
                                  hard, soft, block, complaint)
SELECT $1::integer, date_trunc('hour', now()), server_id, domain_group, campaign_id,
       sum(n) FILTER (WHERE category = 'hard'), sum(n) FILTER (WHERE category = 'soft'),
       sum(n) FILTER (WHERE category = 'block'), sum(n) FILTER (WHERE category = 'complaint')
FROM (
    SELECT coalesce(s, 0) AS server_id, coalesce(g, '') AS domain_group, coalesce(c, 0) AS campaign_id,
           category, coalesce(n, 0) AS n
    FROM unnest($2::integer[], $3::text[], $4::integer[], $5::text[], $6::integer[]) AS u(s, g, c, category, n)
) AS counted
GROUP BY server_id, domain_group, campaign_id
ON CONFLICT (workspace_id, hour, server_id, domain_group, campaign_id) DO UPDATE SET
    hard = f.hard + coalesce(excluded.hard, 0), soft = f.soft + coalesce(excluded.soft, 0),
    block = f.block + coalesce(excluded.block, 0), complaint = f.complaint + coalesce(excluded.complaint, 0)
