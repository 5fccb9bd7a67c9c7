"""Intelligence: the churn model learns a seeded signal and not noise, scores land per subscriber, the score
distribution moves between snapshots, the best hours come from the hourly rollups, and each recommendation
carries its figure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.services.analytics.intelligence import churn, hours, list_health, recommendations, scores
from app.services.analytics.periods import Period
from app.services.sqlparams import fetch_positional
from tests.factories import make_list, make_subscriber, make_subscribers, make_workspace
from tests.integration.analytics.intelligence_seeds import history

NOW = datetime.now(UTC).replace(microsecond=0)


async def _risks(workspace_id: int) -> dict[int, float]:
    rows = await fetch_positional("SELECT subscriber_id, risk FROM churn_scores WHERE workspace_id = $1",
                                  (workspace_id,))
    return {row["subscriber_id"]: row["risk"] for row in rows}


async def test_the_churn_model_learns_a_seeded_signal_and_scores_who_faded_highest():
    workspace = await make_workspace()
    groups = await history(workspace, 400, NOW, signal=True)
    other = await make_workspace()
    await history(other, 60, NOW, signal=True)

    model = await churn.retrain(workspace["id"], NOW)

    assert model["auc"] > 0.8
    assert model["held_out"] == 120 and model["trained_on"] == 280
    assert {feature["name"] for feature in model["features"]} == {feature.name for feature in churn.FEATURES}
    risks = await _risks(workspace["id"])
    # Scored: everyone still confirmed, no one who left, no one of the other workspace.
    assert set(risks) == set(groups["loyal"] + groups["fading"]) - set(groups["left"])
    fading = sum(risks[i] for i in groups["fading"]) / len(groups["fading"])
    loyal = [risks[i] for i in groups["loyal"] if i in risks]
    assert fading > 0.5 > sum(loyal) / len(loyal)
    assert (await churn.latest_model(workspace["id"]))["id"] == model["id"]


async def test_the_churn_model_on_noise_is_no_better_than_a_coin_toss():
    workspace = await make_workspace()
    await history(workspace, 600, NOW, signal=False)

    model = await churn.retrain(workspace["id"], NOW)

    assert abs(model["auc"] - 0.5) < 0.15


async def test_too_little_history_keeps_no_auc_and_says_why():
    workspace = await make_workspace()
    await history(workspace, 10, NOW, signal=True)

    model = await churn.retrain(workspace["id"], NOW)

    assert model["auc"] is None and "Not enough history" in model["note"]
    assert await _risks(workspace["id"]) == {}


async def test_scoring_again_drops_subscribers_who_are_no_longer_mailable():
    workspace = await make_workspace()
    groups = await history(workspace, 200, NOW, signal=True)
    model = await churn.retrain(workspace["id"], NOW)
    gone = groups["fading"][0]
    await fetch_positional("UPDATE subscribers SET status = 'unsubscribed' WHERE id = $1", (gone,))

    await churn.score(workspace["id"], model, NOW + timedelta(minutes=1))

    assert gone not in await _risks(workspace["id"])


async def test_the_score_distribution_counts_bands_and_moves_against_a_week_before():
    workspace = await make_workspace()
    mailing_list = await make_list(workspace)
    people = await make_subscribers(mailing_list, 10)
    await make_subscriber(mailing_list, "gone@example.com", status="unsubscribed", engagement_score=90)
    ids = [row["id"] for row in people]
    await fetch_positional("UPDATE subscribers SET engagement_score = 0 WHERE id = ANY($1::bigint[])", (ids,))
    # Two joined today: never opened, and not inactive either, as they have not had 180 days to open.
    await fetch_positional("UPDATE subscribers SET created_at = $2 WHERE id = ANY($1::bigint[])",
                           (ids[:8], NOW - timedelta(days=200)))
    today = NOW.date()
    await scores.snapshot(workspace["id"], today - timedelta(days=7), NOW - timedelta(days=7))
    await fetch_positional("UPDATE subscribers SET engagement_score = 55, last_open_at = $2 "
                           "WHERE id = ANY($1::bigint[])", (ids[:4], NOW))
    await fetch_positional("UPDATE subscribers SET engagement_score = 100 WHERE id = $1", (ids[4],))
    await scores.snapshot(workspace["id"], today, NOW)
    await scores.snapshot(workspace["id"], today, NOW)  # a second run the same day replaces the first

    found = await scores.distribution(workspace["id"])

    bands = {band.band: band for band in found.bands}
    assert found.subscribers == 10 and found.day == today
    assert (bands[0].subscribers, bands[6].subscribers, bands[10].subscribers) == (5, 4, 1)
    assert bands[0].share == 0.5 and bands[0].change == -0.5 and bands[6].change == 0.4
    assert found.mean == 32.0 and found.mean_before == 0.0
    assert [day for day, _ in found.trend] == [today - timedelta(days=7), today]
    health = {row.list_id: row for row in await list_health.lists_health(workspace["id"], today)}
    assert health[mailing_list["id"]].inactive == 4 and health[mailing_list["id"]].inactive_share == 0.4


async def _hour_row(workspace_id: int, hour: datetime, human: int, machine: int = 0) -> None:
    await fetch_positional("INSERT INTO performance_hours (workspace_id, hour, human_opens, machine_opens) "
                           "VALUES ($1, $2, $3, $4)", (workspace_id, hour, human, machine))


async def test_the_best_hours_come_from_human_opens_in_the_hourly_rollups():
    workspace, other = await make_workspace(), await make_workspace()
    monday = datetime(2026, 11, 2, tzinfo=UTC)
    await _hour_row(workspace["id"], monday + timedelta(days=1, hours=14), 30, machine=500)
    await _hour_row(workspace["id"], monday + timedelta(days=8, hours=14), 10)
    await _hour_row(workspace["id"], monday + timedelta(hours=9), 20)
    await _hour_row(other["id"], monday + timedelta(hours=3), 900)
    await _hour_row(workspace["id"], monday + timedelta(days=40), 900)  # outside the period

    found = await hours.best_hours(workspace["id"], Period(monday.date(), monday.date() + timedelta(days=20)))

    assert found.grid[1][14] == 40 and found.grid[0][9] == 20 and found.grid[0][3] == 0
    assert found.opens == 60
    assert [hour.label for hour in found.best] == ["Tue 14:00 UTC", "Mon 09:00 UTC"]


async def test_opens_after_sends_in_few_hours_of_the_week_are_not_offered_as_the_best_hours():
    workspace = await make_workspace()
    monday = datetime(2026, 11, 2, tzinfo=UTC)
    period = Period(monday.date(), monday.date() + timedelta(days=6))
    await fetch_positional("INSERT INTO performance_hours (workspace_id, hour, sent, human_opens) VALUES "
                           "($1, $2, 1000, 40), ($1, $3, 0, 25)",
                           (workspace["id"], monday + timedelta(hours=14), monday + timedelta(hours=15)))

    narrow = await hours.best_hours(workspace["id"], period)

    assert (narrow.send_hours, narrow.follows_sends) == (1, True)
    assert recommendations.best_hours(narrow) == []
    await fetch_positional(
        "INSERT INTO performance_hours (workspace_id, hour, sent) SELECT $1, $2::timestamptz + n * interval '5 hours', "
        "100 FROM generate_series(1, 6) n", (workspace["id"], monday + timedelta(hours=15)))
    spread = await hours.best_hours(workspace["id"], period)
    assert (spread.send_hours, spread.follows_sends) == (7, False)
    assert [item.title for item in recommendations.best_hours(spread)] == ["Send around Mon 14:00 UTC"]


async def test_a_sunset_recommendation_carries_the_inactive_share_and_the_complaints_it_would_cut():
    workspace = await make_workspace()
    mailing_list = await make_list(workspace, name="List A")
    people = await make_subscribers(mailing_list, 100)
    await fetch_positional("UPDATE subscribers SET last_open_at = $2 WHERE id = ANY($1::bigint[])",
                           ([row["id"] for row in people[12:]], NOW))
    await fetch_positional("UPDATE subscribers SET created_at = $2 WHERE list_id = $1",
                           (mailing_list["id"], NOW - timedelta(days=365)))
    await fetch_positional("INSERT INTO performance_days (workspace_id, day, sent, complaints) "
                           "VALUES ($1, $2, 10000, 30)", (workspace["id"], NOW.date()))
    await scores.snapshot(workspace["id"], NOW.date(), NOW)
    lists = await list_health.lists_health(workspace["id"], NOW.date())
    sending = await recommendations.sending_30_days(workspace["id"], NOW.date())

    found = recommendations.recommend(lists, await scores.distribution(workspace["id"]),
                                      hours.heatmap([0] * 168), None, 0, [], sending)

    assert [item.kind for item in found] == ["sunset"]
    assert found[0].figure == ("12% of List A (12 subscribers on it for 180 days or more) has not opened or clicked "
                               "in 180 days")
    assert "cut the list's volume 12% and complaints by an estimated 4 a month" in found[0].detail
    assert "3.00 per 1,000 sent" in found[0].detail


async def test_the_page_lists_the_riskiest_subscribers_page_by_page_and_exports_them(client):
    from tests.factories import login, make_user, post_form

    workspace = await make_workspace()
    user = await make_user(workspace, role="marketer")
    await history(workspace, 200, NOW, signal=True)
    other = await make_workspace()
    await history(other, 60, NOW, signal=True, seed=3)
    await churn.retrain(workspace["id"], NOW)
    await churn.retrain(other["id"], NOW)
    await scores.snapshot(workspace["id"], NOW.date(), NOW)
    await login(client, user["email"])
    risks = await _risks(workspace["id"])
    expected = sorted(((risk, i) for i, risk in risks.items() if risk >= 0.5), reverse=True)

    first = await client.get("/analytics/intelligence")
    assert first.status_code == 200
    assert 'data-testid="churn-auc"' in first.text and 'data-testid="engagement-chart"' in first.text
    assert first.text.count('data-testid="at-risk-row"') == 25
    cursor = first.text.split("after=")[1].split("&amp;")[0]
    second = await client.get(f"/analytics/intelligence?min_risk=50&after={cursor}")
    shown = [int(part.split('"')[0]) for part in (first.text + second.text).split("/mailing/subscribers/")[1:]]
    assert shown[:50] == [i for _, i in expected[:50]]

    export = await client.get("/analytics/intelligence/at-risk.csv?min_risk=50")
    lines = export.text.strip().splitlines()
    assert lines[0] == "email,list,churn_risk,engagement_score,last_open_at,last_click_at"
    assert len(lines) - 1 == len(expected)
    assert all("@example.com" in line for line in lines[1:])

    bad = await client.get("/analytics/intelligence?min_risk=150&since=2026-13-01")
    assert bad.status_code == 422
    assert "Enter a whole percentage from 0 to 100." in bad.text and "Enter a date as YYYY-MM-DD" in bad.text

    retrain = await post_form(client, "/analytics/intelligence/retrain")
    assert retrain.status_code == 303


async def test_an_analyst_reads_the_page_but_may_not_retrain_or_export(client):
    from tests.factories import login, make_user, post_form

    workspace = await make_workspace()
    user = await make_user(workspace, role="analyst")
    await login(client, user["email"])

    page = await client.get("/analytics/intelligence")
    assert page.status_code == 200 and 'data-testid="empty-state"' in page.text
    assert 'data-testid="retrain"' not in page.text
    assert (await post_form(client, "/analytics/intelligence/retrain")).status_code == 403
    assert (await client.get("/analytics/intelligence/at-risk.csv")).status_code == 403


async def test_a_new_workspace_is_told_when_its_first_churn_model_can_learn_and_no_newcomer_is_called_inactive(
        client):
    from tests.factories import login, make_user

    workspace = await make_workspace()
    user = await make_user(workspace, role="analyst")
    mailing_list = await make_list(workspace, name="Fresh")
    await make_subscribers(mailing_list, 30)
    await scores.snapshot(workspace["id"], NOW.date(), NOW)
    await churn.retrain(workspace["id"], NOW)
    await _hour_row(workspace["id"], NOW.replace(minute=0, second=0), 40)
    await login(client, user["email"])

    page = await client.get("/analytics/intelligence")

    assert page.status_code == 200 and "Not enough history" in page.text
    assert f"can learn on <strong>{(NOW + timedelta(days=30)).date().isoformat()}</strong>" in page.text
    assert 'data-testid="risk-form"' not in page.text and "Lower the threshold" not in page.text
    assert 'data-testid="recommendation-sunset"' not in page.text
    assert "of human opens came in the best hour of the week" in page.text


async def test_the_churn_recommendation_offers_its_download_only_to_who_may_export(client):
    from tests.factories import login, make_user

    workspace = await make_workspace()
    await history(workspace, 200, NOW, signal=True)
    await churn.retrain(workspace["id"], NOW)
    seen = {}
    for role in ("analyst", "marketer"):
        user = await make_user(workspace, role=role)
        await login(client, user["email"])
        seen[role] = (await client.get("/analytics/intelligence")).text

    assert all('data-testid="recommendation-churn"' in text for text in seen.values())
    assert "at-risk.csv" not in seen["analyst"]
    assert 'href="/analytics/intelligence/at-risk.csv?min_risk=50" hx-boost="false"' in seen["marketer"]
