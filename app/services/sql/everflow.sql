-- Everflow's conversion records, upserted by each pull, and their reconciliation with the postbacks.

-- name: upsert
-- $1 workspace, $2 a page's records as a JSON array of objects with the columns below, one per conversion.
-- A record seen again (the windows overlap) replaces the stored one: a scrub, a rejection or a payout
-- changed since the last pull is what reconciliation looks for.
INSERT INTO everflow_conversions AS e (
    workspace_id, conversion_id, transaction_id, event_name, status, is_scrub, payout, revenue, sale_amount,
    currency, offer_id, sub1, sub2, sub3, sub4, sub5, converted_at, pulled_at)
SELECT $1::integer, r.conversion_id, r.transaction_id, r.event_name, r.status, r.is_scrub, r.payout, r.revenue,
       r.sale_amount, r.currency, r.offer_id, r.sub1, r.sub2, r.sub3, r.sub4, r.sub5,
       to_timestamp(r.converted_at), now()
FROM jsonb_to_recordset($2::text::jsonb) AS r(
    conversion_id text, transaction_id text, event_name text, status text, is_scrub boolean, payout numeric,
    revenue numeric, sale_amount numeric, currency text, offer_id text, sub1 text, sub2 text, sub3 text,
    sub4 text, sub5 text, converted_at bigint)
ON CONFLICT (workspace_id, conversion_id) DO UPDATE SET
    transaction_id = excluded.transaction_id, event_name = excluded.event_name, status = excluded.status,
    is_scrub = excluded.is_scrub, payout = excluded.payout, revenue = excluded.revenue,
    sale_amount = excluded.sale_amount, currency = excluded.currency, offer_id = excluded.offer_id,
    sub1 = excluded.sub1, sub2 = excluded.sub2, sub3 = excluded.sub3, sub4 = excluded.sub4, sub5 = excluded.sub5,
    converted_at = excluded.converted_at, pulled_at = excluded.pulled_at
RETURNING (xmax = 0) AS inserted

