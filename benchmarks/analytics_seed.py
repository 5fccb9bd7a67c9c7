"""The Analytics benchmark's workspace: 90 days of sending, feedback, engagement and money, in set-based SQL.

`seeded(deliveries, events)` answers the workspace of that size, seeding it first when the database has none.
It is kept between runs (seeding 50 million events takes many minutes); a workspace of another size is
dropped first, so one dataset lives in the bench database at a time. The days are the 90 ending at the
midnight (UTC) before the seeding; the workspace's name says its size and last day, and only says so once
every row is written, so an interrupted seeding is dropped and started again.

What is written, each value drawn from a hash of the row's number (the same database gets the same rows):
- five delivery servers with different kinds, prices per 1,000, fixed monthly costs, quotas, bounce,
  complaint, engagement and conversion rates; two of them on warm-up plans;
- the four default domain groups and a fifth, so deliveries fall in six (with Others);
- three lists with data costs, subscribers (a twentieth of the deliveries) on 19 mailbox domains, and
  two other costs;
- 100 sent campaigns spread over the 90 days, each sending the same share of the deliveries over 4 hours;
- deliveries: 97.5 % sent, the rest failed, a few deferred first;
- bounces (hard, soft, block, complaints) on 1.5-4 % of the sent, per server;
- conversions on about 0.5 % of the sent, six offers;
- events: opens, machine opens, clicks, bot clicks and web views of about half the sent deliveries
  (several each, within 72 hours of the send), unsubscribes, and the conversions' events; loaded into
  monthly partitions of `events` built beside the table and attached with their indexes when the month
  has none yet (app/services/tracking/partitions.py makes this month's and the next ones);
- what the writers keep beside the raw rows: delivery_engagement, campaign_engagement, feedback_counts and
  the campaigns' counters. The Analytics rollups are left to `rollups.rebuild` (benchmarks/analytics.py
  times it).
"""

from __future__ import annotations

import os
import re
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg

DAYS = 90
CAMPAIGNS = 100
SEND_HOURS = 4
# Opens, clicks and unsubscribes come within this long of the send.
ENGAGEMENT_WINDOW = timedelta(hours=72)
NAME = "Analytics bench"
SEEDING = f"{NAME} seeding"
NAMED = re.compile(rf"^{NAME}(?P<seeding> seeding)? (?P<deliveries>\d+) deliveries (?P<events>\d+) events "
                   r"to (?P<last>\d{4}-\d{2}-\d{2})$")
CURRENCY = "USD"


@dataclass(frozen=True)
class SeedServer:
    name: str
    kind: str
    cost_per_thousand: Decimal
    monthly_cost: Decimal
    share: int  # of the deliveries, per mille
    bounces: int  # hard, soft and block per 100,000 sent
    complaints: int  # per 100,000 sent
    engaged: int  # sent deliveries with engagement events, per mille
    conversions: int  # per 100,000 sent
    daily_quota: int = 0
    hourly_quota: int = 0
    per_second: int = 0
    monthly_quota: int = 0
    warmup: str = ""  # a WARMUP_PLANS name
    warmup_day: int = 0


SERVERS = (
    SeedServer("Amazon SES", "ses", Decimal("0.10"), Decimal(0), 300, 1500, 60, 520, 560,
               daily_quota=1_500_000, per_second=200),
    SeedServer("SendGrid", "http_api", Decimal("0.55"), Decimal("89.95"), 200, 2000, 80, 500, 520,
               monthly_quota=30_000_000),
    SeedServer("Mailgun", "http_api", Decimal("0.80"), Decimal("35.00"), 150, 2600, 90, 480, 480,
               daily_quota=600_000, warmup="Fast 14 days", warmup_day=3),
    SeedServer("Own MTA Paris", "smtp", Decimal("0.04"), Decimal("450.00"), 200, 3200, 120, 450, 430,
               hourly_quota=60_000),
    SeedServer("Own MTA Frankfurt", "smtp", Decimal("0.04"), Decimal("450.00"), 150, 4000, 150, 430, 380,
               hourly_quota=60_000, warmup="Standard 30 days", warmup_day=12),
)
WARMUP_PLANS = {
    "Standard 30 days": [round(5000 * 1.2 ** day) for day in range(30)],
    "Fast 14 days": [round(20_000 * 1.35 ** day) for day in range(14)],
}
EXTRA_GROUP = ("GMX/Web.de", ("gmx.de", "web.de", "gmx.net"))
# What a sender of this volume sets per server and domain group (the defaults are for a first warm-up).
GROUP_LIMITS = {"Gmail": 60_000, "Yahoo/AOL": 30_000, "Microsoft": 40_000, "Apple": 20_000, "GMX/Web.de": 30_000}
# Mailbox domains of the subscribers, per mille, with the domain group routing puts them in.
DOMAINS = (
    ("gmail.com", "Gmail", 300), ("googlemail.com", "Gmail", 10), ("yahoo.com", "Yahoo/AOL", 90),
    ("aol.com", "Yahoo/AOL", 30), ("ymail.com", "Yahoo/AOL", 10), ("outlook.com", "Microsoft", 90),
    ("hotmail.com", "Microsoft", 80), ("live.com", "Microsoft", 20), ("icloud.com", "Apple", 80),
    ("me.com", "Apple", 10), ("gmx.de", "GMX/Web.de", 50), ("web.de", "GMX/Web.de", 40),
    ("gmx.net", "GMX/Web.de", 10), ("orange.fr", "Others", 40), ("comcast.net", "Others", 40),
    ("free.fr", "Others", 30), ("btinternet.com", "Others", 20), ("laposte.net", "Others", 20),
    ("shop-example.com", "Others", 30),
)
LISTS = (("Newsletter", Decimal(0)), ("Deals", Decimal("250.00")), ("Leads 2026", Decimal("1200.00")))
OFFERS = (Decimal("12.00"), Decimal("25.50"), Decimal("40.00"), Decimal("8.75"), Decimal("60.00"), Decimal("18.00"))
UNSUBSCRIBES = 150  # per 100,000 sent

