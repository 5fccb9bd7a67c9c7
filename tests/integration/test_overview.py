"""The Mailing and Analytics overviews' panels, Analytics → Data imports, and every section answering."""

from __future__ import annotations

import re
from datetime import timedelta

from app.db.audience import Subscriber
from app.redis_client import get_redis
from app.routes.portals import PORTALS
from app.services import data_imports, delivery_servers, overview, suppression, warmup_plans
from app.services.accounts import now
from app.services.lists import counters as lists_counters
from app.services.lists import set_archived
from app.services.routing import BREAKER, quota_buckets
from app.services.sqlparams import Params, fetch
from app.services.throttling import acquire, record_failure
from tests.factories import login, make_list, make_subscribers, make_user, make_workspace, signed_in_client
from tests.integration.imports.helpers import import_file, upload, write


async def _run(sql: str, *values: object) -> None:
    params = Params()
    await fetch(sql.format(*(params.add(value) for value in values)), params)


async def test_audience_reads_the_counters_of_active_lists_of_this_workspace():
    workspace, other = await make_workspace(), await make_workspace()
    active, archived = await make_list(workspace), await make_list(workspace)
    await make_subscribers(active, 3)
    await make_subscribers(active, 2, status="unconfirmed", prefix="u")
    await make_subscribers(active, 1, status="blacklisted", prefix="b")
    await make_subscribers(archived, 5)
    await set_archived(workspace["id"], archived["id"], True)
    await make_subscribers(await make_list(other), 7)

    found = await overview.audience(workspace["id"])

    assert (found.lists, found.subscribers, found.mailable, found.unconfirmed, found.blacklisted) == (1, 6, 3, 2, 1)
    # Read from the counters, not counted: a counter the triggers keep is what the page shows.
    await _run("UPDATE list_counters SET total = 1000000, confirmed = 999000 WHERE list_id = {}", active["id"])
    found = await overview.audience(workspace["id"])
    assert (found.subscribers, found.mailable) == (1000000, 999000)


async def test_growth_is_thirty_zero_filled_days_of_joins_and_removals_ending_today():
    workspace, other = await make_workspace(), await make_workspace()
    mailing_list = await make_list(workspace)
    rows = await make_subscribers(mailing_list, 4)
    await Subscriber.delete().where(Subscriber.id == rows[0]["id"])
    await make_subscribers(await make_list(other), 9)
    today = now().date()
    for days_ago, joined in ((3, 7), (45, 100)):
        await _run("INSERT INTO list_daily_stats (workspace_id, list_id, day, joined) VALUES ({}, {}, {}, {})",
                   workspace["id"], mailing_list["id"], today - timedelta(days=days_ago), joined)

    points = await overview.growth(workspace["id"])

    assert len(points) == 30 and points[-1].day == today and points[0].day == today - timedelta(days=29)
    assert (points[-1].joined, points[-1].left) == (4, 1)
    assert points[-4].joined == 7
    assert sum(p.joined for p in points) == 11


async def test_imports_of_subscribers_and_suppression_files_are_listed_newest_first_in_keyset_pages(tmp_path):
    workspace, other = await make_workspace(), await make_workspace()
    mailing_list = await make_list(workspace, "Customers")
    people = write(tmp_path / "people.csv", "email\nann@example.com\nbob@example.com\nnot an address\n")
    added = await import_file(workspace["id"], mailing_list["id"], people)
    blocked = await import_file(workspace["id"], mailing_list["id"],
                                write(tmp_path / "blocked.csv", "email\nspam@example.com\n"), mode="suppress")
    waiting = await upload(workspace["id"], mailing_list["id"], people)
    await import_file(other["id"], (await make_list(other))["id"], people)

    first = await data_imports.import_page(workspace["id"], limit=2)

    assert [i.id for i in first.imports] == [waiting["id"], blocked["id"]]
    assert first.imports[0].status_label == "waiting for mapping"
    suppressed = first.imports[1]
    blacklist = await suppression.blacklist(workspace["id"])
    assert (suppressed.kind, suppressed.target, suppressed.status, suppressed.rejected) == (
        "suppression", blacklist["name"], "completed", 0)
    second = await data_imports.import_page(workspace["id"], before_id=first.next_before, limit=2)
    assert second.next_before is None
    [health] = second.imports
    assert (health.id, health.kind, health.target, health.rows, health.added, health.rejected, health.tone) == (
        added["id"], "subscribers", "Customers", 3, 2, 1, "warn")


async def test_servers_show_the_effective_cap_in_use_today_and_their_health():
    workspace, other = await make_workspace(), await make_workspace()
    plan = await warmup_plans.create_plan(workspace["id"], {"name": "Slow start", "daily_caps": "50, 100"})
    warming = await delivery_servers.create_server(workspace["id"], "capture", {"name": "A warming",
                                                                                "daily_quota": "1000"})
    await warmup_plans.assign(workspace["id"], warming["id"], plan["id"], 1, None)
    broken = await delivery_servers.create_server(workspace["id"], "capture", {"name": "B broken"})
    await delivery_servers.create_server(other["id"], "capture", {"name": "Not ours"})
    redis = get_redis()
    warming_row = await delivery_servers.get_server(workspace["id"], warming["id"])
    buckets, _ = quota_buckets(warming_row, await warmup_plans.plans_by_id(workspace["id"]))
    assert (await acquire(redis, buckets, tokens=20)).granted
    for _ in range(BREAKER.failure_threshold):
        await record_failure(redis, broken["id"], BREAKER, "421 try later")

    found = await overview.servers(redis, workspace["id"])

    assert [s.name for s in found] == ["A warming", "B broken"]
    first, second = found
    assert (first.daily_cap, first.warmup_cap, first.used_today, first.used_percent, first.problem) == (
        50, 50, 20, 40, "")
    assert (second.daily_cap, second.used_today) == (None, None)
    assert second.breaker.state.value == "open" and "421 try later" in second.problem


