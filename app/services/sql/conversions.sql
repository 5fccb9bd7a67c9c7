-- Conversions from postbacks: stored once per (workspace, transaction id, event name), with their event
-- and the campaign's figures, in one statement.

-- name: record
-- $1 workspace, $2 transaction id, $3 event name, $4 delivery, $5 campaign, $6 subscriber, $7 server,
-- $8 offer id, $9 revenue, $10 currency, $11 sub-ids as JSON text, $12 the network's address.
-- A conversion already stored (a replay) inserts nothing, so no event and no figure moves; concurrent
-- replays wait on the unique index and find the first one stored. Returns the new conversion's id (null
-- for a replay) and the campaign's conversions and revenue as they now stand.
WITH inserted AS (
    INSERT INTO conversions (workspace_id, transaction_id, event_name, delivery_id, campaign_id, subscriber_id,
                             server_id, offer_id, revenue, currency, sub_ids, ip, created_at)
    VALUES ($1::integer, $2::text, $3::text, $4::bigint, $5::integer, $6::bigint, $7::integer, $8::text,
            $9::numeric, $10::text, $11::text::jsonb, $12::text, now())
    ON CONFLICT (workspace_id, transaction_id, event_name) DO NOTHING
    RETURNING id, workspace_id, delivery_id, campaign_id, subscriber_id, transaction_id, event_name, offer_id,
              revenue, currency, created_at
), recorded AS (
    INSERT INTO events (workspace_id, subscriber_id, campaign_id, delivery_id, kind, meta, occurred_at)
    SELECT workspace_id, subscriber_id, campaign_id, delivery_id, 'conversion',
           jsonb_build_object('conversion_id', id, 'transaction_id', transaction_id, 'event', event_name,
                              'offer_id', offer_id, 'revenue', revenue, 'currency', currency),
           created_at
    FROM inserted
), counted AS (
    INSERT INTO campaign_engagement AS c (campaign_id, workspace_id, conversions, revenue)
    SELECT campaign_id, workspace_id, 1, revenue FROM inserted
    ON CONFLICT (campaign_id) DO UPDATE SET
        conversions = c.conversions + 1, revenue = c.revenue + excluded.revenue, updated_at = now()
    RETURNING c.conversions, c.revenue
), rolled AS (
    -- The Analytics rollups: against the message's server and domain group, and per list and offer.
    SELECT add_performance(array_agg(ROW(i.workspace_id, i.created_at, $7::integer, d.domain_group, i.campaign_id,
                                         m.measure, m.n)::performance_fact)) AS touched
    FROM inserted i
    LEFT JOIN deliveries d ON d.id = i.delivery_id AND d.workspace_id = i.workspace_id
    CROSS JOIN LATERAL (VALUES ('conversions', 1::numeric), ('revenue', i.revenue)) AS m(measure, n)
), by_list AS (
    INSERT INTO conversion_days AS k (workspace_id, day, campaign_id, server_id, list_id, offer_id, conversions,
                                      revenue)
    SELECT i.workspace_id, (i.created_at AT TIME ZONE 'UTC')::date, coalesce(i.campaign_id, 0),
           coalesce($7::integer, 0), coalesce(s.list_id, 0), i.offer_id, 1, i.revenue
    FROM inserted i
    LEFT JOIN subscribers s ON s.id = i.subscriber_id AND s.workspace_id = i.workspace_id
    ON CONFLICT (workspace_id, day, campaign_id, server_id, list_id, offer_id) DO UPDATE SET
        conversions = k.conversions + 1, revenue = k.revenue + excluded.revenue
    RETURNING 1
)
SELECT (SELECT id FROM inserted) AS conversion_id, (SELECT conversions FROM counted) AS conversions,
       (SELECT revenue FROM counted) AS revenue, (SELECT touched FROM rolled) AS rolled,
       (SELECT count(*) FROM by_list) AS by_list

-- name: stored
-- $1 workspace, $2 transaction id, $3 event name: the conversion a replay repeats.
SELECT id FROM conversions
WHERE workspace_id = $1::integer AND transaction_id = $2::text AND event_name = $3::text

-- name: of-campaign
-- $1 workspace, $2 campaign, $3 before this id (null: from the newest), $4 how many: newest first.
SELECT c.id, c.transaction_id, c.event_name, c.offer_id, c.revenue, c.currency, c.delivery_id,
       c.subscriber_id, d.email, c.server_id, s.name AS server_name, c.sub_ids::text AS sub_ids, c.created_at
FROM conversions c
LEFT JOIN deliveries d ON d.id = c.delivery_id AND d.workspace_id = c.workspace_id
LEFT JOIN delivery_servers s ON s.id = c.server_id AND s.workspace_id = c.workspace_id
WHERE c.workspace_id = $1::integer AND c.campaign_id = $2::integer
  AND ($3::bigint IS NULL OR c.id < $3::bigint)
ORDER BY c.id DESC
LIMIT $4::integer
