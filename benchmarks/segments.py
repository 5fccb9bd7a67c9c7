"""Segment count latency: a 3-condition segment over 1,000,000 subscribers with 10 custom fields in one list.

Seeds the list once with one set-based INSERT ... SELECT generate_series (and
reuses it on later runs), then times `segments.count()` as the builder calls
it, validation included, and prints the median of several runs:

    .venv/bin/python benchmarks/segments.py [--quick] [--explain]

Without DATABASE_URL it starts (or reuses) embedded PostgreSQL and Redis under
.data/bench on ports 54339/63809. --quick seeds 50,000 rows instead.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time

FULL_ROWS = 1_000_000
QUICK_ROWS = 50_000
RUNS = 7
PG_PORT, REDIS_PORT = 54339, 63809
FIELDS = [("first_name", "text"), ("city", "text"), ("country", "text"), ("age", "number"), ("plan", "dropdown"),
          ("signup_date", "date"), ("score", "number"), ("vip", "checkbox"), ("referrer", "text"), ("phone", "phone")]
# Roughly 1 in 100 subscribers matches, after statuses and suppression are subtracted.
SEGMENT = {"match": "all", "rules": [
    {"kind": "field", "field": "city", "op": "equals", "value": "Paris"},
    {"kind": "field", "field": "age", "op": "gt", "value": "40"},
    {"kind": "last_open", "op": "within_days", "value": 90},
]}
SEED = """
INSERT INTO subscribers (workspace_id, list_id, email, email_domain, status, fields, engagement_score,
                         last_open_at, last_click_at, confirmed_at, created_at)
SELECT $1, $2, 'user' || g || '@' || d.domain, d.domain,
  (ARRAY['confirmed', 'confirmed', 'confirmed', 'confirmed', 'confirmed', 'confirmed', 'confirmed', 'confirmed',
         'unsubscribed', 'unconfirmed'])[1 + g % 10],
  jsonb_build_object(
    'first_name', 'Name' || (g % 5000),
    'city', (ARRAY['Paris', 'Berlin', 'Lisbon', 'Austin', 'Osaka', 'Lagos', 'Lima', 'Oslo', 'Rome',
                   'Quito'])[1 + g % 10],
    'country', (ARRAY['FR', 'DE', 'PT', 'US', 'JP', 'NG', 'PE', 'NO', 'IT', 'EC', 'GB', 'ES'])[1 + (g / 7) % 12],
    'age', 18 + (g * 7) % 63,
    'plan', (ARRAY['free', 'pro', 'enterprise'])[1 + (g / 3) % 3],
    'signup_date', to_char(date '2020-01-01' + (g % 2000), 'YYYY-MM-DD'),
    'score', (g * 13) % 1000,
    'vip', g % 17 = 0,
    'referrer', 'partner' || (g % 40),
    'phone', '+1555' || lpad((g % 10000000)::text, 7, '0')),
  (g * 31) % 101,
  CASE WHEN g % 3 = 0 THEN NULL ELSE now() - make_interval(days => g % 400) END,
  CASE WHEN g % 5 = 0 THEN now() - make_interval(days => g % 200) END,
  now(), now() - make_interval(days => g % 1500)
FROM generate_series(1, $3) g,
  LATERAL (SELECT (ARRAY['gmail.com', 'yahoo.com', 'outlook.com', 'hotmail.com', 'aol.com', 'icloud.com', 'mail.ru',
                         'gmx.de', 'web.de', 'proton.me'])[1 + (g / 11) % 10] AS domain) d
