-- Engagement as the campaign and subscriber pages show it: the click map and a person's timeline.

-- name: click-map
-- $1 workspace, $2 campaign: human and robot clicks per link of a campaign that sent one message.
SELECT 0 AS variant, link_index, count(*) FILTER (WHERE kind = 'click') AS clicks,
       count(DISTINCT delivery_id) FILTER (WHERE kind = 'click') AS unique_clicks,
       count(*) FILTER (WHERE kind = 'bot_click') AS bot_clicks
FROM events
WHERE workspace_id = $1::integer AND campaign_id = $2::bigint AND kind IN ('click', 'bot_click')
  AND link_index IS NOT NULL
GROUP BY link_index

-- name: click-map-by-variant
-- $1 workspace, $2 campaign: the same per variant of a content A/B test (each variant sent its own links).
SELECT d.variant, e.link_index, count(*) FILTER (WHERE e.kind = 'click') AS clicks,
       count(DISTINCT e.delivery_id) FILTER (WHERE e.kind = 'click') AS unique_clicks,
       count(*) FILTER (WHERE e.kind = 'bot_click') AS bot_clicks
FROM events e
JOIN deliveries d ON d.id = e.delivery_id AND d.workspace_id = e.workspace_id
WHERE e.workspace_id = $1::integer AND e.campaign_id = $2::bigint AND e.kind IN ('click', 'bot_click')
  AND e.link_index IS NOT NULL
GROUP BY d.variant, e.link_index
