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

-- name: timeline
-- $1 workspace, $2 the person's address, $3 $4 $5 the (time, rank, id) the page starts below (time null for
-- the newest page), $6 page size. Every events row of every subscriber row with that address, and every
-- message sent to it (rank 0: at one instant an event shows above its send), newest first.
WITH people AS (
    SELECT id FROM subscribers WHERE workspace_id = $1::integer AND email = $2::text
), happened AS (
    (SELECT e.occurred_at AS at, 1 AS rank, e.id, e.kind, e.campaign_id, e.delivery_id, e.url, e.link_index, e.meta
     FROM events e
     WHERE e.workspace_id = $1::integer AND e.subscriber_id IN (SELECT id FROM people)
       AND ($3::timestamptz IS NULL OR (e.occurred_at, 1, e.id) < ($3::timestamptz, $4::integer, $5::bigint))
     ORDER BY e.occurred_at DESC, e.id DESC LIMIT $6::integer)
    UNION ALL
    (SELECT d.sent_at, 0, d.id, 'sent', d.campaign_id, d.id, '', NULL::smallint, '{}'::jsonb
     FROM deliveries d
     WHERE d.workspace_id = $1::integer AND d.email = $2::text AND d.status = 'sent'
       AND ($3::timestamptz IS NULL OR (d.sent_at, 0, d.id) < ($3::timestamptz, $4::integer, $5::bigint))
     ORDER BY d.sent_at DESC, d.id DESC LIMIT $6::integer)
)
SELECT h.*, d.variant
FROM happened h LEFT JOIN deliveries d ON d.id = h.delivery_id AND d.workspace_id = $1::integer
ORDER BY h.at DESC, h.rank DESC, h.id DESC
LIMIT $6::integer

-- name: timeline-watermark
-- $1 workspace, $2 the person's address: the newest events row and the newest send, as a live page saw them.
SELECT coalesce((SELECT max(e.id) FROM events e
                 WHERE e.workspace_id = $1::integer AND e.subscriber_id IN (
                     SELECT id FROM subscribers WHERE workspace_id = $1::integer AND email = $2::text)), 0) AS event_id,
       (SELECT max(d.sent_at) FROM deliveries d
        WHERE d.workspace_id = $1::integer AND d.email = $2::text AND d.status = 'sent') AS sent_at

-- name: timeline-since
-- $1 workspace, $2 the person's address, $3 events rows after this id, $4 sends after this time (null: any),
-- $5 most of each. The oldest arrivals first in each part, so a watermark taken from them skips nothing;
-- shown newest first.
WITH people AS (
    SELECT id FROM subscribers WHERE workspace_id = $1::integer AND email = $2::text
), happened AS (
    (SELECT e.occurred_at AS at, 1 AS rank, e.id, e.kind, e.campaign_id, e.delivery_id, e.url, e.link_index, e.meta
     FROM events e
     WHERE e.workspace_id = $1::integer AND e.subscriber_id IN (SELECT id FROM people) AND e.id > $3::bigint
     ORDER BY e.id LIMIT $5::integer)
    UNION ALL
    (SELECT d.sent_at, 0, d.id, 'sent', d.campaign_id, d.id, '', NULL::smallint, '{}'::jsonb
     FROM deliveries d
     WHERE d.workspace_id = $1::integer AND d.email = $2::text AND d.status = 'sent'
       AND ($4::timestamptz IS NULL OR d.sent_at > $4::timestamptz)
     ORDER BY d.sent_at LIMIT $5::integer)
)
SELECT h.*, d.variant
FROM happened h LEFT JOIN deliveries d ON d.id = h.delivery_id AND d.workspace_id = $1::integer
ORDER BY h.at DESC, h.rank DESC, h.id DESC