async def test_mailing_overview_shows_the_panels_and_only_members_who_may_change_see_actions(client, tmp_path):
    workspace, _ = await signed_in_client(client, role="marketer")
    mailing_list = await make_list(workspace, "Customers")
    await make_subscribers(mailing_list, 12)
    await import_file(workspace["id"], mailing_list["id"], write(tmp_path / "p.csv", "email\nann@example.com\n"))
    await delivery_servers.create_server(workspace["id"], "capture", {"name": "Capture one", "daily_quota": "500"})

    page = (await client.get("/mailing")).text

    assert re.search(r'data-testid="stat-subscribers"><span class="stat-value">13<', page)
    for testid in ("growth-chart", "import-health-", "overview-server-", "activity-feed", "overview-action-new-list"):
        assert f'data-testid="{testid}' in page, testid
    assert "0 of 500 used" in page

    analyst = await make_user(workspace, "analyst")
    client.cookies.clear()
    await login(client, analyst["email"])
    page = (await client.get("/mailing")).text
    assert 'data-testid="overview-read-only"' in page and 'data-testid="stat-subscribers"' in page
    assert "overview-action-" not in page


async def test_an_empty_overview_says_what_to_do_and_links_to_it(client):
    await signed_in_client(client)
    page = (await client.get("/mailing")).text
    for testid in ("overview-audience-new-list", "overview-imports-lists", "overview-servers-add",
                   "overview-servers-inbox"):
        assert f'data-testid="{testid}"' in page, testid


async def test_every_section_is_built_and_an_unknown_one_is_404(client):
    await signed_in_client(client)
    for portal, details in PORTALS.items():
        for section in details["sections"]:
            response = await client.get(f"/{portal}/{section.slug}")
            assert response.status_code == 200 and "not built yet" not in response.text, section.slug
    assert (await client.get("/mailing/no-such-section")).status_code == 404


async def test_data_imports_lists_the_workspace_imports_page_by_page(client, tmp_path):
    workspace, _ = await signed_in_client(client, role="analyst")
    mailing_list = await make_list(workspace, "Customers")
    assert "No imports yet" in (await client.get("/analytics/data-imports")).text
    for n in range(data_imports.PAGE_SIZE + 1):
        await upload(workspace["id"], mailing_list["id"], write(tmp_path / f"file{n}.csv", "email\na@example.com\n"))

    first = (await client.get("/analytics/data-imports")).text

    assert ">file25.csv<" in first and ">file1.csv<" in first and ">file0.csv<" not in first
    assert "No imports yet" not in first
    older = re.search(r'href="(/analytics/data-imports\?before=\d+)" data-testid="data-imports-older"', first)
    assert older
    second = (await client.get(older.group(1))).text
    assert ">file0.csv<" in second and ">file1.csv<" not in second and "data-imports-older" not in second
    assert ">file25.csv<" in (await client.get(f"/analytics/data-imports?before={2**40}")).text
    assert "No older imports" in (await client.get("/analytics/data-imports?before=-5")).text


async def test_audience_counts_subscribers_the_blacklist_matches_as_the_list_page_does():
    workspace = await make_workspace()
    mailing_list = await make_list(workspace)
    await make_subscribers(mailing_list, 4, prefix="kept")
    await make_subscribers(mailing_list, 2, status="unconfirmed", prefix="late")
    blacklist = await suppression.blacklist(workspace["id"])
    entries, _ = suppression.parse_lines("kept1@example.com\nlate1@example.com")
    await suppression.add_entries(workspace["id"], blacklist["id"], entries)

    found = await overview.audience(workspace["id"])

    counters = await lists_counters(workspace["id"], mailing_list["id"])
    assert (found.mailable, found.blacklisted) == (3, 2) == (counters["confirmed"] - 1, counters["blacklisted"])


async def test_the_analytics_overview_ranks_this_weeks_esps_by_revenue_per_thousand_and_shows_today(client):
    from tests.integration.analytics.money_seeds import performance_day

    workspace, _ = await signed_in_client(client, role="analyst")
    cheap = await delivery_servers.create_server(workspace["id"], "capture", {"name": "Cheap ESP"})
    rich = await delivery_servers.create_server(workspace["id"], "capture", {"name": "Rich ESP"})
    today = now().date()
    await performance_day(workspace["id"], today, server_id=cheap["id"], sent=10_000, revenue="20")
    await performance_day(workspace["id"], today - timedelta(days=3), server_id=rich["id"], sent=1_000, revenue="15")
    await performance_day(workspace["id"], today - timedelta(days=9), server_id=cheap["id"], sent=1, revenue="900")

    page = (await client.get("/analytics")).text

    rows = re.findall(r'data-testid="overview-week-esp">.*?</tr>', page, re.S)
    assert [("Rich ESP" in row, "Cheap ESP" in row) for row in rows] == [(True, False), (False, True)]
    assert "15.00" in rows[0] and "10,000" in rows[1] and "2.00" in rows[1]
    assert 'data-testid="pnl-today"' in page and 'data-testid="overview-week-esps-empty"' not in page
    await signed_in_client(client, role="analyst")
    assert 'data-testid="overview-week-esps-empty"' in (await client.get("/analytics")).text
