-- Tracking: a batch of events from the Redis stream into events and the counts, in one statement; the
-- engagement score's decay.

-- name: record
-- $1 stream entry ids, $2 workspaces, $3 campaigns, $4 deliveries, $5 kinds (open, click, machine_open,
-- bot_click, web_view), $6 link indexes (null but for clicks), $7 URLs (per-recipient links), $8 meta as JSON
-- text, $9 times; $10 to $14 the engagement score's points and half-life (app/services/tracking/engagement.py).
-- Events whose delivery is not that campaign's in that workspace are dropped; an entry already stored (same
-- stream id and time) is skipped, and only the events inserted now count towards the figures.
-- Only human opens and clicks (kinds open, click) count as unique, move a delivery's and a subscriber's
-- opens and clicks and raise the engagement score; machine opens, bot clicks and web views have their own
-- campaign figures. One UPDATE of subscribers per batch, because the statement trigger on subscribers
-- joins the old and new rows of every update to recount lists.
-- The Analytics rollups (performance_hours / _days) move in the same statement.
-- Returns the events inserted, the subscribers updated and, for each campaign, its figures as they now
-- stand with its name and what this batch added (`batch`).
WITH batch AS (
    SELECT * FROM unnest($1::text[], $2::integer[], $3::integer[], $4::bigint[], $5::text[], $6::smallint[],
                         $7::text[], $8::text[], $9::timestamptz[]) WITH ORDINALITY
        AS b(stream_id, workspace_id, campaign_id, delivery_id, kind, link_index, url, meta, occurred_at, position)
), inserted AS (
    INSERT INTO events (workspace_id, subscriber_id, campaign_id, delivery_id, kind, url, meta, occurred_at,
                        stream_id, link_index)
    SELECT b.workspace_id, d.subscriber_id, b.campaign_id, b.delivery_id, b.kind, b.url, b.meta::jsonb,
           b.occurred_at, b.stream_id, b.link_index
    FROM batch b
    JOIN deliveries d ON d.id = b.delivery_id AND d.workspace_id = b.workspace_id AND d.campaign_id = b.campaign_id
    -- Ids in stream order, so a timeline that sorts by time then id shows them as they happened.
    ORDER BY b.position
    ON CONFLICT (stream_id, occurred_at) DO NOTHING
    RETURNING workspace_id, subscriber_id, campaign_id, delivery_id, kind, occurred_at
), per_delivery AS (
    SELECT i.delivery_id, min(i.workspace_id) AS workspace_id, min(i.campaign_id)::integer AS campaign_id,
           min(i.subscriber_id) AS subscriber_id,
           count(*) FILTER (WHERE i.kind = 'open') AS opens, count(*) FILTER (WHERE i.kind = 'click') AS clicks,
           count(*) FILTER (WHERE i.kind = 'machine_open') AS machine_opens,
           count(*) FILTER (WHERE i.kind = 'bot_click') AS bot_clicks,
           count(*) FILTER (WHERE i.kind = 'web_view') AS web_views,
           min(i.occurred_at) FILTER (WHERE i.kind = 'open') AS first_open,
           max(i.occurred_at) FILTER (WHERE i.kind = 'open') AS last_open,
           min(i.occurred_at) FILTER (WHERE i.kind = 'click') AS first_click,
           max(i.occurred_at) FILTER (WHERE i.kind = 'click') AS last_click
    FROM inserted i GROUP BY i.delivery_id
), compared AS (
    -- The counts before this batch: aggregators take turns (an advisory lock), so this is the latest.
    SELECT p.*, coalesce(e.opens, 0) AS had_opens, coalesce(e.clicks, 0) AS had_clicks
    FROM per_delivery p LEFT JOIN delivery_engagement e ON e.delivery_id = p.delivery_id
), rolled AS (
    -- The Analytics rollups (rollups.sql says what each measure counts): each event at its moment, and a
    -- delivery's first human open and click at theirs.
    SELECT add_performance(array_agg(ROW(f.workspace_id, f.at, d.server_id, d.domain_group, d.campaign_id,
                                         f.measure, 1)::performance_fact)) AS touched
    FROM (
        SELECT workspace_id, delivery_id, occurred_at AS at,
               CASE kind WHEN 'open' THEN 'human_opens' WHEN 'machine_open' THEN 'machine_opens'
                         WHEN 'click' THEN 'human_clicks' ELSE 'bot_clicks' END AS measure
        FROM inserted WHERE kind IN ('open', 'machine_open', 'click', 'bot_click')
        UNION ALL
        SELECT workspace_id, delivery_id, first_open, 'unique_opens' FROM compared WHERE opens > 0 AND had_opens = 0
        UNION ALL
        SELECT workspace_id, delivery_id, first_click, 'unique_clicks' FROM compared
        WHERE clicks > 0 AND had_clicks = 0
    ) f
    JOIN deliveries d ON d.id = f.delivery_id AND d.workspace_id = f.workspace_id
), engaged AS (
    INSERT INTO delivery_engagement AS e (delivery_id, workspace_id, campaign_id, opens, clicks, first_open_at,
                                          last_open_at, first_click_at, last_click_at)
    SELECT delivery_id, workspace_id, campaign_id, opens, clicks, first_open, last_open, first_click, last_click
    FROM compared WHERE opens > 0 OR clicks > 0
    ON CONFLICT (delivery_id) DO UPDATE SET
        opens = e.opens + excluded.opens, clicks = e.clicks + excluded.clicks,
        first_open_at = least(e.first_open_at, excluded.first_open_at),
        last_open_at = greatest(e.last_open_at, excluded.last_open_at),
        first_click_at = least(e.first_click_at, excluded.first_click_at),
        last_click_at = greatest(e.last_click_at, excluded.last_click_at)
), news AS (
    SELECT campaign_id, min(workspace_id) AS workspace_id, sum(opens) AS opens,
           count(*) FILTER (WHERE opens > 0 AND had_opens = 0) AS unique_opens, sum(clicks) AS clicks,
           count(*) FILTER (WHERE clicks > 0 AND had_clicks = 0) AS unique_clicks,
           sum(machine_opens) AS machine_opens, sum(bot_clicks) AS bot_clicks, sum(web_views) AS web_views
    FROM compared GROUP BY campaign_id
), counted AS (
    INSERT INTO campaign_engagement AS c (campaign_id, workspace_id, opens, unique_opens, clicks, unique_clicks,
                                          machine_opens, bot_clicks, web_views)
    SELECT campaign_id, workspace_id, opens, unique_opens, clicks, unique_clicks, machine_opens, bot_clicks,
           web_views
    FROM news
    ON CONFLICT (campaign_id) DO UPDATE SET
        opens = c.opens + excluded.opens, unique_opens = c.unique_opens + excluded.unique_opens,
        clicks = c.clicks + excluded.clicks, unique_clicks = c.unique_clicks + excluded.unique_clicks,
        machine_opens = c.machine_opens + excluded.machine_opens, bot_clicks = c.bot_clicks + excluded.bot_clicks,
        web_views = c.web_views + excluded.web_views, updated_at = now()
    RETURNING c.workspace_id, c.campaign_id, c.opens, c.unique_opens, c.clicks, c.unique_clicks, c.machine_opens,
              c.bot_clicks, c.web_views
), scored AS (
    -- Each subscriber's points from this batch's human opens and clicks (a message's first counts most).
    SELECT subscriber_id, min(workspace_id) AS workspace_id, max(last_open) AS opened, max(last_click) AS clicked,
           sum(CASE WHEN opens = 0 THEN 0 WHEN had_opens = 0 THEN $10::integer + (opens - 1) * $11::integer
                    ELSE opens * $11::integer END
               + CASE WHEN clicks = 0 THEN 0 WHEN had_clicks = 0 THEN $12::integer + (clicks - 1) * $13::integer
                      ELSE clicks * $13::integer END) AS points
    FROM compared WHERE subscriber_id IS NOT NULL AND (opens > 0 OR clicks > 0) GROUP BY subscriber_id
), touched AS (
    -- The stored score decays (halving every $14 seconds) from when it was worked out to the newest event.
    UPDATE subscribers s SET last_open_at = greatest(s.last_open_at, x.opened),
        last_click_at = greatest(s.last_click_at, x.clicked),
        engagement_score = least(100, round(s.engagement_score * power(0.5, greatest(0, extract(epoch FROM
            greatest(x.opened, x.clicked) - coalesce(s.engagement_scored_at, greatest(x.opened, x.clicked))))::float8
            / $14::integer) + x.points))::smallint,
        engagement_scored_at = greatest(s.engagement_scored_at, x.opened, x.clicked)
    FROM scored x
    WHERE s.id = x.subscriber_id AND s.workspace_id = x.workspace_id
    RETURNING s.id
)
SELECT (SELECT count(*) FROM inserted) AS recorded, (SELECT count(*) FROM touched) AS subscribers,
       (SELECT touched FROM rolled) AS rolled,
       (SELECT coalesce(json_agg(to_jsonb(c) || jsonb_build_object('name', k.name, 'batch', to_jsonb(n))), '[]')
        FROM counted c JOIN news n ON n.campaign_id = c.campaign_id
        JOIN campaigns k ON k.id = c.campaign_id AND k.workspace_id = c.workspace_id)::text AS campaigns

-- name: campaign-figures
-- $1 workspace, $2 campaign: the campaign page's figures when Redis has lost its copy.
SELECT opens, unique_opens, clicks, unique_clicks, machine_opens, bot_clicks, web_views, unsubscribes,
       conversions, revenue FROM campaign_engagement
WHERE workspace_id = $1::integer AND campaign_id = $2::integer

-- name: ensure-partitions
-- $1 months ahead: the monthly partitions of events from this month on.
SELECT ensure_events_partition((now() + make_interval(months => n))::date) AS name
FROM generate_series(0, $1::integer) n

-- name: decay-scores
-- $1 workspace, $2 now, $3 half-life in seconds: every score decayed to now, written only where its rounded
-- value changes (a score left alone keeps its moment, so it is never decayed twice); a score without a
-- moment (copied or imported) gets one.
WITH decayed AS (
    SELECT id, CASE WHEN engagement_scored_at IS NULL THEN engagement_score
                    ELSE round(engagement_score * power(0.5, extract(epoch FROM $2::timestamptz - engagement_scored_at)
                                                             ::float8 / $3::integer))::smallint END AS score
    FROM subscribers
    WHERE workspace_id = $1::integer AND engagement_score > 0
      AND (engagement_scored_at IS NULL OR engagement_scored_at < $2::timestamptz)
), changed AS (
    UPDATE subscribers s SET engagement_score = d.score, engagement_scored_at = $2::timestamptz
    FROM decayed d
    WHERE s.id = d.id AND s.workspace_id = $1::integer
      AND (d.score <> s.engagement_score OR s.engagement_scored_at IS NULL)
    RETURNING s.id
)
SELECT count(*)::integer AS changed FROM changed
