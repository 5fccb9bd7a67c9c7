"""Audience figures: a 1,000,000-row CSV with 10 custom fields imported into an empty list, the subscriber page
searched on it, and export speed.

    .venv/bin/python benchmarks/audience.py [--quick]

Prints one `name: value unit` line per figure. The import figure is end to
end through the import service (create, map, run to completion) in this
process; the subscriber page figures are the p95 of the whole page for each
kind of search (SEARCHES); the export figure streams the imported list to
nowhere. Uses
DATABASE_URL / REDIS_URL when set, else embedded servers under .data/bench.
`--quick` uses 50,000 rows. More figures are added to FIGURES.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import random
import shutil
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.settings import data_dir

BENCH = data_dir() / "bench"
FIELDS = [
    ("first_name", "text"), ("last_name", "text"), ("city", "text"), ("country", "text"), ("company", "text"),
    ("phone", "phone"), ("age", "number"), ("score", "number"), ("signup_date", "date"), ("plan", "dropdown"),
]
FIRST = ("Ann", "Bob", "Chloé", "Dmitri", "Eve", "Farah", "Gus", "Hana", "Ivan", "Jo")
CITIES = ("Paris", "Berlin", "Lisbon", "Austin", "Osaka", "Lagos", "Lima", "Oslo", "São Paulo", "Zürich")


@dataclass
class Context:
    rows: int
    workspace_id: int = 0
    list_id: int = 0
    figures: dict[str, str] = field(default_factory=dict)


def write_csv(path: Path, rows: int) -> None:
    """A realistic file: mixed-case addresses, accents, numbers and dates; kept between runs."""
    if path.exists():
        return
    randomly = random.Random(7)
    partial = path.with_suffix(".partial")
    with partial.open("w", newline="", encoding="utf-8") as target:
        writer = csv.writer(target)
        writer.writerow(["Email", *[tag.replace("_", " ").title() for tag, _ in FIELDS]])
        for i in range(rows):
            writer.writerow([
                f"User.{i}@Example{i % 97}.com", FIRST[i % 10], f"Surname{i}", CITIES[i % 10], "FR",
                f"Company {i % 5000}", f"+33 6 {i % 100:02d} {i % 89:02d} 00 00", randomly.randint(18, 90),
                f"{randomly.random() * 100:.2f}", f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}", ("Free", "Pro")[i % 2],
            ])
    partial.replace(path)


async def setup(context: Context) -> None:
    import asyncpg

    from app.db.audience import ListField, MailingList
    from app.services.accounts import create_workspace
    from app.services.lists import create_list

    # Earlier runs leave a million deleted rows behind; every run starts from the same clean table.
    connection = await asyncpg.connect(os.environ["DATABASE_URL"])
    try:
        await connection.execute("VACUUM (ANALYZE) subscribers")
    finally:
        await connection.close()

    workspace = await create_workspace(f"Bench {int(time.time())}")
    context.workspace_id = workspace["id"]
    created = await create_list(workspace["id"], {"name": "Benchmark"})
    context.list_id = created["id"]
    for position, (tag, kind) in enumerate(FIELDS):
        await ListField.insert(ListField(
            workspace_id=workspace["id"], list_id=created["id"], tag=tag, label=tag.replace("_", " ").title(),
            kind=kind, position=position, options=["Free", "Pro"] if kind == "dropdown" else [],
        ))
    assert await MailingList.exists().where(MailingList.id == created["id"])


async def import_figure(context: Context) -> None:
    from app.redis_client import get_redis
    from app.services import imports

    source = BENCH / f"audience-{context.rows}.csv"
    write_csv(source, context.rows)
    folder = imports.incoming_folder()
    folder.mkdir(parents=True, exist_ok=True)
    arrived = folder / source.name
    shutil.copyfile(source, arrived)
    received = imports.ReceivedUpload(path=arrived, filename=source.name, size=arrived.stat().st_size)

    started = time.perf_counter()
    stored = await imports.keep_upload(context.workspace_id, received)
    row = await imports.create_from_upload(context.workspace_id, context.list_id, None, stored)
    analysis, _ = await imports.analyse_import(context.workspace_id, row, {})
    row = await imports.start(context.workspace_id, row["id"], {c.index: c.suggestion for c in analysis.columns},
                              "add", {})
    final = await imports.run_import(context.workspace_id, row["id"], get_redis())
    elapsed = time.perf_counter() - started
    if final is None or final["inserted"] != context.rows:
        raise SystemExit(f"import did not load every row: {final}")
    size = "1m" if context.rows == 1_000_000 else f"{context.rows // 1000}k"
    context.figures[f"import_{size}_rows_s"] = f"{elapsed:.1f} s"


async def export_figure(context: Context) -> None:
    from app.services import exports

    selection = exports.list_selection(context.list_id)
    started = time.perf_counter()
    lines = 0
    async for chunk in exports.subscribers_csv(context.workspace_id, selection, [tag for tag, _ in FIELDS]):
        lines += chunk.count(b"\n")
    elapsed = time.perf_counter() - started
    if lines - 1 != context.rows:
        raise SystemExit(f"export wrote {lines - 1} rows, expected {context.rows}")
    context.figures["export_rows_per_s"] = f"{context.rows / elapsed:,.0f} rows/s".replace(",", "")


# The searches timed on the subscriber page, each with the query parameters of its i-th request and a text the
# page must then show: an email prefix (the figure the README has always given), a domain, text in the middle of
# addresses, a first name (accents and case ignored, its column shown), a field value whatever its case.
SEARCHES: dict[str, Callable[[Context, int], tuple[dict, str]]] = {
    "subscriber_page_p95_ms": lambda c, i: ({"q": f"user.{(i * 7919) % c.rows}"}, f"user.{(i * 7919) % c.rows}"),
    "subscriber_page_domain_p95_ms": lambda c, i: ({"q": f"@example{i % 97}.com"}, f"@example{i % 97}.com"),
    "subscriber_page_substring_p95_ms": lambda c, i: ({"q": f"{(i * 7919) % c.rows}@example"},
                                                      f"{(i * 7919) % c.rows}@example"),
    "subscriber_page_name_p95_ms": lambda c, i: ({"q": FIRST[i % 10].upper(), "columns": "first_name"},
                                                 "subscribers match"),
    "subscriber_page_field_p95_ms": lambda c, i: ({"q": f"city={CITIES[i % 10].lower()}"}, "subscribers match"),
}


async def subscriber_page_figure(context: Context) -> None:
    """p95 of the whole subscriber page (routing, queries, template) for each search in SEARCHES, over HTTP/ASGI."""
    import logging
    import statistics

    import httpx

    from app.main import create_app, database_pool
    from app.services.accounts import add_member, create_user

    logging.getLogger("httpx").setLevel(logging.WARNING)
    password = "benchmark password 1"
    user = await create_user(f"bench{int(time.time())}@example.com", password)
    await add_member(context.workspace_id, user["id"], "owner")
    app = create_app()
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    async with database_pool(app), httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as client:
        await client.get("/login")
        token = client.cookies.get("ignite_csrf", "")
        await client.post("/login", data={"email": user["email"], "password": password, "_csrf_token": token})
        for name, search in SEARCHES.items():
            timings = []
            for i in range(200):
                params, expected = search(context, i)
                started = time.perf_counter()
                response = await client.get("/mailing/subscribers", params={"list_id": context.list_id, **params})
                timings.append((time.perf_counter() - started) * 1000)
                if response.status_code != 200 or expected not in response.text:
                    raise SystemExit(f"subscriber page failed for {params}: {response.status_code}")
            context.figures[name] = f"{statistics.quantiles(timings, n=20)[18]:.1f} ms"


async def teardown(context: Context) -> None:
    from app.db.accounts import Workspace

    await Workspace.delete().where(Workspace.id == context.workspace_id)


# Each figure adds its `name: value unit` lines to the context; they run in this order on the same list.
FIGURES: list[Callable[[Context], Awaitable[None]]] = [import_figure, subscriber_page_figure, export_figure]


async def run(rows: int) -> None:
    from app.db.migrating import migrate

    await migrate()
    context = Context(rows=rows)
    await setup(context)
    try:
        for figure in FIGURES:
            await figure(context)
            for name, value in context.figures.items():
                print(f"{name}: {value}", flush=True)
            context.figures.clear()
    finally:
        await teardown(context)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="50,000 rows instead of 1,000,000")
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL"):
        from app.embedded import ensure_services

        ensure_services(BENCH, 54339, 63809)
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    asyncio.run(run(50_000 if args.quick else 1_000_000))


if __name__ == "__main__":
    main()
