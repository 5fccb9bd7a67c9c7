"""`ignite demo history`: ninety days of recorded past for the Demo audience, so that every Analytics section,
churn included, has history to show on a fresh development setup.

`ignite demo traffic` sends one real campaign today; the churn model learns from what happened over a whole
horizon before today (app/services/analytics/intelligence/churn.py), and trends need past days. This writes
that past straight into the raw tables, set-based and seeded (`setseed`), in one transaction:
- the audience joined over the first weeks of the window (created_at moved back, the lists' daily joins too);
- two campaigns a week named "History: week N ...", sent, with a delivery per subscriber on the list at the
  time, through the demo's three servers (stable per address, by their weights) and domain groups;
- from per-subscriber propensities: human opens and clicks, Apple's and Gmail's machine opens, a scanner's bot
  clicks, and conversions with revenue (postback-like rows) at each server's placement and payout;
- a cohort that fades out (fewer opens towards a month ago, none since), a few of whom unsubscribe or complain
  in the last month, and a few hard bounces: the signal the churn model learns;
- the engagement columns, `delivery_engagement` and `campaign_engagement` as the tracking aggregator keeps them
  (app/services/sql/tracking.sql `record`).
Then the platform's own code rebuilds the rollups of those days and refreshes the intelligence as its daily job
does. Everything happens before today's midnight (UTC), so today's live rollups are left to their writers.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from app.db.campaigns import Campaign
from app.db.delivery import DeliveryServer
from app.piccolo_conf import DB
from app.services.analytics import rollups
from app.services.analytics.intelligence import at_risk, churn, scores
from app.services.demo_recipients import APPLE_DOMAINS, APPLE_PROXY, BROWSERS, GMAIL_PROXY, SCANNER
from app.services.demo_traffic import AUDIENCE, HTML, PROFILES, DemoError, EspProfile
from app.services.routing import OTHERS, domain_groups
from app.services.sqlparams import fetch_positional
from app.services.suppression.entries import Entry, add_entries
from app.services.suppression.lists import blacklist_id
from app.services.tenancy import checked_workspace_id, owned_by
from app.services.tracking.engagement import score_arguments
from app.services.tracking.offers import workspace_settings

DAYS = 90
PREFIX = "History: "
SEED = 0.19
OFFER_URL = "https://offers.example.net/spring?aff=demo"
SHOP_URL = "https://shop.example.com/new"

# $1 workspace, $2 list, $3 first moment of the window, $4 today's midnight (UTC: nothing is recorded from then
# on), $5 the churn cutoff (a horizon ago), $6 the name for domains in no group, $7 Apple's domains, $8 to $14 the
# servers: id, share of the audience (from, to), opens against the first's, clicks of openers, conversions of
# clickers, payout.
PEOPLE = """
CREATE TEMP TABLE history_people ON COMMIT DROP AS
WITH drawn AS (
    SELECT s.id, s.email, s.email_domain AS domain, s.status, s.created_at AS created_before, random() AS r_join,
           random() AS r_kind, random() AS r_fade, random() AS r_leave, random() AS r_when, random() AS r_server,
           random() AS r_click
    FROM subscribers s WHERE s.workspace_id = $1::integer AND s.list_id = $2::integer ORDER BY s.id
), typed AS (
    -- A fifth are fans, half regulars, the rest rarely open; three in ten of the fans and regulars fade out.
    SELECT d.*, CASE WHEN r_kind < 0.2 THEN 0.6 WHEN r_kind < 0.7 THEN 0.3 ELSE 0.05 END AS opens,
           r_kind < 0.7 AND r_fade < 0.3 AS fades
    FROM drawn d
), leaving AS (
    SELECT t.*, CASE WHEN t.status <> 'confirmed' THEN NULL
                     WHEN t.fades AND t.r_leave < 0.2 THEN 'unsubscribed'
                     WHEN t.fades AND t.r_leave < 0.25 THEN 'complained'
                     WHEN NOT t.fades AND t.r_leave < 0.015 THEN 'unsubscribed'
                     WHEN NOT t.fades AND t.r_leave < 0.03 THEN 'bounced' END AS left_as,
           $3::timestamptz + t.r_join * ($5::timestamptz - $3::timestamptz - interval '10 days') AS joined_at
    FROM typed t
)
SELECT l.id, l.email, l.domain, l.created_before, l.joined_at, l.opens, l.fades, l.left_as,
       l.r_click * 1.0 + 0.5 AS clicks,
       -- Those who leave do so in the last month, bounces anywhere after joining.
       CASE WHEN l.left_as = 'bounced' THEN l.joined_at + l.r_when * ($4::timestamptz - l.joined_at)
            WHEN l.left_as IS NOT NULL THEN $5::timestamptz + l.r_when * ($4::timestamptz - $5::timestamptz)
       END AS left_at,
       v.server_id, v.open_factor, v.click_share, v.converts, v.payout,
       coalesce((SELECT g.name FROM domain_groups g WHERE g.workspace_id = $1::integer AND l.domain = ANY(g.domains)
                 ORDER BY g.position LIMIT 1), $6::text) AS domain_group,
       l.domain = ANY($7::text[]) AS apple, l.domain = 'gmail.com' AS gmail
