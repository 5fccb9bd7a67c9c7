-- Rollups: the writers' facts (see add_performance in migrations/m2026_12_06_0100_rollups.py) and the
-- recomputation of a range from the raw tables. Each fact's moment is the one stored on its raw row, so a
-- rollup and its recomputation put it in the same hour.
--
-- What each measure counts, here and in the writers that embed the same facts:
-- sent / failed      deliveries written back as sent (at sent_at) or failed (at updated_at);
-- deferred           the temporary refusals before that outcome (attempts - 1), counted with the outcome;
-- hard, soft, block, complaints   bounces matched to a delivery, at occurred_at (category as classified);
-- human_opens, machine_opens, human_clicks, bot_clicks   events of those kinds, at occurred_at;
-- unique_opens, unique_clicks    deliveries at their first human open / click (delivery_engagement);
-- unsubscribes       a person's first unsubscribe through a campaign's message (the campaign's figure);
-- conversions, revenue   postbacks, at created_at.
-- Server, domain group and campaign are the delivery's, 0 / '' when unknown.

-- name: count-outcomes
-- $1 workspace, $2 delivery ids just written back: the sent and failed ones, with the deferrals before them.
SELECT add_performance(array_agg(ROW(d.workspace_id,
                                     CASE WHEN d.status = 'sent' THEN d.sent_at ELSE d.updated_at END,
                                     d.server_id, d.domain_group, d.campaign_id, m.measure, m.n)::performance_fact))
       AS touched
FROM deliveries d
CROSS JOIN LATERAL (VALUES (d.status, 1), ('deferred', greatest(d.attempts - 1, 0))) AS m(measure, n)
WHERE d.workspace_id = $1::integer AND d.id = ANY($2::bigint[]) AND d.status IN ('sent', 'failed')

-- name: count-bounces
-- $1 workspace, $2 bounce ids just stored or reclassified: those matched to a delivery, in a counted category.
SELECT add_performance(array_agg(ROW(b.workspace_id, b.occurred_at, b.server_id, b.domain_group, b.campaign_id,
                                     CASE b.category WHEN 'complaint' THEN 'complaints' ELSE b.category END,
                                     1)::performance_fact)) AS touched
FROM bounces b
WHERE b.workspace_id = $1::integer AND b.id = ANY($2::bigint[]) AND b.delivery_id IS NOT NULL
  AND b.category IN ('hard', 'soft', 'block', 'complaint')

-- name: forget
-- $1 first moment, $2 first moment after (both at midnight UTC), $3 workspace (null: every workspace): the
-- rollups of the range, before they are recomputed.
WITH hours AS (
    DELETE FROM performance_hours
    WHERE hour >= $1::timestamptz AND hour < $2::timestamptz AND ($3::integer IS NULL OR workspace_id = $3::integer)
    RETURNING 1
), days AS (
    DELETE FROM performance_days
    WHERE day >= ($1::timestamptz AT TIME ZONE 'UTC')::date AND day < ($2::timestamptz AT TIME ZONE 'UTC')::date
      AND ($3::integer IS NULL OR workspace_id = $3::integer)
    RETURNING 1
), conversion_rows AS (
    DELETE FROM conversion_days
    WHERE day >= ($1::timestamptz AT TIME ZONE 'UTC')::date AND day < ($2::timestamptz AT TIME ZONE 'UTC')::date
      AND ($3::integer IS NULL OR workspace_id = $3::integer)
    RETURNING 1
)
SELECT (SELECT count(*) FROM hours) AS hours, (SELECT count(*) FROM days) AS days,
       (SELECT count(*) FROM conversion_rows) AS conversion_days

-- name: recompute
-- $1 first moment, $2 first moment after, $3 workspace (null: every workspace): every fact of the range from
-- the raw tables, summed per hour before it is added (the rows of the range were just forgotten).
WITH raw AS (
    SELECT d.workspace_id, CASE WHEN d.status = 'sent' THEN d.sent_at ELSE d.updated_at END AS at, d.server_id,
           d.domain_group, d.campaign_id, m.measure, m.n::numeric AS n
    FROM deliveries d
    CROSS JOIN LATERAL (VALUES (d.status, 1), ('deferred', greatest(d.attempts - 1, 0))) AS m(measure, n)
    WHERE ($3::integer IS NULL OR d.workspace_id = $3::integer)
      AND ((d.status = 'sent' AND d.sent_at >= $1::timestamptz AND d.sent_at < $2::timestamptz)
           OR (d.status = 'failed' AND d.updated_at >= $1::timestamptz AND d.updated_at < $2::timestamptz))
    UNION ALL
    SELECT b.workspace_id, b.occurred_at, b.server_id, b.domain_group, b.campaign_id,
           CASE b.category WHEN 'complaint' THEN 'complaints' ELSE b.category END, 1
    FROM bounces b
    WHERE ($3::integer IS NULL OR b.workspace_id = $3::integer) AND b.delivery_id IS NOT NULL
      AND b.category IN ('hard', 'soft', 'block', 'complaint')
      AND b.occurred_at >= $1::timestamptz AND b.occurred_at < $2::timestamptz
    UNION ALL
    SELECT e.workspace_id, e.occurred_at, d.server_id, d.domain_group, d.campaign_id,
           CASE e.kind WHEN 'open' THEN 'human_opens' WHEN 'machine_open' THEN 'machine_opens'
                       WHEN 'click' THEN 'human_clicks' ELSE 'bot_clicks' END, 1
    FROM events e
    JOIN deliveries d ON d.id = e.delivery_id AND d.workspace_id = e.workspace_id AND d.campaign_id = e.campaign_id
    WHERE ($3::integer IS NULL OR e.workspace_id = $3::integer)
      AND e.kind IN ('open', 'machine_open', 'click', 'bot_click')
      AND e.occurred_at >= $1::timestamptz AND e.occurred_at < $2::timestamptz
    UNION ALL
    SELECT g.workspace_id, u.at, d.server_id, d.domain_group, d.campaign_id, u.measure, 1
    FROM delivery_engagement g
    JOIN deliveries d ON d.id = g.delivery_id AND d.workspace_id = g.workspace_id
    CROSS JOIN LATERAL (VALUES ('unique_opens', g.first_open_at), ('unique_clicks', g.first_click_at)) AS u(measure, at)
    WHERE ($3::integer IS NULL OR g.workspace_id = $3::integer)
      AND u.at >= $1::timestamptz AND u.at < $2::timestamptz
    UNION ALL
    SELECT e.workspace_id, e.occurred_at, d.server_id, d.domain_group, e.campaign_id::integer, 'unsubscribes', 1
    FROM events e
    LEFT JOIN deliveries d ON d.id = e.delivery_id AND d.workspace_id = e.workspace_id
    WHERE ($3::integer IS NULL OR e.workspace_id = $3::integer) AND e.kind = 'unsubscribe'
      AND e.campaign_id IS NOT NULL AND e.occurred_at >= $1::timestamptz AND e.occurred_at < $2::timestamptz
      AND NOT EXISTS (
          SELECT 1 FROM events p
          WHERE p.campaign_id = e.campaign_id AND p.kind = 'unsubscribe' AND p.subscriber_id = e.subscriber_id
            AND p.workspace_id = e.workspace_id AND (p.occurred_at, p.id) < (e.occurred_at, e.id))
    UNION ALL
    SELECT c.workspace_id, c.created_at, c.server_id, d.domain_group, c.campaign_id, m.measure, m.n
    FROM conversions c
    LEFT JOIN deliveries d ON d.id = c.delivery_id AND d.workspace_id = c.workspace_id
    CROSS JOIN LATERAL (VALUES ('conversions', 1::numeric), ('revenue', c.revenue)) AS m(measure, n)
    WHERE ($3::integer IS NULL OR c.workspace_id = $3::integer)
      AND c.created_at >= $1::timestamptz AND c.created_at < $2::timestamptz
), summed AS (
    SELECT workspace_id, date_trunc('hour', at, 'UTC') AS at, server_id, domain_group, campaign_id, measure,
           sum(n) AS n
    FROM raw GROUP BY 1, 2, 3, 4, 5, 6
)
SELECT add_performance(array_agg(ROW(workspace_id, at, server_id, domain_group, campaign_id, measure, n)
                                 ::performance_fact)) AS touched
FROM summed

-- name: recompute-conversion-days
-- $1 first moment, $2 first moment after, $3 workspace (null: every workspace): conversions per day,
-- campaign, server, the subscriber's list and offer, from the conversions of the range.
INSERT INTO conversion_days (workspace_id, day, campaign_id, server_id, list_id, offer_id, conversions, revenue)
SELECT c.workspace_id, (c.created_at AT TIME ZONE 'UTC')::date, coalesce(c.campaign_id, 0),
       coalesce(c.server_id, 0), coalesce(s.list_id, 0), c.offer_id, count(*), sum(c.revenue)
FROM conversions c
LEFT JOIN subscribers s ON s.id = c.subscriber_id AND s.workspace_id = c.workspace_id
WHERE ($3::integer IS NULL OR c.workspace_id = $3::integer)
  AND c.created_at >= $1::timestamptz AND c.created_at < $2::timestamptz
GROUP BY 1, 2, 3, 4, 5, 6