# Drawn values: r(n, seed, m) is an integer in [0, m), u(n, seed) a float in [0, 1), both from a hash of n.
FUNCTIONS = (
    "CREATE FUNCTION pg_temp.r(n bigint, seed bigint, m integer) RETURNS integer LANGUAGE sql IMMUTABLE "
    "AS $$ SELECT ((hashint8extended(n, seed) & 2147483647) % m)::integer $$",
    "CREATE FUNCTION pg_temp.u(n bigint, seed bigint) RETURNS float8 LANGUAGE sql IMMUTABLE "
    "AS $$ SELECT (hashint8extended(n, seed) & 2147483647)::float8 / 2147483648 $$",
)


def midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


@dataclass(frozen=True)
class Dataset:
    workspace_id: int
    deliveries: int
    events: int
    first: date  # the first day seeded
    last: date  # the last day seeded

    @property
    def start(self) -> datetime:
        return midnight(self.first)

    @property
    def end(self) -> datetime:
        """The first moment after the seeded days."""
        return midnight(self.last + timedelta(days=1))


def note(message: str) -> None:
    print(f"[seed] {message}", file=sys.stderr, flush=True)


def dataset_of(row: Any) -> Dataset | None:
    found = NAMED.match(row["name"])
    if found is None:
        return None
    last = date.fromisoformat(found["last"])
    return Dataset(row["id"], int(found["deliveries"]), int(found["events"]), last - timedelta(days=DAYS - 1), last)


def workspace_name(deliveries: int, events: int, last: date, seeding: bool) -> str:
    return f"{SEEDING if seeding else NAME} {deliveries} deliveries {events} events to {last.isoformat()}"


async def seeded(deliveries: int, events: int) -> Dataset:
    """The workspace with `deliveries` and about `events`, seeded now unless a finished one is there."""
    connection = await asyncpg.connect(os.environ["DATABASE_URL"])
    try:
        kept = None
        for row in await connection.fetch("SELECT id, name FROM workspaces WHERE name LIKE $1 ORDER BY id",
                                          f"{NAME} %"):
            dataset = dataset_of(row)
            if dataset is None:
                continue
            if (kept is None and not row["name"].startswith(SEEDING) and dataset.deliveries == deliveries
                    and dataset.events == events):
                kept = dataset
            else:
                await drop(connection, dataset)
        if kept is not None:
            note(f"keeping workspace {kept.workspace_id}: {deliveries:,} deliveries to {kept.last}")
            return kept
        return await seed(connection, deliveries, events)
    finally:
        await connection.close()


def months(start: datetime, end: datetime) -> list[datetime]:
    """The first moments of the months [start, end) touches."""
    month, found = start.replace(day=1, hour=0, minute=0, second=0, microsecond=0), []
    while month < end:
        found.append(month)
        month = (month + timedelta(days=32)).replace(day=1)
    return found


def partition_name(month: datetime) -> str:
    return f"events_{month:%Y_%m}"