FROM leaving l
JOIN unnest($8::integer[], $9::float8[], $10::float8[], $11::float8[], $12::float8[], $13::float8[],
            $14::numeric[]) AS v(server_id, low, high, open_factor, click_share, converts, payout)
  ON l.r_server >= v.low AND l.r_server < v.high
"""

# $1 workspace, $2 list, $3 first moment of the window, $4 today's midnight, $5 the names' prefix, $6 the sender,
# $7 the message, $8 the days of the window: two a week, at hours that move through the day (so the best hours
# are not just the send hours).
CAMPAIGNS = """
INSERT INTO campaigns (workspace_id, name, status, from_name, from_email, subject, list_ids, snapshot_subject,
                       snapshot_html, snapshot_version, snapshot_at, started_at, finished_at, created_at,
                       updated_at, tags, kind)
SELECT $1::integer, $5::text || 'week ' || to_char(at AT TIME ZONE 'UTC', 'FMIW')
                    || CASE WHEN n % 2 = 0 THEN ' newsletter' ELSE ' offer' END,
       'sent', 'Demo Shop', $6::text, subject, ARRAY[$2::integer], subject, $7::text, 1, at - interval '1 hour',
       at, at + interval '45 minutes', at - interval '1 day', at + interval '45 minutes', ARRAY['demo-history'],
       'campaign'
FROM (SELECT n, CASE WHEN n % 2 = 0 THEN 'What is new this week' ELSE '{{ first_name }}, this week''s offer' END
                  AS subject,
             $3::timestamptz + ((n / 2) * 7 + (n % 2) * 3) * interval '1 day'
                 + (ARRAY[8, 10, 13, 15, 17, 19])[n % 6 + 1] * interval '1 hour' AS at
      FROM generate_series(0, 2 * $8::integer / 7 + 1) n) planned
WHERE at < $4::timestamptz - interval '1 day'
RETURNING id
"""

# $1 workspace, $2 the names' prefix, $3 today's midnight, $4 the churn cutoff, $5 when the fading starts.
# Each delivery's draws, then what its recipient did; the fading cohort opens less and less from $5 and not at
# all after $4.
SENDS = """
CREATE TEMP TABLE history_sends ON COMMIT DROP AS
WITH planned AS (
    SELECT c.id AS campaign_id, p.id AS subscriber_id, p.email, p.domain, p.server_id, p.domain_group, p.apple,
           p.gmail, p.click_share * p.clicks AS click_share, p.converts, p.payout,
           c.started_at + random() * interval '40 minutes' AS sent_at,
           random() < p.opens * p.open_factor * CASE
               WHEN NOT p.fades OR c.started_at < $5::timestamptz THEN 1.0
               WHEN c.started_at < $4::timestamptz
                   THEN 1 - 0.75 * extract(epoch FROM c.started_at - $5::timestamptz)
                                 / extract(epoch FROM $4::timestamptz - $5::timestamptz)
               ELSE 0.0 END AS opened,
           random() AS r_twice, random() AS r_click, random() AS r_convert, random() AS r_bot, random() AS r_proxy,
           -ln(1 - random()) AS open_wait, random() AS click_wait, random() AS convert_wait, random() AS r_payout,
           least(coalesce(p.left_at, $3::timestamptz), $3::timestamptz) - interval '1 second' AS last_moment
    FROM campaigns c
    JOIN history_people p ON p.joined_at <= c.started_at AND (p.left_at IS NULL OR c.started_at <= p.left_at)
    WHERE c.workspace_id = $1::integer AND c.name LIKE $2::text || '%'
    ORDER BY c.started_at, p.id
), acted AS (
    SELECT p.*, greatest(p.sent_at, least(p.sent_at + p.open_wait * interval '5 hours', p.last_moment)) AS open_at,
           p.opened AND p.r_click < p.click_share AS clicked
    FROM planned p
)
SELECT nextval('deliveries_id_seq') AS id, a.campaign_id, a.subscriber_id, a.email, a.domain, a.server_id,
       a.domain_group, a.sent_at, a.last_moment, a.apple,
       CASE WHEN a.opened THEN 1 + (a.r_twice < 0.3)::integer ELSE 0 END AS opens,
       CASE WHEN a.opened THEN a.open_at END AS open_at,
       CASE WHEN a.opened THEN least(a.open_at + (a.r_twice < 0.3)::integer * interval '3 hours',
                                     greatest(a.open_at, a.last_moment)) END AS last_open_at,
       a.opened AND a.gmail AND a.r_proxy < 0.25 AS proxied,
       NOT a.opened AND a.r_bot < 0.03 AS scanned,
       a.clicked::integer AS clicks,
       CASE WHEN a.clicked THEN greatest(a.open_at, least(a.open_at + (20 + a.click_wait * 600) * interval '1 second',
                                                          a.last_moment)) END AS click_at,
       CASE WHEN a.clicked AND a.r_convert < a.converts
            THEN round(a.payout * (0.7 + 0.6 * a.r_payout)::numeric, 2) END AS revenue,
       a.convert_wait, a.r_twice < 0.5 AS on_phone
