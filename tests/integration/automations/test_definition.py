"""A flow's steps, trigger and settings are checked, with a message per step id for the editor to show."""

from __future__ import annotations

import pytest

from app.services.automations import definition, flows
from app.services.forms import FormError
from app.services.templates import create_template
from tests.factories import make_list, make_workspace
from tests.integration.automations.engine_helpers import step


async def _errors(workspace_id: int, steps: list) -> dict[str, str]:
    with pytest.raises(FormError) as refused:
        await definition.checked_steps(workspace_id, steps)
    return refused.value.errors


async def test_a_valid_flow_is_kept_with_only_the_keys_each_kind_uses():
    workspace = await make_workspace()
    template = await create_template(workspace["id"], {"name": "T", "subject": "Hi", "html": "<p>Hi</p>"}, None)

    steps = await definition.checked_steps(workspace["id"], [
        {**step("s1", "send", {"template_id": template["id"]}, "s2"), "yes": "s9"},
        step("s2", "condition", {"test": "field", "field": "plan", "op": "empty"}, yes="s3", no=None),
        {**step("s3", "end"), "next": "s1"},
    ])

    assert steps == [
        {"id": "s1", "kind": "send", "params": {"template_id": template["id"]}, "next": "s2"},
        {"id": "s2", "kind": "condition", "params": {"test": "field", "field": "plan", "op": "empty"},
         "yes": "s3", "no": None},
        {"id": "s3", "kind": "end", "params": {}, "next": None},
    ]


async def test_ids_must_be_unique_and_kinds_known():
    workspace = await make_workspace()

    errors = await _errors(workspace["id"], [step("s1", "end"), step("s1", "end"), step("s3", "dance")])

    assert errors == {"s1": "Two steps have this id.", "s3": "Choose what the step does."}


async def test_a_link_to_a_missing_step_a_loop_and_an_unreachable_step_are_named():
    workspace = await make_workspace()

    errors = await _errors(workspace["id"], [
        step("a", "wait", {"mode": "duration", "minutes": 5}, "b"),
        step("b", "tag", {"add": ["x"]}, "a"),
        step("c", "tag", {"add": ["x"]}, "zz"),
        step("d", "end"),
    ])

    assert "loops back" in errors["a"] and "loops back" in errors["b"]
    assert errors["c"] == "The step leads to a step that does not exist."
    assert errors["d"] == "No path leads to this step."


async def test_going_back_is_allowed_only_through_a_goto_with_a_limit():
    workspace = await make_workspace()
    loop = [step("a", "wait", {"mode": "duration", "minutes": 5}, "b"), step("b", "goto", {"target": "a"}, None)]

    errors = await _errors(workspace["id"], loop)
    loop[1]["params"]["limit"] = 3
    checked = await definition.checked_steps(workspace["id"], loop)

    assert errors == {"b": "Go back from 1 to 100 times."}
    assert checked[1]["params"] == {"target": "a", "limit": 3}


@pytest.mark.parametrize(("kind", "params", "message"), [
    ("wait", {"mode": "duration", "minutes": 0}, "Wait from 1 minute to a year."),
    ("wait", {"mode": "weekday", "weekday": 7, "minute_of_day": 60}, "Choose a day of the week."),
    ("wait", {"mode": "event", "event": "opened"}, "Give up waiting after 1 minute to a year."),
    ("send", {"template_id": 999999}, "Choose a template."),
    ("condition", {"test": "segment", "segment_id": 999999}, "Choose a segment."),
    ("condition", {"test": "field", "field": "plan", "op": "eq", "value": ""}, "Enter the value to compare with."),
    ("tag", {"add": [], "remove": []}, "Name at least one tag to add or to remove."),
    ("field", {"field": "bad tag!", "value": "x"}, "Name the field by its merge tag (such as plan)."),
    ("list", {"action": "move", "list_id": 999999}, "Choose a list."),
    ("webhook", {"url": "ftp://example.com"}, "Enter an address starting with https://."),
])
async def test_each_kind_refuses_bad_params_with_a_message_for_its_step(kind, params, message):
    workspace = await make_workspace()

    assert await _errors(workspace["id"], [step("s1", kind, params)]) == {"s1": message}


