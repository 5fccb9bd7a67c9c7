"""The editor's other forms over HTTP: trigger and settings saved or refused beside their fields, a list
enrolled by hand into an active flow, people waiting on an old version moved to a step of the new one, and the
marketing limits refused then saved."""

from __future__ import annotations

from app.services.accounts import now
from app.services.automations import engine, flows, limits
from app.services.automations.editor import steps_of
from tests.factories import post_form, signed_in_client
from tests.integration.campaigns_ui.helpers import ready_workspace

WAIT = {"id": "s1", "kind": "wait", "params": {"mode": "duration", "minutes": 60}, "next": None}


async def test_trigger_and_settings_are_saved_or_refused_beside_their_fields(client):
    workspace, _ = await signed_in_client(client)
    ready = await ready_workspace(workspace, subscribers=0)
    flow = await flows.create_flow(workspace["id"], {"name": "Birthdays"})
    base = f"/mailing/automations/{flow['id']}"

    refused = await post_form(client, f"{base}/trigger", {"which": "trigger", "name": "Birthdays",
                                                          "trigger_kind": "date", "field": "birth day",
                                                          "offset_days": "0", "time": "25:00"})
    assert refused.status_code == 422
    assert 'data-testid="trigger-field-error"' in refused.text and 'data-testid="trigger-time-error"' in refused.text
    assert (await flows.owned_flow(workspace["id"], flow["id"]))["trigger"] in ('{"kind": "manual"}',
                                                                                {"kind": "manual"})
    saved = await post_form(client, f"{base}/trigger", {"which": "trigger", "name": "Birthdays",
                                                        "trigger_kind": "date", "field": "birthday",
                                                        "offset_days": "-1", "time": "09:30"})
    assert saved.status_code == 303
    page = (await client.get(base)).text
    assert 'value="birthday"' in page and 'value="09:30"' in page

    settings = await post_form(client, f"{base}/settings", {"which": "settings", "enrolment": "every",
                                                            "min_gap_hours": "lots"})
    assert settings.status_code == 422 and 'data-testid="settings-min_gap_hours-error"' in settings.text
    await post_form(client, f"{base}/settings", {"which": "settings", "enrolment": "every", "min_gap_hours": "24",
                                                 "exit_unsubscribed": "on", "goal_event": "converted"})
    stored = await flows.owned_flow(workspace["id"], flow["id"])
    assert '"min_gap_hours": 24' in str(stored["settings"]).replace("'", '"')

    fields = await post_form(client, "/mailing/automations/trigger-fields", {"trigger_kind": "subscribed"})
    assert f'<option value="{ready.list_id}"' in fields.text and 'data-testid="trigger-field"' not in fields.text


async def test_a_list_enrolled_by_hand_and_waiting_people_moved_to_the_new_version(client):
    workspace, _ = await signed_in_client(client)
    ready = await ready_workspace(workspace, subscribers=3)
    flow = await flows.create_flow(workspace["id"], {"name": "Manual", "steps": [WAIT]})
    base = f"/mailing/automations/{flow['id']}"
    await flows.activate(workspace["id"], flow["id"])

    none_chosen = await post_form(client, f"{base}/enrol", {"which": "enrol"})
    assert none_chosen.status_code == 422 and 'data-testid="enrol-list_id-error"' in none_chosen.text
    enrolled = await post_form(client, f"{base}/enrol", {"which": "enrol", "list_id": str(ready.list_id)})
    assert enrolled.status_code == 303
    assert (await client.get(base)).text.count("3 enrolled") == 1
    await engine.advance_all(now())

    await flows.save_steps(workspace["id"], flow["id"], [
        {**WAIT, "next": "s2"}, {"id": "s2", "kind": "tag", "params": {"add": ["moved"]}, "next": None}])
    await flows.publish(workspace["id"], flow["id"])
    page = (await client.get(base)).text
    assert 'data-testid="migrate-form"' in page and "s2 · Add or remove tags" in page
    nothing = await post_form(client, f"{base}/migrate", {"which": "migrate"})
    assert nothing.status_code == 422 and 'data-testid="migrate-confirm-form"' not in nothing.text
    assert 'data-testid="migrate-from_version-error"' in nothing.text
    assert 'data-testid="migrate-to_step_id-error"' in nothing.text
    chosen = {"which": "migrate", "from_version": "1", "to_step_id": "s2"}
    asked = await post_form(client, f"{base}/migrate", chosen)
    assert asked.status_code == 200 and 'data-testid="migrate-confirm-form"' in asked.text
    assert "Move the people waiting on version 1 to step s2 of version 2?" in asked.text
    report = (await client.get(f"{base}/report?step=s1")).text
    assert 'data-testid="empty-state"' not in report
    moved = await post_form(client, f"{base}/migrate", {**chosen, "confirmed": "yes"})
    assert moved.status_code == 303
    assert "3 people waiting on version 1 moved" in (await client.get(base)).text
    report = (await client.get(f"{base}/report?step=s1")).text
    assert 'data-testid="empty-state"' in report
    assert len(steps_of(await flows.owned_flow(workspace["id"], flow["id"]))) == 2


async def test_marketing_limits_are_refused_beside_the_field_then_saved(client):
    workspace, _ = await signed_in_client(client)
    refused = await post_form(client, "/mailing/automations/limits", {"max_per_day": "0"})
    assert refused.status_code == 422 and 'data-testid="limits-max_per_day-error"' in refused.text
    half = await post_form(client, "/mailing/automations/limits", {"max_per_day": "2", "quiet_start": "22:00"})
    assert half.status_code == 422 and 'data-testid="limits-quiet_end-error"' in half.text
    assert 'value="22:00"' in half.text
    assert (await limits.get_limits(workspace["id"]))["max_per_day"] == ""
    saved = await post_form(client, "/mailing/automations/limits", {"max_per_day": "2", "quiet_start": "22:00",
                                                                    "quiet_end": "07:00"})
    assert saved.status_code == 200 and 'data-testid="limits-notice"' in saved.text
    assert await limits.get_limits(workspace["id"]) == {"max_per_day": "2", "quiet_start": "22:00",
                                                        "quiet_end": "07:00"}