"""


def start_services() -> None:
    """Embedded servers when no DATABASE_URL is given; must run before app modules read the environment."""
    if os.environ.get("DATABASE_URL"):
        return
    from app.embedded import ensure_services
    from app.settings import data_dir

    ensure_services(data_dir() / "bench", PG_PORT, REDIS_PORT)


async def seeded_list(rows: int) -> tuple[int, int]:
    """(workspace id, list id) of a list holding exactly `rows` subscribers, seeding it when needed."""
    import asyncpg

    connection = await asyncpg.connect(os.environ["DATABASE_URL"])
    try:
        slug = f"segment-benchmark-{rows}"
        workspace_id = await connection.fetchval(
            "INSERT INTO workspaces (name, slug) VALUES ($1, $1) ON CONFLICT (slug) DO UPDATE SET name = excluded.name "
            "RETURNING id", slug)
        list_id = await connection.fetchval("SELECT id FROM lists WHERE workspace_id = $1", workspace_id)
        total = await connection.fetchval("SELECT total FROM list_counters WHERE list_id = $1", list_id)
        if total == rows:
            return workspace_id, list_id
        print(f"seeding {rows:,} subscribers ...", file=sys.stderr)
        started = time.perf_counter()
        async with connection.transaction():
            await connection.execute("DELETE FROM lists WHERE workspace_id = $1", workspace_id)
            await connection.execute("DELETE FROM suppression_lists WHERE workspace_id = $1", workspace_id)
            list_id = await connection.fetchval(
                "INSERT INTO lists (workspace_id, name) VALUES ($1, 'Benchmark') RETURNING id", workspace_id)
            await connection.executemany(
                "INSERT INTO list_fields (workspace_id, list_id, label, tag, kind, position) "
                "VALUES ($1, $2, $3, $3, $4, $5)",
                [(workspace_id, list_id, tag, kind, position) for position, (tag, kind) in enumerate(FIELDS)])
            await connection.execute(SEED, workspace_id, list_id, rows)
            # A realistic blacklist: every probe kind present, so the plan pays for each anti-join.
            blacklist = await connection.fetchval(
                "INSERT INTO suppression_lists (workspace_id, name, is_blacklist) VALUES ($1, 'Blacklist', true) "
                "RETURNING id", workspace_id)
            await connection.execute(
                "INSERT INTO suppression_entries (workspace_id, suppression_list_id, kind, value) "
                "SELECT $1::int, $2::int, 'email', 'user' || g || '@gmail.com' FROM generate_series(1, 1000) g "
                "UNION ALL "
                "SELECT $1, $2, 'md5', md5('user' || g || '@yahoo.com') FROM generate_series(1, 1000) g UNION ALL "
                "SELECT $1, $2, 'sha256', encode(sha256(convert_to('user' || g || '@aol.com', 'UTF8')), 'hex') "
                "FROM generate_series(1, 1000) g UNION ALL SELECT $1, $2, 'domain', 'mail.ru'",
                workspace_id, blacklist)
        # Fresh statistics and a visibility map, as autovacuum would leave them on a live system.
        await connection.execute("VACUUM ANALYZE subscribers")
        await connection.execute("VACUUM ANALYZE suppression_entries")
        print(f"seeded in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        return workspace_id, list_id
    finally:
        await connection.close()


async def explain(workspace_id: int, definition: dict) -> None:
    import asyncpg

    from app.services import segments

    query, params = await segments.matching_ids_query(workspace_id, definition)
    connection = await asyncpg.connect(os.environ["DATABASE_URL"])
    try:
        rows = await connection.fetch(f"EXPLAIN (ANALYZE, BUFFERS) SELECT count(*) FROM ({query}) m", *params.values)
    finally:
        await connection.close()
    print("\n".join(row[0] for row in rows), file=sys.stderr)


async def main(rows: int, show_plan: bool) -> None:
    from app.db.migrating import migrate
    from app.piccolo_conf import DB
    from app.services import segments

    await migrate()
    workspace_id, list_id = await seeded_list(rows)
    definition = {"list_ids": [list_id], "conditions": SEGMENT}
    await DB.start_connection_pool(min_size=1, max_size=2)
    try:
        matched = await segments.count(workspace_id, definition)  # warms the cache and the connection
        timings = []
        for _ in range(RUNS):
            started = time.perf_counter()
            await segments.count(workspace_id, definition)
            timings.append((time.perf_counter() - started) * 1000)
    finally:
        await DB.close_connection_pool()
    if show_plan:
        await explain(workspace_id, definition)
    print(f"{rows:,} subscribers, {matched:,} match; runs: {', '.join(f'{t:.0f}' for t in timings)} ms",
          file=sys.stderr)
    print(f"segment_count_ms: {statistics.median(timings):.0f} ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_ROWS:,} subscribers instead of {FULL_ROWS:,}")
    parser.add_argument("--explain", action="store_true", help="also print EXPLAIN ANALYZE of the count")
    arguments = parser.parse_args()
    start_services()
    asyncio.run(main(QUICK_ROWS if arguments.quick else FULL_ROWS, arguments.explain))