async def test_a_template_or_list_of_another_workspace_is_not_accepted():
    workspace, stranger = await make_workspace(), await make_workspace()
    theirs = await make_list(stranger)
    template = await create_template(stranger["id"], {"name": "T", "subject": "Hi", "html": "<p>Hi</p>"}, None)

    errors = await _errors(workspace["id"], [step("s1", "send", {"template_id": template["id"]}, "s2"),
                                             step("s2", "list", {"action": "copy", "list_id": theirs["id"]})])

    assert errors == {"s1": "Choose a template.", "s2": "Choose a list."}


async def test_triggers_and_settings_are_checked_and_saving_bad_steps_changes_nothing():
    workspace = await make_workspace()
    mailing_list = await make_list(workspace)
    flow = await flows.create_flow(workspace["id"], {
        "name": "Welcome", "trigger": {"kind": "subscribed", "list_id": mailing_list["id"]},
        "settings": {"enrolment": "every", "min_gap_hours": 24, "exit_on": ["unsubscribed"]},
        "steps": [step("s1", "end")]})

    with pytest.raises(FormError) as trigger:
        await flows.update_flow(workspace["id"], flow["id"], {"trigger": {"kind": "subscribed", "list_id": 999999}})
    with pytest.raises(FormError) as settings:
        await flows.update_flow(workspace["id"], flow["id"], {"settings": {"enrolment": "twice", "exit_on": ["x"]}})
    with pytest.raises(FormError):
        await flows.save_steps(workspace["id"], flow["id"], [step("s1", "wait", {"mode": "duration"})])

    assert trigger.value.errors == {"list_id": "Choose a list."}
    assert set(settings.value.errors) == {"enrolment", "exit_on"}
    kept = await flows.owned_flow(workspace["id"], flow["id"])
    assert kept["trigger"] == {"kind": "subscribed", "list_id": mailing_list["id"]}
    assert kept["settings"] == {"enrolment": "every", "min_gap_hours": 24, "exit_on": ["unsubscribed"]}
    assert kept["draft_steps"] == [{"id": "s1", "kind": "end", "params": {}, "next": None}]


async def test_a_flow_without_steps_cannot_be_activated():
    workspace = await make_workspace()
    flow = await flows.create_flow(workspace["id"], {"name": "Empty"})

    with pytest.raises(FormError) as refused:
        await flows.activate(workspace["id"], flow["id"])

    assert refused.value.errors == {"steps": "Add at least one step before activating the flow."}
    assert (await flows.owned_flow(workspace["id"], flow["id"]))["status"] == "draft"


async def test_an_exit_segment_must_be_the_workspaces_own():
    from app.services.segments import save_segment

    workspace, stranger = await make_workspace(), await make_workspace()
    mine = await save_segment(workspace["id"], {"name": "Mine", "list_ids": [(await make_list(workspace))["id"]],
                                                "conditions": {"match": "all", "rules": []}})
    theirs = await save_segment(stranger["id"], {"name": "Theirs", "list_ids": [(await make_list(stranger))["id"]],
                                                 "conditions": {"match": "all", "rules": []}})

    kept = await definition.checked_settings(workspace["id"], {"exit_on": ["converted", {"segment_id": mine["id"]}]})
    with pytest.raises(FormError) as refused:
        await definition.checked_settings(workspace["id"], {"exit_on": [{"segment_id": theirs["id"]}]})

    assert kept["exit_on"] == ["converted", {"segment_id": mine["id"]}]
    assert set(refused.value.errors) == {"exit_on"}


async def test_a_goto_loop_without_a_wait_and_a_goto_to_an_end_are_refused_beside_the_goto():
    workspace = await make_workspace()
    tag = {"add": ["x"]}

    busy = await _errors(workspace["id"], [
        step("a", "condition", {"test": "field", "field": "plan", "op": "empty"}, yes="g", no=None),
        step("g", "goto", {"target": "a", "limit": 2}, "b"), step("b", "tag", tag, None)])
    to_end = await _errors(workspace["id"], [step("g", "goto", {"target": "e", "limit": 2}, "e"), step("e", "end")])
    waited = await definition.checked_steps(workspace["id"], [
        step("w", "wait", {"mode": "duration", "minutes": 60}, "t"), step("t", "tag", tag, "g"),
        step("g", "goto", {"target": "w", "limit": 2}, "b"), step("b", "tag", tag, None)])

    assert busy == {"g": "This go to repeats steps with no wait between them: add a wait step in the loop."}
    assert to_end == {"g": "Go to a step other than an End step."}
    assert [s["id"] for s in waited] == ["w", "t", "g", "b"]
