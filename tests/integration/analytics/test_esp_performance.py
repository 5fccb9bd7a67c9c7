"""ESP performance reads the day rollups: servers side by side with cost and eCPM, compared day by day, per
domain group, drilled down to campaigns and the bounce log; SES figures of the last three days are provisional."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from app.db.campaigns import Campaign
from app.db.delivery import DeliveryServer
from app.services.accounts import now
from app.services.delivery_servers import create_server
from tests.factories import make_workspace, signed_in_client

TODAY = datetime.now(UTC).date()
URL = "/analytics/esp-performance"


async def _server(workspace: dict, name: str, kind: str = "capture", cost: str = "0") -> int:
    server = await create_server(workspace["id"], "capture", {"name": name})
    await DeliveryServer.update({DeliveryServer.kind: kind, DeliveryServer.cost_per_thousand: Decimal(cost)}).where(
        DeliveryServer.id == server["id"])
    return server["id"]


async def _campaign(workspace: dict, name: str) -> int:
    moment = now()
    [row] = await Campaign.insert(Campaign(workspace_id=workspace["id"], name=name, status="sent",
                                           from_email="news@news.example.com", subject=name, created_at=moment,
                                           updated_at=moment)).returning(Campaign.id)
    return row["id"]


async def _day(workspace: dict, server_id: int, days_ago: int, group: str = "gmail", campaign_id: int = 0,
               **figures: object) -> None:
    names = ", ".join(figures)
    values = ", ".join(["{}"] * len(figures))
    await Campaign.raw(f"INSERT INTO performance_days (workspace_id, day, server_id, domain_group, campaign_id, "
                       f"{names}) VALUES ({{}}, {{}}, {{}}, {{}}, {{}}, {values})",
                       workspace["id"], TODAY - timedelta(days=days_ago), server_id, group, campaign_id,
                       *figures.values())


async def _seeded(workspace: dict) -> tuple[int, int, int]:
    alpha = await _server(workspace, "Alpha", cost="1.00")
    beta = await _server(workspace, "Beta SES", kind="ses")
    spring = await _campaign(workspace, "Spring sale")
    await _day(workspace, alpha, 1, campaign_id=spring, sent=1000, failed=0, hard=5, complaints=1,
               human_opens=200, unique_opens=150, revenue=Decimal("40"))
    await _day(workspace, alpha, 2, group="yahoo", sent=1000, failed=10, revenue=Decimal("10"))
    await _day(workspace, beta, 0, sent=500, complaints=5, revenue=Decimal("30"))
    return alpha, beta, spring


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


async def test_the_matrix_shows_each_server_with_cost_and_ecpm_and_exports_it(client) -> None:
    workspace, _ = await signed_in_client(client, role="analyst")
    await _seeded(workspace)

    page = await client.get(URL)
    assert page.status_code == 200
    assert page.text.count('data-testid="esp-row"') == 2
    assert "Alpha" in page.text and "Beta SES" in page.text
    assert 'data-testid="provisional"' in page.text, "SES sent today: its figures may still grow"

    export = await client.get(f"{URL}/export.csv")
    assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
    rows = {row["server"]: row for row in _rows(export.text)}
    alpha, beta = rows["Alpha"], rows["Beta SES"]
    assert (alpha["sent"], alpha["failed"], alpha["hard"], alpha["complaints"]) == ("2000", "10", "5", "1")
    assert Decimal(alpha["revenue"]) == 50 and Decimal(alpha["ecpm"]) == 25
    assert Decimal(alpha["cost"]) == 2, "1.00 per 1,000 over 2,000 sent"
    assert alpha["provisional"] == "no" and beta["provisional"] == "yes"
    assert Decimal(beta["ecpm"]) == 60 and float(beta["complaint_rate"]) == 0.01


async def test_a_period_that_ended_before_the_late_feedback_window_is_final(client) -> None:
    workspace, _ = await signed_in_client(client)
    _, beta, _ = await _seeded(workspace)
    await _day(workspace, beta, 10, sent=100)
    since, until = TODAY - timedelta(days=12), TODAY - timedelta(days=4)

    export = await client.get(f"{URL}/export.csv?since={since}&until={until}")

    [row] = _rows(export.text)
    assert (row["server"], row["sent"], row["provisional"]) == ("Beta SES", "100", "no")


async def test_two_servers_compare_day_by_day_and_per_domain_group(client) -> None:
    workspace, _ = await signed_in_client(client)
    alpha, beta, _ = await _seeded(workspace)

    page = await client.get(f"{URL}?servers={alpha},{beta}")

    assert page.status_code == 200
    assert 'data-testid="esp-trends"' in page.text
    for series in ("sent", "ecpm", "complaint_rate", "open_rate"):
        assert f'data-testid="trend-{series}"' in page.text
    assert page.text.count('data-testid="group-row"') == 3
    one = await client.get(f"{URL}?servers={alpha}")
    assert 'data-testid="esp-trends"' not in one.text and 'data-testid="compare-hint"' in one.text
    assert one.text.count('data-testid="group-row"') == 2, "the groups of the one server chosen"


async def test_a_server_of_another_workspace_is_a_404_in_compare_and_drill_down(client) -> None:
    workspace, _ = await signed_in_client(client)
    alpha, _, _ = await _seeded(workspace)
    stranger = await _server(await make_workspace(), "Theirs")

    assert (await client.get(f"{URL}?servers={alpha},{stranger}")).status_code == 404
    assert (await client.get(f"{URL}?servers={alpha},x")).status_code == 404
    assert (await client.get(f"{URL}/servers/{stranger}")).status_code == 404


async def test_a_server_drills_down_to_its_campaigns_and_its_bounce_log(client) -> None:
    workspace, _ = await signed_in_client(client)
    alpha, _, spring = await _seeded(workspace)

    page = await client.get(f"{URL}/servers/{alpha}")

    assert page.status_code == 200
    assert page.text.count('data-testid="campaign-row"') == 2
    assert f'href="/mailing/campaigns/{spring}">Spring sale' in page.text
    assert "No campaign" in page.text
    assert f'href="/mailing/bounces?server_id={alpha}"' in page.text
    assert (await client.get(f"/mailing/bounces?server_id={alpha}")).status_code == 200


async def test_a_bad_date_is_a_message_next_to_the_field(client) -> None:
    workspace, _ = await signed_in_client(client)
    await _seeded(workspace)

    page = await client.get(f"{URL}?since=2026-13-01")
    backwards = await client.get(f"{URL}?since={TODAY}&until={TODAY - timedelta(days=3)}")

    assert page.status_code == 422 and "Enter a date as YYYY-MM-DD" in page.text
    assert backwards.status_code == 422 and "The end date comes before the start date." in backwards.text


async def test_an_empty_workspace_says_what_to_do(client) -> None:
    await signed_in_client(client)
    page = await client.get(URL)
    assert page.status_code == 200
    assert 'data-testid="empty-state"' in page.text and "/mailing/delivery" in page.text


async def test_bounce_and_complaint_counts_open_the_bounce_log_of_that_server_and_campaign(client) -> None:
    workspace, _ = await signed_in_client(client, role="analyst")
    alpha, beta, spring = await _seeded(workspace)

    matrix = await client.get(URL)
    server = await client.get(f"{URL}/servers/{alpha}")

    assert f'href="/mailing/bounces?server_id={alpha}&amp;category=hard"' in matrix.text
    assert f'href="/mailing/bounces?server_id={beta}&amp;category=complaint"' in matrix.text
    assert "category=soft" not in matrix.text, "no soft bounce: a plain 0, nothing to open"
    assert f'href="/mailing/bounces?server_id={alpha}&amp;category=hard&amp;campaign_id={spring}"' in server.text
    log = await client.get(f"/mailing/bounces?server_id={alpha}&category=hard&campaign_id={spring}")
    assert log.status_code == 200


async def test_the_trend_legends_do_not_print_counts_as_amounts(client) -> None:
    workspace, _ = await signed_in_client(client, role="analyst")
    alpha, beta, _ = await _seeded(workspace)

    page = await client.get(f"{URL}?servers={alpha},{beta}")

    sent_chart = page.text.split('data-testid="trend-sent"', 1)[1].split("</figure>", 1)[0]
    assert "Beta SES" in sent_chart and "500.00" not in sent_chart