FROM acted a
"""

DELIVERIES = """
INSERT INTO deliveries (id, workspace_id, campaign_id, subscriber_id, email, domain, status, server_id, domain_group,
                        attempts, last_answer, sent_at, next_attempt_at, created_at, updated_at)
SELECT id, $1::integer, campaign_id, subscriber_id, email, domain, 'sent', server_id, domain_group, 1,
       '250 2.0.0 Ok: queued', sent_at, sent_at, sent_at - interval '5 minutes', sent_at
FROM history_sends ORDER BY id
"""

# $1 workspace, $2 and $3 a person's open or click on a computer and on a phone, $4 the offer and $5 the other link,
# $6 Apple's and $7 Gmail's image proxies, $8 a mail scanner (each event's meta as JSON text).
EVENTS = """
INSERT INTO events (workspace_id, subscriber_id, campaign_id, delivery_id, kind, url, meta, occurred_at, link_index)
SELECT $1::integer, s.subscriber_id, s.campaign_id, s.id, e.kind, e.url, e.meta::jsonb, e.at, e.link_index
FROM history_sends s
CROSS JOIN LATERAL (SELECT CASE WHEN s.on_phone THEN $3::text ELSE $2::text END AS meta) person
CROSS JOIN LATERAL (
    SELECT 'open' AS kind, '' AS url, person.meta,
           CASE k WHEN 1 THEN s.open_at ELSE s.last_open_at END AS at,
           NULL::smallint AS link_index
    FROM generate_series(1, s.opens) k
    UNION ALL SELECT 'click', $4::text, person.meta, s.click_at, 0 WHERE s.clicks > 0
    UNION ALL SELECT 'machine_open', '', $6::text, s.sent_at + interval '2 minutes', NULL WHERE s.apple
    UNION ALL SELECT 'machine_open', '', $7::text, s.open_at, NULL WHERE s.proxied
    UNION ALL SELECT 'bot_click', link.url, $8::text, s.sent_at + interval '4 seconds', link.position
    FROM (VALUES ($4::text, 0::smallint), ($5::text, 1::smallint)) AS link(url, position) WHERE s.scanned
) e
ORDER BY e.at
"""

# $1 workspace: each message's opens and clicks, as the aggregator keeps them.
DELIVERY_ENGAGEMENT = """
INSERT INTO delivery_engagement (delivery_id, workspace_id, campaign_id, opens, clicks, first_open_at, last_open_at,
                                 first_click_at, last_click_at)
SELECT e.delivery_id, $1::integer, min(e.campaign_id), count(*) FILTER (WHERE e.kind = 'open'),
       count(*) FILTER (WHERE e.kind = 'click'),
       min(e.occurred_at) FILTER (WHERE e.kind = 'open'), max(e.occurred_at) FILTER (WHERE e.kind = 'open'),
       min(e.occurred_at) FILTER (WHERE e.kind = 'click'), max(e.occurred_at) FILTER (WHERE e.kind = 'click')
