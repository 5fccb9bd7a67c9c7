"""Materialising a campaign with per-recipient timing and the "sent a campaign lately" exclusion.

    .venv/bin/python benchmarks/campaign_timing.py [--quick]

One list of 100,000 subscribers (`--quick`: 20,000) spread over time zones and
countries, three earlier campaigns that each sent to a third of them (5, 25
and 45 days ago, 100,000 sent deliveries in all), and two open events per subscriber for a third of them. Each figure
is the time to write every delivery of a fresh campaign (launch and the
materialiser, without sending): sent now, with the 30-day exclusion, in each
recipient's local time inside a window, and at each one's best hour. Prints
one `name: value unit` line per figure. Uses DATABASE_URL / REDIS_URL when set,
else embedded servers under .data/bench-timing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.settings import data_dir

BENCH = data_dir() / "bench-timing"
ZONES = ("", "", "Europe/Berlin", "America/New_York", "Asia/Tokyo", "Australia/Sydney")
COUNTRIES = ("FR", "US", "Japan", "", "BR")
EARLIER_CAMPAIGNS = 3


class NoQueue:
    """Batches are not sent: the figure is the writing of the deliveries alone."""

    def send_batch(self, workspace_id: int, campaign_id: int, first_id: int, last_id: int,
                   delay_seconds: float = 0.0) -> None:
        return None

    def materialise(self, workspace_id: int, campaign_id: int) -> None:
        return None


@dataclass
class Setup:
    workspace_id: int
    list_id: int
    template_id: int


async def _setup(rows: int) -> Setup:
    from app.services.accounts import create_workspace
    from app.services.lists import create_list
    from app.services.sending_domains import add_domain
    from app.services.sqlparams import Params, fetch
    from app.services.templates import create_template

    workspace = await create_workspace(f"Timing {time.time_ns()}")
    mailing_list = await create_list(workspace["id"], {"name": "Everyone"})
    params = Params()
    ws, ls = params.add(workspace["id"]), params.add(mailing_list["id"])
    zones, countries = params.add(list(ZONES)), params.add(list(COUNTRIES))
    await fetch(
        "INSERT INTO subscribers (workspace_id, list_id, email, email_domain, status, fields, timezone, confirmed_at) "
        f"SELECT {ws}, {ls}, 'user' || g || '@example' || (g % 50) || '.com', 'example' || (g % 50) || '.com', "
        f"'confirmed', jsonb_build_object('country', ({countries}::text[])[1 + g % 5]), "
        f"({zones}::text[])[1 + g % 6], now() FROM generate_series(1, {params.add(rows)}) g", params)
    for number in range(EARLIER_CAMPAIGNS):
        params = Params()
        ws = params.add(workspace["id"])
        campaign = await fetch(
            f"INSERT INTO campaigns (workspace_id, name, status, created_at, updated_at) "
            f"VALUES ({ws}, {params.add(f'Earlier {number}')}, 'sent', now(), now()) RETURNING id", params)
        params = Params()
        ws = params.add(workspace["id"])
        await fetch(
            "INSERT INTO deliveries (workspace_id, campaign_id, subscriber_id, email, domain, status, sent_at) "
            f"SELECT {ws}, {params.add(campaign[0]['id'])}, s.id, s.email, s.email_domain, 'sent', "
            f"now() - make_interval(days => {params.add(number * 20 + 5)}::integer) "
            f"FROM subscribers s WHERE s.list_id = {params.add(mailing_list['id'])} "
            f"AND s.id % {EARLIER_CAMPAIGNS} = {params.add(number)}", params)
    params = Params()
    ws = params.add(workspace["id"])
    await fetch(
        "INSERT INTO events (workspace_id, subscriber_id, kind, occurred_at) "
        f"SELECT {ws}, s.id, 'open', now() - make_interval(days => k * 3, hours => (s.id % 24)::integer) "
        f"FROM subscribers s CROSS JOIN generate_series(1, 2) k "
        f"WHERE s.list_id = {params.add(mailing_list['id'])} AND s.id % 3 = 0", params)
    await fetch("ANALYZE subscribers")
    await fetch("ANALYZE deliveries")
    await fetch("ANALYZE events")
    domain = await add_domain(workspace["id"], "news.example.com")
    params = Params()
    await fetch("UPDATE sending_domains SET checked_at = now(), dns_status = '{\"SPF\": true, \"DKIM\": true}' "
                f"WHERE id = {params.add(domain['id'])}", params)
    template = await create_template(workspace["id"], {
        "name": "T", "subject": "Hi",
        "html": '<p>Hi</p><p><a href="{{ unsubscribe_url }}">Unsubscribe</a> {{ physical_address }}</p>'}, None)
    return Setup(workspace["id"], mailing_list["id"], template["id"])


async def _materialise_seconds(setup: Setup, **choices: str) -> tuple[float, int]:
    from app.redis_client import get_redis
    from app.services import campaigns
    from app.services.audit import Actor
    from app.services.sqlparams import Params, fetch

    redis, queue = get_redis(), NoQueue()
    draft = await campaigns.create_draft(setup.workspace_id, {
        "name": "Measured", "from_email": "news@news.example.com", "template_id": str(setup.template_id),
        "list_ids": [str(setup.list_id)], **choices})
    started = time.perf_counter()
    launched = await campaigns.launch(redis, queue, setup.workspace_id, draft["id"],
                                      Actor(user_id=None, email="bench"))
    if launched["status"] == "scheduled":
        # Its time is far ahead: started as the scheduler would start it then.
        params = Params()
        await fetch("UPDATE campaigns SET status = 'sending', started_at = now() "
                    f"WHERE id = {params.add(draft['id'])}", params)
    await campaigns.materialise(redis, queue, setup.workspace_id, draft["id"])
    seconds = time.perf_counter() - started
    written = (await campaigns.get_campaign(setup.workspace_id, draft["id"]))["recipient_count"]
    await campaigns.cancel(redis, setup.workspace_id, draft["id"], Actor(user_id=None, email="bench"))
    return seconds, written


async def run(rows: int) -> None:
    from app.db.migrating import migrate

    await migrate()
    setup = await _setup(rows)
    cases = {
        "materialise_now": {},
        "materialise_exclude_recent": {"exclude_recent_days": "30"},
        "materialise_local_window": {"send_mode": "local", "scheduled_at": "2099-06-01T09:00",
                                     "window_start": "08:00", "window_end": "20:00"},
        "materialise_best_hour": {"send_mode": "best_hour", "scheduled_at": "2099-06-01T09:00"},
    }
    for name, choices in cases.items():
        seconds, written = await _materialise_seconds(setup, **choices)
        print(f"{name}_s: {seconds:.2f} s", flush=True)
        print(f"{name}_rows_per_s: {written / seconds:,.0f} rows/s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20,000 subscribers instead of 100,000")
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL"):
        from app.embedded import ensure_services

        ensure_services(BENCH, 54351, 63821)
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    asyncio.run(run(20_000 if args.quick else 100_000))


if __name__ == "__main__":
    main()
