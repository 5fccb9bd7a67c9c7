"""Publishing versions: people inside finish on the version they entered, unless moved explicitly."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.services.automations import engine, flows
from app.services.forms import FormError
from tests.factories import make_list, make_subscribers, make_workspace
from tests.integration.automations.engine_helpers import (
    NOW,
    active_flow,
    advance,
    due,
    enrolments,
    stats,
    step,
    tags_of,
)

V1 = [step("s1", "wait", {"mode": "duration", "minutes": 60}, "s2"), step("s2", "tag", {"add": ["old"]})]
V2 = [step("s1", "wait", {"mode": "duration", "minutes": 60}, "s2"), step("s2", "tag", {"add": ["new"]}, "s3"),
      step("s3", "tag", {"add": ["extra"]})]


async def test_people_inside_finish_on_their_version_while_newcomers_enter_the_new_one():
    workspace = await make_workspace()
    early, late = await make_subscribers(await make_list(workspace), 2)
    flow = await active_flow(workspace["id"], V1)
    await engine.enrol(workspace["id"], flow["id"], [early["id"]], now=NOW)

    await flows.save_steps(workspace["id"], flow["id"], V2)
    assert (await flows.owned_flow(workspace["id"], flow["id"]))["version"] == 1  # saved as a draft only
    published = await flows.activate(workspace["id"], flow["id"])
    await engine.enrol(workspace["id"], flow["id"], [late["id"]], now=NOW)
    await advance(NOW + timedelta(hours=1))

    assert published["version"] == 2
    assert await tags_of(early["id"]) == {"old"}
    assert await tags_of(late["id"]) == {"new", "extra"}
    people = await enrolments(flow["id"])
    assert (people[early["id"]]["version"], people[late["id"]]["version"]) == (1, 2)
    assert [v["version"] for v in await flows.versions(workspace["id"], flow["id"])] == [2, 1]


async def test_activating_an_unchanged_draft_publishes_no_new_version():
    workspace = await make_workspace()
    flow = await active_flow(workspace["id"], V1)
    await flows.pause(workspace["id"], flow["id"])

    resumed = await flows.activate(workspace["id"], flow["id"])

    assert (resumed["status"], resumed["version"]) == ("active", 1)


async def test_waiting_people_are_moved_explicitly_to_a_step_of_the_new_version():
    workspace = await make_workspace()
    people = await make_subscribers(await make_list(workspace), 3)
    flow = await active_flow(workspace["id"], V1)
    await engine.enrol(workspace["id"], flow["id"], [p["id"] for p in people], now=NOW)
    await flows.save_steps(workspace["id"], flow["id"], V2)
    await flows.activate(workspace["id"], flow["id"])

    moved = await flows.migrate_waiting(workspace["id"], flow["id"], 1, "s3", now=NOW + timedelta(minutes=5))
    await advance(NOW + timedelta(minutes=5))

    assert moved == 3
    assert [await tags_of(p["id"]) for p in people] == [{"extra"}] * 3
    assert {row["version"] for row in (await enrolments(flow["id"])).values()} == {2}
    assert await due(flow["id"]) == {}
    figures = await stats(flow["id"])
    assert figures["s1"]["waiting"] == 0 and figures["s3"]["entered"] == 3


async def test_moving_people_needs_a_step_of_the_published_version_and_an_older_version():
    workspace = await make_workspace()
    flow = await active_flow(workspace["id"], V1)

    with pytest.raises(FormError) as missing:
        await flows.migrate_waiting(workspace["id"], flow["id"], 0, "s9", now=NOW)
    with pytest.raises(FormError) as same:
        await flows.migrate_waiting(workspace["id"], flow["id"], 1, "s1", now=NOW)

    assert "to_step_id" in missing.value.errors
    assert "from_version" in same.value.errors


async def test_another_workspace_cannot_see_or_change_a_flow():
    workspace, stranger = await make_workspace(), await make_workspace()
    flow = await active_flow(workspace["id"], V1)

    for attempt in (flows.owned_flow(stranger["id"], flow["id"]), flows.activate(stranger["id"], flow["id"]),
                    flows.save_steps(stranger["id"], flow["id"], V2), flows.pause(stranger["id"], flow["id"])):
        with pytest.raises(LookupError):
            await attempt


async def test_an_archived_flow_cannot_be_activated_or_published_again():
    workspace = await make_workspace()
    flow = await active_flow(workspace["id"], V1)
    await flows.archive(workspace["id"], flow["id"], now=NOW)
    await flows.save_steps(workspace["id"], flow["id"], V2)

    with pytest.raises(FormError):
        await flows.activate(workspace["id"], flow["id"])

    kept = await flows.owned_flow(workspace["id"], flow["id"])
    assert (kept["status"], kept["version"]) == ("archived", 1)