FROM events e JOIN history_sends s ON s.id = e.delivery_id
WHERE e.workspace_id = $1::integer AND e.kind IN ('open', 'click')
GROUP BY e.delivery_id
"""

# $1 workspace, $2 its currency, $3 to $5 the names of its campaign, subscriber and delivery sub-ids: the
# network's postbacks, each with its conversion event.
CONVERSIONS = """
WITH inserted AS (
    INSERT INTO conversions (workspace_id, transaction_id, event_name, delivery_id, campaign_id, subscriber_id,
                             server_id, offer_id, revenue, currency, sub_ids, ip, created_at)
    SELECT $1::integer, 'history-' || s.id, '', s.id, s.campaign_id, s.subscriber_id, s.server_id, '1', s.revenue,
           $2::text, jsonb_build_object($3::text, s.campaign_id::text, $4::text, s.subscriber_id::text,
                                        $5::text, s.id::text) - '',
           '127.0.0.1', greatest(s.click_at, least(s.click_at + (60 + s.convert_wait * 3600) * interval '1 second',
                                                   s.last_moment))
    FROM history_sends s WHERE s.revenue IS NOT NULL
    RETURNING id, delivery_id, campaign_id, subscriber_id, transaction_id, offer_id, revenue, currency, created_at
)
INSERT INTO events (workspace_id, subscriber_id, campaign_id, delivery_id, kind, meta, occurred_at)
SELECT $1::integer, subscriber_id, campaign_id, delivery_id, 'conversion',
       jsonb_build_object('conversion_id', id, 'transaction_id', transaction_id, 'event', '', 'offer_id', offer_id,
                          'revenue', revenue, 'currency', currency), created_at
FROM inserted
RETURNING 1
"""

# Who left: through the message of the last campaign they received, with the history of the status change; a
# complaint and a hard bounce are also a bounce row (what the bounce processor stores).
LEAVING = """
CREATE TEMP TABLE history_leaving ON COMMIT DROP AS
SELECT DISTINCT ON (p.id) p.id AS subscriber_id, p.email, p.left_as, s.id AS delivery_id, s.campaign_id,
       s.server_id, s.domain_group,
       CASE WHEN p.left_as = 'bounced' THEN s.sent_at + interval '3 seconds' ELSE greatest(s.sent_at, p.left_at) END
           AS at
FROM history_people p JOIN history_sends s ON s.subscriber_id = p.id
WHERE p.left_as IS NOT NULL
ORDER BY p.id, s.sent_at DESC
"""

# $1 workspace, $2 list.
LEFT = """
WITH events_written AS (
    INSERT INTO events (workspace_id, subscriber_id, campaign_id, delivery_id, kind, meta, occurred_at)
    SELECT $1::integer, l.subscriber_id, l.campaign_id, l.delivery_id,
           CASE l.left_as WHEN 'unsubscribed' THEN 'unsubscribe' WHEN 'complained' THEN 'complaint' ELSE 'bounce' END,
           CASE l.left_as WHEN 'unsubscribed'
                THEN jsonb_build_object('via', 'one-click', 'scope', 'list', 'lists', jsonb_build_array($2::integer))
                ELSE jsonb_build_object('category', CASE l.left_as WHEN 'complained' THEN 'complaint' ELSE 'hard' END,
                                        'action', CASE l.left_as WHEN 'complained' THEN 'complained'
                                                                 ELSE 'suppressed' END) END,
           l.at
    FROM history_leaving l
    RETURNING 1
), bounces_written AS (
    INSERT INTO bounces (workspace_id, delivery_id, campaign_id, subscriber_id, server_id, domain_group, email,
                         category, status, reply_code, diagnostic, feedback_type, action_taken, occurred_at)
    SELECT $1::integer, l.delivery_id, l.campaign_id, l.subscriber_id, l.server_id, l.domain_group, l.email,
           CASE l.left_as WHEN 'complained' THEN 'complaint' ELSE 'hard' END,
           CASE l.left_as WHEN 'complained' THEN '' ELSE '5.1.1' END,
           CASE l.left_as WHEN 'complained' THEN '' ELSE '550' END,
           CASE l.left_as WHEN 'complained' THEN 'abuse report'
                ELSE '5.1.1 <' || l.email || '>: Recipient address rejected: User unknown' END,
           CASE l.left_as WHEN 'complained' THEN 'abuse' ELSE '' END,
           CASE l.left_as WHEN 'complained' THEN 'complained' ELSE 'suppressed' END, l.at
    FROM history_leaving l WHERE l.left_as IN ('complained', 'bounced')
    RETURNING 1
), history AS (
    INSERT INTO subscriber_status_changes (workspace_id, subscriber_id, from_status, to_status, source, created_at)
    SELECT $1::integer, l.subscriber_id, 'confirmed', l.left_as,
           CASE l.left_as WHEN 'unsubscribed' THEN 'one-click' WHEN 'complained' THEN 'complaint abuse'
                ELSE 'hard 5.1.1' END, l.at
    FROM history_leaving l
    RETURNING 1
)
SELECT (SELECT count(*) FROM events_written) AS events, (SELECT count(*) FROM bounces_written) AS bounces,
       (SELECT count(*) FROM history) AS changes