-- name: reconcile
-- $1 workspace, $2 since, $3 until, $4 cutoff: compares both sides' conversions of [since, until) by
-- transaction id and event name. A conversion on one side only is not called missing unless it is older than
-- the cutoff, a little behind the pull, as a postback follows Everflow's record by moments to minutes; one on
-- both sides (scrubbed, rejected, repriced) is compared at once. Of several Everflow records for one
-- transaction (a duplicate click converts again and is rejected), the one that stands is compared.
-- What disagrees is upserted (a dismissed or recorded row keeps its state; a resolved one opens again);
-- an open row of the window that no longer disagrees is resolved.
WITH keys AS (
    SELECT DISTINCT transaction_id, event_name FROM everflow_conversions
    WHERE workspace_id = $1::integer AND converted_at >= $2::timestamptz AND converted_at < $3::timestamptz
      AND transaction_id <> ''
), pulled AS (
    SELECT DISTINCT ON (e.transaction_id, e.event_name) e.*
    FROM everflow_conversions e
    JOIN keys k ON k.transaction_id = e.transaction_id AND k.event_name = e.event_name
    WHERE e.workspace_id = $1::integer
    ORDER BY e.transaction_id, e.event_name, (e.is_scrub OR e.status IN ('rejected', 'invalid')), e.converted_at DESC
), found AS (
    SELECT CASE
               WHEN c.id IS NULL THEN
                   CASE WHEN NOT p.is_scrub AND p.status NOT IN ('rejected', 'invalid')
                             AND p.converted_at < $4::timestamptz THEN 'missing_in_ignite' END
               WHEN p.is_scrub THEN 'scrubbed'
               WHEN p.status IN ('rejected', 'invalid') THEN 'rejected'
               WHEN p.payout <> c.revenue OR p.currency <> c.currency THEN 'payout_changed'
           END AS kind,
           p.transaction_id, p.event_name, p.id AS everflow_id, c.id AS conversion_id, p.status AS everflow_status,
           p.payout AS everflow_payout, p.currency AS everflow_currency, c.revenue AS ignite_revenue,
           coalesce(c.currency, '') AS ignite_currency, p.converted_at
    FROM pulled p
    LEFT JOIN conversions c
        ON c.workspace_id = $1::integer AND c.transaction_id = p.transaction_id AND c.event_name = p.event_name
    UNION ALL
    SELECT 'missing_in_everflow', c.transaction_id, c.event_name, NULL, c.id, '', NULL, '', c.revenue, c.currency,
           c.created_at
    FROM conversions c
    WHERE c.workspace_id = $1::integer AND c.created_at >= $2::timestamptz AND c.created_at < $4::timestamptz
      AND NOT EXISTS (SELECT 1 FROM everflow_conversions e
                      WHERE e.workspace_id = $1::integer AND e.transaction_id = c.transaction_id
                        AND e.event_name = c.event_name)
), kept AS (
    INSERT INTO everflow_reconciliation AS r (
        workspace_id, kind, transaction_id, event_name, everflow_id, conversion_id, everflow_status,
        everflow_payout, everflow_currency, ignite_revenue, ignite_currency, converted_at, found_at, updated_at)
    SELECT $1::integer, kind, transaction_id, event_name, everflow_id, conversion_id, everflow_status,
           everflow_payout, everflow_currency, ignite_revenue, ignite_currency, converted_at, now(), now()
    FROM found WHERE kind IS NOT NULL
    ON CONFLICT (workspace_id, kind, transaction_id, event_name) DO UPDATE SET
        everflow_id = excluded.everflow_id, conversion_id = excluded.conversion_id,
        everflow_status = excluded.everflow_status, everflow_payout = excluded.everflow_payout,
        everflow_currency = excluded.everflow_currency, ignite_revenue = excluded.ignite_revenue,
        ignite_currency = excluded.ignite_currency, converted_at = excluded.converted_at, updated_at = now(),
        state = CASE WHEN r.state = 'resolved' THEN 'open' ELSE r.state END
    RETURNING r.id, r.kind
), resolved AS (
    UPDATE everflow_reconciliation r SET state = 'resolved', updated_at = now()
    WHERE r.workspace_id = $1::integer AND r.state = 'open'
      AND r.converted_at >= $2::timestamptz AND r.converted_at < $3::timestamptz
      AND r.id NOT IN (SELECT id FROM kept)
    RETURNING r.id
)
SELECT (SELECT count(*) FROM kept) AS disagreeing, (SELECT count(*) FROM resolved) AS resolved

-- name: counts
-- $1 workspace, $2 state: rows per kind.
SELECT kind, count(*) AS rows FROM everflow_reconciliation
WHERE workspace_id = $1::integer AND state = $2::text
GROUP BY kind

-- name: page
-- $1 workspace, $2 state ('' for all), $3 kind ('' for all), $4 since, $5 until, $6/$7 after this
-- (converted_at, id) (nulls: from the newest), $8 how many: newest first, keyset-paged.
SELECT r.id, r.kind, r.transaction_id, r.event_name, r.everflow_status, r.everflow_payout, r.everflow_currency,
       r.ignite_revenue, r.ignite_currency, r.converted_at, r.state, r.state_note, r.conversion_id,
       e.conversion_id AS everflow_conversion_id, e.offer_id, e.sale_amount, e.is_scrub
FROM everflow_reconciliation r
LEFT JOIN everflow_conversions e ON e.id = r.everflow_id AND e.workspace_id = r.workspace_id
WHERE r.workspace_id = $1::integer
  AND ($2::text = '' OR r.state = $2::text) AND ($3::text = '' OR r.kind = $3::text)
  AND r.converted_at >= $4::timestamptz AND r.converted_at < $5::timestamptz
  AND ($6::timestamptz IS NULL OR (r.converted_at, r.id) < ($6::timestamptz, $7::bigint))
ORDER BY r.converted_at DESC, r.id DESC
LIMIT $8::integer
