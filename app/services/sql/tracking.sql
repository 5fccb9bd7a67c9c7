-- Tracking: a batch of opens and clicks from the Redis stream into events and the counts, in one statement.

-- name: record
-- $1 stream entry ids, $2 workspaces, $3 campaigns, $4 deliveries, $5 kinds, $6 link indexes (null for
-- opens), $7 URLs (per-recipient links), $8 meta as JSON text, $9 times. Events whose delivery is not
-- that campaign's in that workspace are dropped; an entry already stored (same stream id and time) is
-- skipped, and only the events inserted now count towards the delivery, campaign and subscriber figures.
-- One UPDATE of subscribers per batch, and only of rows whose last open or click moves forward, because
-- the statement trigger on subscribers joins the old and new rows of every update to recount lists.
-- Returns the events inserted, the subscribers updated and each campaign's figures as they now stand.
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
           count(*) FILTER (WHERE i.kind = 'open') AS opens, count(*) FILTER (WHERE i.kind = 'click') AS clicks,
           min(i.occurred_at) FILTER (WHERE i.kind = 'open') AS first_open,
           max(i.occurred_at) FILTER (WHERE i.kind = 'open') AS last_open,
           min(i.occurred_at) FILTER (WHERE i.kind = 'click') AS first_click,
           max(i.occurred_at) FILTER (WHERE i.kind = 'click') AS last_click
    FROM inserted i GROUP BY i.delivery_id
), compared AS (
    -- The counts before this batch: aggregators take turns (an advisory lock), so this is the latest.
    SELECT p.*, coalesce(e.opens, 0) AS had_opens, coalesce(e.clicks, 0) AS had_clicks
    FROM per_delivery p LEFT JOIN delivery_engagement e ON e.delivery_id = p.delivery_id
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
), counted AS (
    INSERT INTO campaign_engagement AS c (campaign_id, workspace_id, opens, unique_opens, clicks, unique_clicks)
    SELECT campaign_id, min(workspace_id), sum(opens), count(*) FILTER (WHERE opens > 0 AND had_opens = 0),
           sum(clicks), count(*) FILTER (WHERE clicks > 0 AND had_clicks = 0)
    FROM compared GROUP BY campaign_id
    ON CONFLICT (campaign_id) DO UPDATE SET
        opens = c.opens + excluded.opens, unique_opens = c.unique_opens + excluded.unique_opens,
        clicks = c.clicks + excluded.clicks, unique_clicks = c.unique_clicks + excluded.unique_clicks,
        updated_at = now()
    RETURNING c.workspace_id, c.campaign_id, c.opens, c.unique_opens, c.clicks, c.unique_clicks
), touched AS (
    UPDATE subscribers s SET last_open_at = greatest(s.last_open_at, x.opened),
                             last_click_at = greatest(s.last_click_at, x.clicked)
    FROM (
        SELECT subscriber_id, min(workspace_id) AS workspace_id,
               max(occurred_at) FILTER (WHERE kind = 'open') AS opened,
               max(occurred_at) FILTER (WHERE kind = 'click') AS clicked
        FROM inserted WHERE subscriber_id IS NOT NULL GROUP BY subscriber_id
    ) x
    WHERE s.id = x.subscriber_id AND s.workspace_id = x.workspace_id
      AND (x.opened > coalesce(s.last_open_at, '-infinity') OR x.clicked > coalesce(s.last_click_at, '-infinity'))
    RETURNING s.id
)
SELECT (SELECT count(*) FROM inserted) AS recorded, (SELECT count(*) FROM touched) AS subscribers,
       (SELECT coalesce(json_agg(counted), '[]') FROM counted)::text AS campaigns

-- name: campaign-figures
-- $1 workspace, $2 campaign: the campaign page's figures when Redis has lost its copy.
SELECT opens, unique_opens, clicks, unique_clicks, machine_opens, bot_clicks, web_views, unsubscribes,
       conversions, revenue FROM campaign_engagement
WHERE workspace_id = $1::integer AND campaign_id = $2::integer

-- name: ensure-partitions
-- $1 months ahead: the monthly partitions of events from this month on.
SELECT ensure_events_partition((now() + make_interval(months => n))::date) AS name
FROM generate_series(0, $1::integer) n