"""

# $1 workspace, $2 first moment of the window, $3 the names' prefix: the campaigns' figures.
CAMPAIGN_ENGAGEMENT = """
INSERT INTO campaign_engagement (campaign_id, workspace_id, opens, unique_opens, clicks, unique_clicks, machine_opens,
                                 bot_clicks, unsubscribes, conversions, revenue, updated_at)
SELECT c.id, $1::integer, coalesce(g.opens, 0), coalesce(g.unique_opens, 0), coalesce(g.clicks, 0),
       coalesce(g.unique_clicks, 0), coalesce(e.machine_opens, 0), coalesce(e.bot_clicks, 0),
       coalesce(e.unsubscribes, 0), coalesce(k.conversions, 0), coalesce(k.revenue, 0), c.finished_at
FROM campaigns c
LEFT JOIN (SELECT campaign_id, sum(opens) AS opens, count(*) FILTER (WHERE opens > 0) AS unique_opens,
                  sum(clicks) AS clicks, count(*) FILTER (WHERE clicks > 0) AS unique_clicks
           FROM delivery_engagement WHERE workspace_id = $1::integer GROUP BY campaign_id) g ON g.campaign_id = c.id
LEFT JOIN (SELECT campaign_id, count(*) FILTER (WHERE kind = 'machine_open') AS machine_opens,
                  count(*) FILTER (WHERE kind = 'bot_click') AS bot_clicks,
                  count(DISTINCT subscriber_id) FILTER (WHERE kind = 'unsubscribe') AS unsubscribes
           FROM events WHERE workspace_id = $1::integer AND occurred_at >= $2::timestamptz
           GROUP BY campaign_id) e ON e.campaign_id = c.id
LEFT JOIN (SELECT campaign_id, count(*) AS conversions, sum(revenue) AS revenue FROM conversions
           WHERE workspace_id = $1::integer GROUP BY campaign_id) k ON k.campaign_id = c.id
WHERE c.workspace_id = $1::integer AND c.name LIKE $3::text || '%'
"""

# $1 workspace: each campaign's figures as `reconcile` leaves them when it ends (app/services/campaigns/counters.py).
CAMPAIGN_COUNTS = """
UPDATE campaigns c SET recipient_count = n.sent, sent_count = n.sent, counted_at = c.finished_at,
    breakdown = jsonb_build_object('servers', n.servers, 'groups', n.groups)
FROM (SELECT t.campaign_id, sum(t.n) FILTER (WHERE t.by = 'server') AS sent,
             jsonb_object_agg(t.server_id::text, jsonb_build_object('sent', t.n)) FILTER (WHERE t.by = 'server')
                 AS servers,
             jsonb_object_agg(t.domain_group, jsonb_build_object('sent', t.n)) FILTER (WHERE t.by = 'group') AS groups
      FROM (SELECT campaign_id, 'server' AS by, server_id, '' AS domain_group, count(*) AS n FROM history_sends
            GROUP BY campaign_id, server_id
            UNION ALL
            SELECT campaign_id, 'group', NULL, domain_group, count(*) FROM history_sends
            GROUP BY campaign_id, domain_group) t
      GROUP BY t.campaign_id) n