async def drop(connection: asyncpg.Connection, dataset: Dataset) -> None:
    """Remove a dataset: its events (a past month holding nothing else goes whole), then its workspace."""
    note(f"dropping workspace {dataset.workspace_id} ({dataset.deliveries:,} deliveries to {dataset.last})")
    this_month = datetime.now(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    for month in months(dataset.start, dataset.end + ENGAGEMENT_WINDOW):
        name = partition_name(month)
        if await connection.fetchval("SELECT to_regclass($1) IS NULL", name):
            continue
        others = await connection.fetchval(f"SELECT EXISTS (SELECT 1 FROM {name} WHERE workspace_id <> $1)",
                                           dataset.workspace_id)
        if month < this_month and not others:
            await connection.execute(f"ALTER TABLE events DETACH PARTITION {name}")
            await connection.execute(f"DROP TABLE {name}")
        else:
            await connection.execute(f"DELETE FROM {name} WHERE workspace_id = $1", dataset.workspace_id)
    await connection.execute("DELETE FROM events_default WHERE workspace_id = $1", dataset.workspace_id)
    await connection.execute("DELETE FROM workspaces WHERE id = $1", dataset.workspace_id)


async def timed(connection: asyncpg.Connection, what: str, sql: str, *args: Any) -> str:
    started = time.perf_counter()
    status = await connection.execute(sql, *args)
    note(f"{what}: {status} in {time.perf_counter() - started:.1f} s")
    return status


async def seed(connection: asyncpg.Connection, deliveries: int, events: int) -> Dataset:
    from app.services.accounts import create_workspace
    from app.services.lists import create_list
    from app.services.routing import domain_groups

    last = datetime.now(UTC).date() - timedelta(days=1)
    workspace = await create_workspace(workspace_name(deliveries, events, last, seeding=True))
    dataset = Dataset(workspace["id"], deliveries, events, last - timedelta(days=DAYS - 1), last)
    note(f"seeding workspace {dataset.workspace_id}: {deliveries:,} deliveries, {events:,} events, "
         f"{dataset.first} to {dataset.last}")
    started = time.perf_counter()
    await connection.execute("SET work_mem = '256MB'")
    await connection.execute("SET maintenance_work_mem = '1GB'")
    for function in FUNCTIONS:
        await connection.execute(function)
    await domain_groups(dataset.workspace_id)
    list_ids = [(await create_list(dataset.workspace_id, {"name": name}))["id"] for name, _ in LISTS]
    await settings(connection, dataset, list_ids)
    await audience(connection, dataset, list_ids, max(deliveries // 20, deliveries // CAMPAIGNS))
    await campaigns(connection, dataset, list_ids)
    await sends(connection, dataset)
    await feedback(connection, dataset)
    await engagement(connection, dataset)
    await counters(connection, dataset)
    for table in ("subscribers", "deliveries", "bounces", "conversions", "delivery_engagement", "feedback_counts",
                  "events"):
        await timed(connection, f"vacuum {table}", f"VACUUM (ANALYZE) {table}")
    await connection.execute("UPDATE workspaces SET name = $2 WHERE id = $1", dataset.workspace_id,
                             workspace_name(deliveries, events, last, seeding=False))
    note(f"seeded in {time.perf_counter() - started:.0f} s")
    return dataset


async def settings(connection: asyncpg.Connection, dataset: Dataset, list_ids: Sequence[int]) -> None:
    """Servers with their warm-up plans, the fifth domain group, list costs, other costs, the currency."""
    workspace = dataset.workspace_id
    plans = {name: await connection.fetchval(
        "INSERT INTO warmup_plans (workspace_id, name, daily_caps) VALUES ($1, $2, $3) RETURNING id",
        workspace, name, caps) for name, caps in WARMUP_PLANS.items()}
    for server in SERVERS:
        await connection.execute(
            "INSERT INTO delivery_servers (workspace_id, name, kind, status, from_email, per_second, hourly_quota, "
            "daily_quota, monthly_quota, cost_per_thousand, monthly_cost, warmup_plan_id, warmup_day, created_at, "
            "updated_at) VALUES ($1, $2, $3, $4, 'news@mail.example.com', $5, $6, $7, $8, $9, $10, $11, $12, $13, "
            "$13)", workspace, server.name, server.kind, "warmup" if server.warmup else "active", server.per_second,
            server.hourly_quota, server.daily_quota, server.monthly_quota, server.cost_per_thousand,
            server.monthly_cost, plans.get(server.warmup), server.warmup_day, dataset.start - timedelta(days=30))
    name, domains = EXTRA_GROUP
    await connection.execute(
        "INSERT INTO domain_groups (workspace_id, name, domains, position) "
        "SELECT $1, $2, $3, coalesce(max(position), 0) + 1 FROM domain_groups WHERE workspace_id = $1",
        workspace, name, list(domains))
    await connection.execute(
        "UPDATE domain_groups g SET hourly_limit = l.hourly_limit FROM unnest($2::text[], $3::integer[]) "
        "AS l(name, hourly_limit) WHERE g.workspace_id = $1 AND g.name = l.name", workspace, list(GROUP_LIMITS),
        list(GROUP_LIMITS.values()))
    await connection.execute("UPDATE lists SET created_at = $2 WHERE workspace_id = $1", workspace,
                             dataset.start - timedelta(days=30))
    for list_id, (_, monthly) in zip(list_ids, LISTS, strict=True):
        if monthly:
            await connection.execute("INSERT INTO list_costs (list_id, workspace_id, monthly_cost) VALUES ($1, $2, $3)",
                                     list_id, workspace, monthly)
    await connection.execute(
        "INSERT INTO cost_extras (workspace_id, name, amount, recurrence, on_date) VALUES "
        "($1, 'Inbox monitoring', 99.00, 'monthly', $2), ($1, 'Seed list audit', 450.00, 'once', $3)",
        workspace, dataset.first, dataset.first + timedelta(days=20))
    await connection.execute(
        "INSERT INTO tracking_settings (workspace_id, currency) VALUES ($1, $2) "
        "ON CONFLICT (workspace_id) DO UPDATE SET currency = excluded.currency", workspace, CURRENCY)
    # What the statements below join: the domains with their groups, the servers with their rates.
    await connection.execute("CREATE TEMP TABLE bench_domains (domain text, grp text, lo integer, hi integer)")
    low = 0
    for domain, group, weight in DOMAINS:
        await connection.execute("INSERT INTO bench_domains VALUES ($1, $2, $3, $4)", domain, group, low, low + weight)
        low += weight
    await connection.execute(
        "CREATE TEMP TABLE bench_servers AS SELECT s.id, b.lo, b.hi, b.bounces, b.complaints, b.engaged, "
        "b.conversions FROM delivery_servers s JOIN unnest($2::text[], $3::integer[], $4::integer[], $5::integer[], "
        "$6::integer[], $7::integer[], $8::integer[]) AS b(name, lo, hi, bounces, complaints, engaged, conversions) "
        "ON b.name = s.name WHERE s.workspace_id = $1", workspace, [s.name for s in SERVERS],
        [sum(s.share for s in SERVERS[:n]) for n in range(len(SERVERS))],
        [sum(s.share for s in SERVERS[:n + 1]) for n in range(len(SERVERS))], [s.bounces for s in SERVERS],
        [s.complaints for s in SERVERS], [s.engaged for s in SERVERS], [s.conversions for s in SERVERS])


async def audience(connection: asyncpg.Connection, dataset: Dataset, list_ids: Sequence[int], people: int) -> None:
    await timed(
        connection, "subscribers",
        "INSERT INTO subscribers (workspace_id, list_id, email, email_domain, status, source, confirmed_at, "
        "created_at, updated_at) "
        "SELECT $1, ($2::integer[])[1 + g % 3], 'user' || g || '@' || d.domain, d.domain, "
        "CASE WHEN pg_temp.r(g, 1, 100) < 3 THEN 'unsubscribed' WHEN pg_temp.r(g, 1, 100) < 4 THEN 'bounced' "
        "ELSE 'confirmed' END, 'import', at, at, at "
        "FROM generate_series(1, $3::integer) g "
        "CROSS JOIN LATERAL (SELECT $4::timestamptz - pg_temp.u(g, 2) * interval '400 days' AS at) t "
        "JOIN bench_domains d ON pg_temp.r(g, 3, 1000) >= d.lo AND pg_temp.r(g, 3, 1000) < d.hi",
        dataset.workspace_id, list(list_ids), people, dataset.start)
    await connection.execute(
        "CREATE TEMP TABLE bench_people AS SELECT (row_number() OVER (ORDER BY s.id) - 1)::integer AS ord, s.id, "
        "s.email, s.email_domain, d.grp FROM subscribers s JOIN bench_domains d ON d.domain = s.email_domain "
        "WHERE s.workspace_id = $1", dataset.workspace_id)
    await connection.execute("CREATE INDEX ON bench_people (ord)")
    await connection.execute("ANALYZE bench_people")


async def campaigns(connection: asyncpg.Connection, dataset: Dataset, list_ids: Sequence[int]) -> None:
    """CAMPAIGNS sent campaigns, one every 90 / CAMPAIGNS days, each starting between 6:00 and 12:00."""
    from benchmarks.tracking import HTML

    await connection.execute(
        "INSERT INTO campaigns (workspace_id, name, status, from_name, from_email, subject, list_ids, "
        "snapshot_subject, snapshot_html, snapshot_version, snapshot_at, started_at, finished_at, created_at, "
        "updated_at, utm) "
        "SELECT $1, 'Promo ' || (i + 1) || ' of ' || to_char(at, 'YYYY-MM-DD'), 'sent', 'Example Shop', "
        "'news@mail.example.com', 'Deals of the week', ARRAY[($2::integer[])[1 + i % 3]], 'Deals of the week', "
        "$3, 1, at, at, at + make_interval(hours => $5), at - interval '1 hour', at + make_interval(hours => $5), "
        "'{\"utm_source\": \"ignite\"}'::jsonb "
        "FROM generate_series(0, $6 - 1) i "
        "CROSS JOIN LATERAL (SELECT $4::timestamptz + i * ($7::interval / $6) "
        "+ make_interval(hours => 6 + (i * 5) % 7) AS at) t ORDER BY i",
        dataset.workspace_id, list(list_ids), HTML, dataset.start, SEND_HOURS, CAMPAIGNS, timedelta(days=DAYS))
    await connection.execute(
        "CREATE TEMP TABLE bench_campaigns AS SELECT (row_number() OVER (ORDER BY started_at, id) - 1)::integer "
        "AS ord, id, started_at FROM campaigns WHERE workspace_id = $1", dataset.workspace_id)


async def sends(connection: asyncpg.Connection, dataset: Dataset) -> None:
    """The deliveries: each campaign's share of the subscribers (no address twice), spread over its send."""
    people = await connection.fetchval("SELECT count(*) FROM bench_people")
    per_campaign = dataset.deliveries // CAMPAIGNS
    await timed(
        connection, "deliveries",
        "INSERT INTO deliveries (workspace_id, campaign_id, subscriber_id, email, domain, status, server_id, "
        "domain_group, attempts, last_answer, provider_message_id, next_attempt_at, sent_at, created_at, "
        "updated_at) "
        "SELECT $1, c.id, p.id, p.email, p.email_domain, CASE WHEN x.failed THEN 'failed' ELSE 'sent' END, s.id, "
        "p.grp, x.attempts, CASE WHEN x.failed THEN '550 5.1.1 <' || p.email || '>: Recipient address rejected' "
        "ELSE '250 2.0.0 Ok: queued' END, CASE WHEN x.failed THEN '' ELSE 'bench-' || n END, "
        "c.started_at, CASE WHEN x.failed THEN NULL ELSE x.at END, c.started_at - interval '10 minutes', x.at "
        "FROM generate_series(0, $2::bigint - 1) n "
        "JOIN bench_campaigns c ON c.ord = n / $3 "
        "JOIN bench_people p ON p.ord = (n % $3 + c.ord * 7919) % $4 "
        "JOIN bench_servers s ON pg_temp.r(n, 4, 1000) >= s.lo AND pg_temp.r(n, 4, 1000) < s.hi "
        "CROSS JOIN LATERAL (SELECT c.started_at + (n % $3) * make_interval(hours => $5) / $3 AS at, "
        "pg_temp.r(n, 5, 1000) < 25 AS failed, "
        "CASE WHEN pg_temp.r(n, 6, 100) < 3 THEN 2 WHEN pg_temp.r(n, 6, 100) < 4 THEN 3 ELSE 1 END AS attempts) x "
        "ORDER BY n",
        dataset.workspace_id, CAMPAIGNS * per_campaign, per_campaign, people, SEND_HOURS)


def _later(moment: str, seed: int) -> str:
    """A moment within the engagement window after `moment`, most of them early, never after the dataset."""
    return (f"{moment} + pg_temp.u(d.id, {seed}) ^ 2 * "
            f"least($3::interval, $2::timestamptz - {moment} - interval '1 minute')")


async def feedback(connection: asyncpg.Connection, dataset: Dataset) -> None:
    """Bounces and complaints, and conversions, at each server's rates."""
    await timed(
        connection, "bounces",
        "INSERT INTO bounces (workspace_id, delivery_id, campaign_id, subscriber_id, server_id, domain_group, email, "
        "category, status, reply_code, diagnostic, remote_mta, occurred_at) "
        "SELECT d.workspace_id, d.id, d.campaign_id, d.subscriber_id, d.server_id, d.domain_group, d.email, "
        "k.category, k.status, k.code, k.diagnostic, 'mx.' || d.domain, " + _later("d.sent_at", 7) + " "
        "FROM deliveries d JOIN bench_servers s ON s.id = d.server_id "
        "CROSS JOIN LATERAL (SELECT pg_temp.r(d.id, 8, 100000) AS r) x "
        "CROSS JOIN LATERAL (SELECT CASE WHEN x.r < s.complaints THEN 'complaint' "
        "WHEN x.r % 20 < 9 THEN 'hard' WHEN x.r % 20 < 16 THEN 'soft' ELSE 'block' END AS category) c "
        "CROSS JOIN LATERAL (SELECT CASE c.category WHEN 'hard' THEN '5.1.1' WHEN 'soft' THEN '4.2.2' "
        "WHEN 'block' THEN '5.7.1' ELSE '' END AS status, CASE c.category WHEN 'hard' THEN '550' "
        "WHEN 'soft' THEN '452' WHEN 'block' THEN '554' ELSE '' END AS code, c.category, "
        "CASE c.category WHEN 'hard' THEN 'user unknown' WHEN 'soft' THEN 'mailbox full' "
        "WHEN 'block' THEN 'blocked by policy' ELSE 'abuse report' END AS diagnostic) k "
        "WHERE d.workspace_id = $1 AND d.status = 'sent' AND x.r < s.complaints + s.bounces",
        dataset.workspace_id, dataset.end, ENGAGEMENT_WINDOW)
    await timed(
        connection, "conversions",
        "INSERT INTO conversions (workspace_id, transaction_id, event_name, delivery_id, campaign_id, subscriber_id, "
        "server_id, offer_id, revenue, currency, sub_ids, ip, created_at) "
        "SELECT d.workspace_id, 'bench-' || d.id, 'sale', d.id, d.campaign_id, d.subscriber_id, d.server_id, "
        "'offer-' || (1 + o.n), ($4::numeric[])[1 + o.n], $5, "
        "jsonb_build_object('sub1', d.campaign_id, 'sub3', d.id), '10.0.0.1', " + _later("d.sent_at", 9) + " "
        "FROM deliveries d JOIN bench_servers s ON s.id = d.server_id "
        "CROSS JOIN LATERAL (SELECT pg_temp.r(d.id, 10, 6) AS n) o "
        "WHERE d.workspace_id = $1 AND d.status = 'sent' AND pg_temp.r(d.id, 11, 100000) < s.conversions",
        dataset.workspace_id, dataset.end, ENGAGEMENT_WINDOW, list(OFFERS), CURRENCY)


# The events of the sent deliveries whose moment falls in [$4, $5): an engaged delivery's opens, clicks and
# robots' hits (its first a human or machine open), unsubscribes, and the conversions' events.
EVENTS = ("SELECT d.workspace_id, d.subscriber_id, d.campaign_id::bigint, d.id, k.kind, '', k.meta, k.at, "
          "'bench-' || d.id || '-' || g.n, k.link_index "
          "FROM deliveries d JOIN bench_servers s ON s.id = d.server_id "
          "CROSS JOIN LATERAL generate_series(1, 1 + pg_temp.r(d.id, 12, $6)) g(n) "
          "CROSS JOIN LATERAL (SELECT pg_temp.r(d.id * 64 + g.n, 13, 100) AS r) x "
          "CROSS JOIN LATERAL (SELECT CASE WHEN g.n = 1 THEN CASE WHEN x.r < 70 THEN 'open' ELSE 'machine_open' END "
          "WHEN x.r < 42 THEN 'open' WHEN x.r < 58 THEN 'machine_open' WHEN x.r < 84 THEN 'click' "
          "WHEN x.r < 96 THEN 'bot_click' ELSE 'web_view' END AS kind) y "
          "CROSS JOIN LATERAL (SELECT y.kind, CASE WHEN y.kind IN ('machine_open', 'bot_click') "
          "THEN '{\"rule\": \"bench\"}'::jsonb ELSE '{}'::jsonb END AS meta, "
          "CASE WHEN y.kind IN ('click', 'bot_click') THEN pg_temp.r(d.id + g.n, 14, 10)::smallint END AS link_index, "
          "d.sent_at + pg_temp.u(d.id * 64 + g.n, 15) ^ 2 "
          "* least($3::interval, $2::timestamptz - d.sent_at - interval '1 minute') AS at) k "
          "WHERE d.workspace_id = $1 AND d.status = 'sent' AND d.sent_at >= $4::timestamptz - $3::interval "
          "AND d.sent_at < $5::timestamptz AND pg_temp.r(d.id, 16, 1000) < s.engaged "
          "AND k.at >= $4::timestamptz AND k.at < $5::timestamptz "
          "UNION ALL "
          "SELECT d.workspace_id, d.subscriber_id, d.campaign_id, d.id, 'unsubscribe', '', "
          "'{\"via\": \"link\"}'::jsonb, k.at, NULL, NULL "
          "FROM deliveries d CROSS JOIN LATERAL (SELECT " + _later("d.sent_at", 17) + " AS at) k "
          "WHERE d.workspace_id = $1 AND d.status = 'sent' AND d.sent_at >= $4::timestamptz - $3::interval "
          "AND d.sent_at < $5::timestamptz AND pg_temp.r(d.id, 18, 100000) < $7 "
          "AND k.at >= $4::timestamptz AND k.at < $5::timestamptz "
          "UNION ALL "
          "SELECT c.workspace_id, c.subscriber_id, c.campaign_id, c.delivery_id, 'conversion', '', "
          "jsonb_build_object('conversion_id', c.id, 'transaction_id', c.transaction_id, 'event', c.event_name, "
          "'offer_id', c.offer_id, 'revenue', c.revenue, 'currency', c.currency), c.created_at, NULL, NULL "
          "FROM conversions c WHERE c.workspace_id = $1 AND c.created_at >= $4::timestamptz "
          "AND c.created_at < $5::timestamptz")
EVENT_COLUMNS = ("workspace_id, subscriber_id, campaign_id, delivery_id, kind, url, meta, occurred_at, stream_id, "
                 "link_index")


async def engagement(connection: asyncpg.Connection, dataset: Dataset) -> None:
    """The events, month by month, then each delivery's opens and clicks."""
    workspace = dataset.workspace_id
    engaged = await connection.fetchval(
        "SELECT count(*) FROM deliveries d JOIN bench_servers s ON s.id = d.server_id "
        "WHERE d.workspace_id = $1 AND d.status = 'sent' AND pg_temp.r(d.id, 16, 1000) < s.engaged", workspace)
    sent = await connection.fetchval("SELECT count(*) FROM deliveries WHERE workspace_id = $1 AND status = 'sent'",
                                     workspace)
    others = await connection.fetchval("SELECT count(*) FROM conversions WHERE workspace_id = $1", workspace)
    others += sent * UNSUBSCRIBES // 100_000
    # An engaged delivery has 1 + r(spread) events, (spread + 1) / 2 on average.
    spread = max(1, round(2 * (dataset.events - others) / max(engaged, 1) - 1))
    arguments = (workspace, dataset.end, ENGAGEMENT_WINDOW)
    for month in months(dataset.start, dataset.end):
        following = (month + timedelta(days=32)).replace(day=1)
        await load_month(connection, month, following,
                         (*arguments, max(month, dataset.start), min(following, dataset.end), spread, UNSUBSCRIBES))
    await timed(
        connection, "delivery_engagement",
        "INSERT INTO delivery_engagement (delivery_id, workspace_id, campaign_id, opens, clicks, first_open_at, "
        "last_open_at, first_click_at, last_click_at) "
        "SELECT delivery_id, min(workspace_id), min(campaign_id), count(*) FILTER (WHERE kind = 'open'), "
        "count(*) FILTER (WHERE kind = 'click'), min(occurred_at) FILTER (WHERE kind = 'open'), "
        "max(occurred_at) FILTER (WHERE kind = 'open'), min(occurred_at) FILTER (WHERE kind = 'click'), "
        "max(occurred_at) FILTER (WHERE kind = 'click') "
        "FROM events WHERE workspace_id = $1 AND kind IN ('open', 'click') AND occurred_at >= $2 "
        "AND occurred_at < $3 GROUP BY delivery_id", workspace, dataset.start, dataset.end)


async def load_month(connection: asyncpg.Connection, month: datetime, following: datetime,
                     arguments: tuple[Any, ...]) -> None:
    """A month of events: into a new partition, indexed as the table is and then attached, when the month has
    none yet; through the table otherwise."""
    name = partition_name(month)
    if not await connection.fetchval("SELECT to_regclass($1) IS NULL", name):
        await timed(connection, f"events into {name}",
                    f"INSERT INTO events ({EVENT_COLUMNS}) SELECT * FROM ({EVENTS}) e ORDER BY 8", *arguments)
        return
    await connection.execute(f"CREATE TABLE {name} (LIKE events INCLUDING DEFAULTS INCLUDING CONSTRAINTS)")
    await timed(connection, f"events into new {name}",
                f"INSERT INTO {name} ({EVENT_COLUMNS}) SELECT * FROM ({EVENTS}) e ORDER BY 8", *arguments)
    for index in await connection.fetch(
            "SELECT c.relname AS name, i.indisprimary AS primary_key, pg_get_indexdef(i.indexrelid) AS definition "
            "FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = 'events'::regclass"):
        columns = re.search(r"USING \w+ \((.*?)\)( WHERE .*)?$", index["definition"])
        assert columns is not None, index["definition"]
        if index["primary_key"]:
            sql = f"ALTER TABLE {name} ADD PRIMARY KEY ({columns[1]})"
        else:
            sql = re.sub(r" INDEX \S+ ON (ONLY )?\S+ ",
                         f" INDEX {name}_{index['name'].removeprefix('events_')} ON {name} ", index["definition"])
        await timed(connection, f"{name}: {index['name']}", sql)
    await timed(connection, f"attach {name}",
                f"ALTER TABLE events ATTACH PARTITION {name} FOR VALUES FROM ('{month.isoformat()}') "
                f"TO ('{following.isoformat()}')")


async def counters(connection: asyncpg.Connection, dataset: Dataset) -> None:
    """What the writers keep beside the raw rows: campaign figures and counters, hourly feedback counts."""
    workspace = dataset.workspace_id
    await timed(
        connection, "campaign_engagement",
        "INSERT INTO campaign_engagement (campaign_id, workspace_id, opens, unique_opens, clicks, unique_clicks, "
        "machine_opens, bot_clicks, web_views, unsubscribes, conversions, revenue) "
        "SELECT c.id, $1, coalesce(e.opens, 0), coalesce(g.unique_opens, 0), coalesce(e.clicks, 0), "
        "coalesce(g.unique_clicks, 0), coalesce(e.machine_opens, 0), coalesce(e.bot_clicks, 0), "
        "coalesce(e.web_views, 0), coalesce(e.unsubscribes, 0), coalesce(v.conversions, 0), coalesce(v.revenue, 0) "
        "FROM bench_campaigns c "
        "LEFT JOIN (SELECT campaign_id, count(*) FILTER (WHERE kind = 'open') AS opens, "
        "count(*) FILTER (WHERE kind = 'click') AS clicks, count(*) FILTER (WHERE kind = 'machine_open') "
        "AS machine_opens, count(*) FILTER (WHERE kind = 'bot_click') AS bot_clicks, "
        "count(*) FILTER (WHERE kind = 'web_view') AS web_views, "
        "count(DISTINCT subscriber_id) FILTER (WHERE kind = 'unsubscribe') AS unsubscribes "
        "FROM events WHERE workspace_id = $1 AND occurred_at >= $2 AND occurred_at < $3 GROUP BY campaign_id) e "
        "ON e.campaign_id = c.id "
        "LEFT JOIN (SELECT campaign_id, count(*) FILTER (WHERE opens > 0) AS unique_opens, "
        "count(*) FILTER (WHERE clicks > 0) AS unique_clicks FROM delivery_engagement WHERE workspace_id = $1 "
        "GROUP BY campaign_id) g ON g.campaign_id = c.id "
        "LEFT JOIN (SELECT campaign_id, count(*) AS conversions, sum(revenue) AS revenue FROM conversions "
        "WHERE workspace_id = $1 GROUP BY campaign_id) v ON v.campaign_id = c.id",
        workspace, dataset.start, dataset.end)
    await timed(
        connection, "campaign counters",
        "WITH per AS ("
        "SELECT campaign_id, 'servers' AS kind, server_id::text AS name, status, count(*) AS n FROM deliveries "
        "WHERE workspace_id = $1 GROUP BY 1, 3, 4 "
        "UNION ALL SELECT campaign_id, 'groups', domain_group, status, count(*) FROM deliveries "
        "WHERE workspace_id = $1 GROUP BY 1, 3, 4"
        "), named AS (SELECT campaign_id, kind, name, jsonb_object_agg(status, n) AS v FROM per GROUP BY 1, 2, 3"
        "), kinds AS (SELECT campaign_id, kind, jsonb_object_agg(name, v) AS v FROM named GROUP BY 1, 2"
        "), shaped AS (SELECT campaign_id, jsonb_object_agg(kind, v) AS breakdown FROM kinds GROUP BY 1"
        "), totals AS (SELECT campaign_id, count(*) AS recipients, count(*) FILTER (WHERE status = 'sent') AS sent, "
        "count(*) FILTER (WHERE status = 'failed') AS failed, sum(attempts - 1) AS deferred FROM deliveries "
        "WHERE workspace_id = $1 GROUP BY 1) "
        "UPDATE campaigns c SET recipient_count = t.recipients, sent_count = t.sent, failed_count = t.failed, "
        "deferred_count = t.deferred, breakdown = s.breakdown, counted_at = c.finished_at "
        "FROM totals t JOIN shaped s USING (campaign_id) WHERE c.id = t.campaign_id AND c.workspace_id = $1",
        workspace)
    await timed(
        connection, "feedback_counts",
        "INSERT INTO feedback_counts (workspace_id, hour, server_id, domain_group, campaign_id, sent, hard, soft, "
        "block, complaint) "
        "SELECT $1, hour, server_id, domain_group, campaign_id, sum(sent), sum(hard), sum(soft), sum(block), "
        "sum(complaint) FROM ("
        "SELECT date_trunc('hour', sent_at, 'UTC') AS hour, server_id, domain_group, campaign_id, 1 AS sent, "
        "0 AS hard, 0 AS soft, 0 AS block, 0 AS complaint FROM deliveries WHERE workspace_id = $1 AND status = 'sent' "
        "UNION ALL SELECT date_trunc('hour', occurred_at, 'UTC'), server_id, domain_group, campaign_id, 0, "
        "(category = 'hard')::integer, (category = 'soft')::integer, (category = 'block')::integer, "
        "(category = 'complaint')::integer FROM bounces WHERE workspace_id = $1) f "
        "GROUP BY hour, server_id, domain_group, campaign_id", workspace)
