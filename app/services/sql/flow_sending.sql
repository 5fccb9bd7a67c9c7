-- Flow emails: each send step's campaign, its deliveries written once per enrolment and visit, and the
-- workspace's marketing limits.

-- name: step-campaign
-- $1 workspace, $2 flow, $3 version, $4 step id: the step's campaign, when it has one.
SELECT campaign_id FROM flow_step_campaigns
WHERE workspace_id = $1::integer AND flow_id = $2::integer AND version = $3::integer AND step_id = $4::text

-- name: lock-step
-- $1 flow, $2 version, $3 step id: held until the caller's transaction ends, so one step campaign is made.
SELECT pg_advisory_xact_lock(hashtextextended('flow-step:' || $1::integer || ':' || $2::integer || ':' || $3::text,
                                              0))

-- name: link-step
-- $1 workspace, $2 flow, $3 version, $4 step id, $5 campaign.
INSERT INTO flow_step_campaigns (workspace_id, flow_id, version, step_id, campaign_id)
VALUES ($1::integer, $2::integer, $3::integer, $4::text, $5::integer)

-- name: list-sender
-- $1 workspace, $2 the list a flow is triggered by (0: none): that list's sender, else the first list's that has one.
SELECT from_email, from_name FROM lists
WHERE workspace_id = $1::integer AND from_email <> ''
ORDER BY id = $2::integer DESC, id LIMIT 1

-- name: flow-campaigns
-- $1 workspace, $2 flow: every step campaign of the flow, each version's.
SELECT version, step_id, campaign_id FROM flow_step_campaigns
WHERE workspace_id = $1::integer AND flow_id = $2::integer ORDER BY version, step_id

-- name: materialise
-- $1 workspace, $2 step campaign, then one array per enrolment: $3 enrolment ids, $4 visits, $5 subscriber ids,
-- $6 variants. One delivery per (campaign, enrolment, visit), due now: a key already taken writes nothing (a
-- second worker, a re-run), and the row it names is found by `written`. `transactional` keeps the unique
-- index from folding a person's second enrolment into their first.
WITH input AS (
    SELECT i.enrolment_id, i.visit, i.subscriber_id, i.variant, nextval('deliveries_id_seq') AS id
    FROM unnest($3::bigint[], $4::smallint[], $5::bigint[], $6::smallint[])
        AS i(enrolment_id, visit, subscriber_id, variant)
), taken AS (
    INSERT INTO flow_sends (workspace_id, campaign_id, enrolment_id, visit, delivery_id, subscriber_id)
    SELECT $1::integer, $2::integer, i.enrolment_id, i.visit, i.id, i.subscriber_id FROM input i
    ON CONFLICT (campaign_id, enrolment_id, visit) DO NOTHING
    RETURNING enrolment_id, visit, delivery_id, subscriber_id
), delivered AS (
    INSERT INTO deliveries (id, workspace_id, campaign_id, subscriber_id, email, domain, variant, status,
                            transactional, next_attempt_at)
    SELECT t.delivery_id, $1::integer, $2::integer, s.id, s.email,
           coalesce(nullif(s.email_domain, ''), split_part(s.email, '@', 2)), i.variant, 'queued', true, now()
    FROM taken t JOIN input i ON i.enrolment_id = t.enrolment_id AND i.visit = t.visit
    JOIN subscribers s ON s.id = t.subscriber_id AND s.workspace_id = $1::integer
    RETURNING id
)
SELECT t.enrolment_id, t.delivery_id FROM taken t

-- name: written
-- $1 workspace, $2 step campaign, $3 enrolment ids, $4 visits: the deliveries already written for them.
SELECT f.enrolment_id, f.delivery_id
FROM unnest($3::bigint[], $4::smallint[]) AS i(enrolment_id, visit)
JOIN flow_sends f ON f.campaign_id = $2::integer AND f.enrolment_id = i.enrolment_id AND f.visit = i.visit
WHERE f.workspace_id = $1::integer

-- name: limits
-- $1 workspace.
SELECT max_per_day, quiet_start, quiet_end FROM marketing_limits WHERE workspace_id = $1::integer

-- name: save-limits
-- $1 workspace, $2 most per day, $3 quiet hours' start, $4 their end (nulls: no limit).
INSERT INTO marketing_limits (workspace_id, max_per_day, quiet_start, quiet_end, updated_at)
VALUES ($1::integer, $2::smallint, $3::smallint, $4::smallint, now())
ON CONFLICT (workspace_id) DO UPDATE SET max_per_day = excluded.max_per_day, quiet_start = excluded.quiet_start,
    quiet_end = excluded.quiet_end, updated_at = now()

-- name: sends-today
-- $1 workspace, then per address: $2 addresses, $3 the start of its local day, $4 its end; $5 delivery ids not
-- to count. Marketing emails (campaigns' and flows') sent that day, through deliveries_sent_email_idx, and those
-- waiting to go before it ends, through each live campaign's (campaign_id, email) index.
SELECT p.email, sent.n + waiting.n AS n
FROM unnest($2::text[], $3::timestamptz[], $4::timestamptz[]) AS p(email, day_start, day_end)
CROSS JOIN LATERAL (
    SELECT count(*) AS n FROM deliveries d JOIN campaigns c ON c.id = d.campaign_id
    WHERE d.workspace_id = $1::integer AND d.email = p.email AND d.status = 'sent'
      AND d.sent_at >= p.day_start AND d.sent_at < p.day_end AND c.kind <> 'transactional'
      AND d.id <> ALL($5::bigint[])
) sent
CROSS JOIN LATERAL (
    SELECT count(*) AS n FROM campaigns c JOIN deliveries d ON d.campaign_id = c.id AND d.email = p.email
    WHERE c.workspace_id = $1::integer AND c.kind <> 'transactional' AND c.status IN ('sending', 'paused')
      AND d.status IN ('queued', 'claimed', 'deferred') AND d.next_attempt_at < p.day_end
      AND d.id <> ALL($5::bigint[])
) waiting