WHERE c.id = n.campaign_id AND c.workspace_id = $1::integer
"""

# $1 workspace, $2 to $5 the engagement score's points (first open, repeat open, first click, repeat click), $6
# its half-life in seconds. The people as they stand after their past: joined back then, the engagement columns
# as the aggregator leaves them (each message's points decayed to the newest), and the leavers' status.
SUBSCRIBERS = """
WITH points AS (
    SELECT s.subscriber_id, max(s.last_open_at) AS opened, max(s.click_at) AS clicked,
           max(greatest(s.last_open_at, s.click_at)) AS newest,
           array_agg(greatest(s.last_open_at, s.click_at)) AS moments,
           array_agg(CASE WHEN s.opens > 0 THEN $2::integer + (s.opens - 1) * $3::integer ELSE 0 END
                     + CASE WHEN s.clicks > 0 THEN $4::integer + (s.clicks - 1) * $5::integer ELSE 0 END) AS earned
    FROM history_sends s WHERE s.opens > 0 OR s.clicks > 0 GROUP BY s.subscriber_id
), scored AS (
    SELECT x.subscriber_id, x.opened, x.clicked, x.newest,
           (SELECT sum(u.e * power(0.5, extract(epoch FROM x.newest - u.m)::float8 / $6::integer))
            FROM unnest(x.moments, x.earned) AS u(m, e)) AS score
    FROM points x
), moved AS (
    UPDATE subscribers s SET created_at = p.joined_at, confirmed_at = p.joined_at,
        status = coalesce(l.left_as, s.status),
        unsubscribed_at = CASE WHEN l.left_as = 'unsubscribed' THEN l.at ELSE s.unsubscribed_at END,
        updated_at = coalesce(l.at, s.updated_at),
        last_open_at = greatest(s.last_open_at, x.opened),
        last_click_at = greatest(s.last_click_at, x.clicked),
        engagement_score = CASE WHEN x.subscriber_id IS NULL THEN s.engagement_score ELSE least(100, round(
            x.score * power(0.5, extract(epoch FROM greatest(x.newest, s.engagement_scored_at) - x.newest)::float8
                                 / $6::integer)
            + s.engagement_score * power(0.5, extract(epoch FROM greatest(x.newest, s.engagement_scored_at)
                                                        - coalesce(s.engagement_scored_at, x.newest))::float8
                                               / $6::integer)))::smallint END,
        engagement_scored_at = CASE WHEN x.subscriber_id IS NULL THEN s.engagement_scored_at
                                    ELSE greatest(s.engagement_scored_at, x.newest) END
    FROM history_people p
    LEFT JOIN scored x ON x.subscriber_id = p.id
    LEFT JOIN history_leaving l ON l.subscriber_id = p.id
    WHERE s.id = p.id AND s.workspace_id = $1::integer
    RETURNING s.id
), first_status AS (
    UPDATE subscriber_status_changes c SET created_at = p.joined_at
    FROM history_people p
    WHERE c.subscriber_id = p.id AND c.workspace_id = $1::integer AND c.from_status = ''
      AND c.created_at >= p.created_before
    RETURNING 1
)
SELECT (SELECT count(*) FROM moved) AS moved, (SELECT count(*) FROM first_status) AS first_status
"""

# $1 workspace, $2 list: the lists' daily joins follow the people to the days they joined.
JOINS_FORGOTTEN = """
UPDATE list_daily_stats d SET joined = greatest(d.joined - n.joined, 0)
FROM (SELECT (created_before AT TIME ZONE 'UTC')::date AS day, count(*) AS joined FROM history_people GROUP BY 1) n
WHERE d.workspace_id = $1::integer AND d.list_id = $2::integer AND d.day = n.day
"""
JOINS_MOVED = """
INSERT INTO list_daily_stats AS d (workspace_id, list_id, day, joined)
SELECT $1::integer, $2::integer, (joined_at AT TIME ZONE 'UTC')::date, count(*) FROM history_people GROUP BY 3
ON CONFLICT (list_id, day) DO UPDATE SET joined = d.joined + excluded.joined
"""

# What was written, for the terminal.
SUMMARY = """
SELECT count(*) AS deliveries, count(DISTINCT campaign_id) AS campaigns, coalesce(sum(opens), 0) AS opens,
       coalesce(sum(clicks), 0) AS clicks,
       count(*) FILTER (WHERE apple) + count(*) FILTER (WHERE proxied) AS machine_opens,
       2 * count(*) FILTER (WHERE scanned) AS bot_clicks, count(revenue) AS conversions,
       coalesce(sum(revenue), 0) AS revenue,
       (SELECT count(*) FROM history_leaving WHERE left_as = 'unsubscribed') AS unsubscribed,
       (SELECT count(*) FROM history_leaving WHERE left_as = 'complained') AS complained,
       (SELECT count(*) FROM history_leaving WHERE left_as = 'bounced') AS bounced
FROM history_sends
"""


@dataclass(frozen=True)
class Window:
    """The recorded past: from `start` (midnight UTC, DAYS back) to `end` (today's midnight, not included)."""

    now: datetime
    start: datetime
    end: datetime

    @classmethod
    def ending(cls, now: datetime) -> Window:
        end = datetime.combine(now.astimezone(UTC).date(), datetime.min.time(), UTC)
        return cls(now, end - timedelta(days=DAYS), end)

    @property
    def cutoff(self) -> datetime:
        """Where the churn model reads its features (it learns from what happened since)."""
        return self.now - timedelta(days=churn.HORIZON_DAYS)

    @property
    def fading_from(self) -> datetime:
        return self.cutoff - timedelta(days=churn.HORIZON_DAYS)


@dataclass(frozen=True)
class Recorded:
    """What `record` wrote."""

    subscribers: int
    figures: dict[str, Any]


@dataclass(frozen=True)
class Audience:
    list_id: int
    from_email: str
    servers: list[tuple[int, EspProfile]]


async def audience(workspace_id: int) -> Audience:
    """The Demo audience list and the demo servers `ignite demo traffic` made; DemoError when they are missing."""
    found = await fetch_positional(
        "SELECT id, from_email FROM lists WHERE workspace_id = $1::integer AND name = $2::text",
        [checked_workspace_id(workspace_id), AUDIENCE])
    by_name = {row["name"]: row["id"] for row in await DeliveryServer.select(
        DeliveryServer.id, DeliveryServer.name).where(owned_by(DeliveryServer, workspace_id))}
    if not found or any(profile.name not in by_name for profile in PROFILES):
        raise DemoError(f"no {AUDIENCE!r} list with the three demo servers in this workspace: "
                        "run `make demo-traffic` first")
    return Audience(found[0]["id"], found[0]["from_email"],
                    [(by_name[profile.name], profile) for profile in PROFILES])


def server_shares(servers: list[tuple[int, EspProfile]]) -> list[list[Any]]:
    """Per server, as parallel arrays: its id, the share of addresses it takes (from, to, by routing weight), and
    its recipients' behaviour (opens against the first server's, clicks of openers, conversions, payout)."""
    total = sum(profile.weight for _, profile in servers)
    baseline = servers[0][1].placement.opens
    columns: list[list[Any]] = [[] for _ in range(7)]
    low = 0.0
    for server_id, profile in servers:
        high = low + profile.weight / total
        placement = profile.placement
        for column, value in zip(columns, (server_id, low, high, placement.opens / baseline, placement.clicks,
                                           placement.converts, Decimal(placement.payout)), strict=True):
            column.append(value)
        low = high
    columns[2][-1] = 1.0
    return columns


async def recorded_campaigns(workspace_id: int) -> int:
    return await Campaign.count().where(owned_by(Campaign, workspace_id), Campaign.name.like(f"{PREFIX}%"))


def _meta(agent: str, **more: str) -> str:
    return json.dumps({"ua": agent, "ip": "127.0.0.1", **more})


async def _run(sql: str, *args: Any) -> list[dict[str, Any]]:
    return await fetch_positional(sql, args)


async def record(workspace_id: int, found: Audience, window: Window) -> Recorded:
    """The whole past in one transaction, seeded so that every run tells the same story."""
    workspace_id = checked_workspace_id(workspace_id)
    await domain_groups(workspace_id)
    settings = await workspace_settings(workspace_id)
    async with DB.transaction():
        await _run("SELECT setseed($1::float8)", SEED)
        await _run("SELECT ensure_events_partition(m::date) FROM generate_series(date_trunc('month', $1::timestamptz, "
                   "'UTC'), $2::timestamptz, interval '1 month') m", window.start, window.end)
        await _run(PEOPLE, workspace_id, found.list_id, window.start, window.end, window.cutoff, OTHERS,
                   list(APPLE_DOMAINS), *server_shares(found.servers))
        await _run(CAMPAIGNS, workspace_id, found.list_id, window.start, window.end, PREFIX, found.from_email, HTML,
                   DAYS)
        await _run(SENDS, workspace_id, PREFIX, window.end, window.cutoff, window.fading_from)
        await _run(DELIVERIES, workspace_id)
        await _run(EVENTS, workspace_id, _meta(BROWSERS[0], client="Chrome", os="Windows", device="Other"),
                   _meta(BROWSERS[1], client="Mobile Safari UI/WKWebView", os="iOS", device="iPhone"), OFFER_URL,
                   SHOP_URL, _meta(APPLE_PROXY, rule="Apple Mail Privacy Protection"),
                   _meta(GMAIL_PROXY, rule="Gmail image proxy"), _meta(SCANNER, rule="Known crawler"))
        await _run(DELIVERY_ENGAGEMENT, workspace_id)
        await _run(CONVERSIONS, workspace_id, settings["currency"], settings["campaign_param"],
                   settings["subscriber_param"], settings["delivery_param"])
        await _run(LEAVING)
        await _run(LEFT, workspace_id, found.list_id)
        await _run(CAMPAIGN_ENGAGEMENT, workspace_id, window.start, PREFIX)
        await _run(CAMPAIGN_COUNTS, workspace_id)
        moved = await _run(SUBSCRIBERS, workspace_id, *score_arguments())
        await _run(JOINS_FORGOTTEN, workspace_id, found.list_id)
        await _run(JOINS_MOVED, workspace_id, found.list_id)
        suppressed = await _run("SELECT email FROM history_leaving WHERE left_as IN ('complained', 'bounced')")
        # Complaints and hard bounces put the address on the blacklist, as the bounce processor does.
        await add_entries(workspace_id, await blacklist_id(workspace_id),
                          [Entry("email", row["email"]) for row in suppressed], "demo history")
        figures = (await _run(SUMMARY))[0]
    return Recorded(moved[0]["moved"], figures)


async def refresh(workspace_id: int, window: Window) -> dict[str, Any]:
    """The rollups of the recorded days rebuilt, then the intelligence job's work: the score snapshot, the churn
    model trained and every mailable subscriber scored. Returns the model."""
    await rollups.rebuild(window.start, window.end, workspace_id)
    await scores.snapshot(workspace_id, window.now.date(), window.now)
    return await churn.retrain(workspace_id, window.now)


async def run(workspace_id: int, say: Callable[[str], None], now: datetime | None = None) -> dict[str, Any] | None:
    """Records the past unless it is there already, told on the terminal; the churn model, None when it was."""
    found = await audience(workspace_id)
    if done := await recorded_campaigns(workspace_id):
        say(f"History is already recorded ({done} campaigns named {PREFIX!r}); nothing added.\n")
        return None
    window = Window.ending(now or datetime.now(UTC))
    say(f"Recording {DAYS} days of history for {AUDIENCE!r} ({window.start:%Y-%m-%d} to "
        f"{window.end - timedelta(days=1):%Y-%m-%d}) …\n")
    started = time.monotonic()
    recorded = await record(workspace_id, found, window)
    f = recorded.figures
    say(f"  {recorded.subscribers:,} subscribers joined back then; {f['campaigns']} campaigns, "
        f"{f['deliveries']:,} deliveries, {f['opens']:,} opens, {f['clicks']:,} clicks, {f['machine_opens']:,} "
        f"machine opens, {f['bot_clicks']:,} bot clicks, {f['conversions']:,} conversions "
        f"({f['revenue']:,.2f} revenue); {f['unsubscribed']} unsubscribed, {f['complained']} complained, "
        f"{f['bounced']} bounced ({time.monotonic() - started:.1f} s)\n")
    started = time.monotonic()
    model = await refresh(workspace_id, window)
    say(f"  rollups rebuilt and intelligence refreshed ({time.monotonic() - started:.1f} s)\n")
    if model.get("auc") is None:
        say(f"  churn model: {model.get('note', 'not trained')}\n")
    else:
        risky = await at_risk.count_at_risk(workspace_id, at_risk.DEFAULT_MIN_RISK)
        say(f"  churn model: AUC {model['auc']:.2f} on {model['held_out']:,} held-out subscribers "
            f"({model['churned']:,} of {model['trained_on'] + model['held_out']:,} churned); "
            f"{risky:,} subscribers at {at_risk.DEFAULT_MIN_RISK}% risk or more\n")
    return model
