"""The automation pages over HTTP: the list and its empty state, a flow created and its steps added, edited,
moved, duplicated and deleted in place; refused input beside its field with nothing saved; the autoresponder
shortcut; Activate, Pause, Publish; another workspace's flow is a 404 and an analyst cannot activate."""

from __future__ import annotations

from app.db.audience import Subscriber
from app.db.automations import Flow
from app.services.accounts import now
from app.services.automations import engine, flows
from app.services.automations.editor import steps_of
from tests.factories import login, make_list, make_user, make_workspace, post_form, signed_in_client
from tests.integration.campaigns_ui.helpers import ready_workspace

HX = {"HX-Request": "true"}


async def _flow(workspace_id: int, flow_id: int) -> dict:
    return await flows.owned_flow(workspace_id, flow_id)


async def _created(client, workspace: dict, list_id: int) -> int:
    created = await post_form(client, "/mailing/automations/", {
        "name": "Welcome", "trigger_kind": "subscribed", "list_id": str(list_id)})
    assert created.status_code == 303
    [flow] = await Flow.select(Flow.id).where(Flow.workspace_id == workspace["id"])
    assert created.headers["location"] == f"/mailing/automations/{flow['id']}"
    return flow["id"]


async def test_an_empty_list_says_how_to_start(client):
    await signed_in_client(client)
    page = (await client.get("/mailing/automations")).text
    assert 'data-testid="empty-state"' in page and "autoresponder" in page.lower()
    assert 'data-testid="empty-autoresponder"' in page


async def test_steps_are_added_edited_moved_duplicated_and_deleted_in_place(client):
    workspace, _ = await signed_in_client(client)
    ready = await ready_workspace(workspace, subscribers=1)
    flow_id = await _created(client, workspace, ready.list_id)
    base = f"/mailing/automations/{flow_id}"
    assert 'data-testid="empty-state"' in (await client.get(base)).text

    form = (await client.get(f"{base}/steps?kind=send&position=start", headers=HX)).text
    assert 'data-testid="step-form"' in form and "Offer" in form
    sent = await post_form(client, f"{base}/steps", {"kind": "send", "position": "start",
                                                     "template_id": str(ready.template_id), "subject": "Hi"},
                           headers=HX)
    assert sent.status_code == 200 and 'data-testid="step-s1"' in sent.text
    await post_form(client, f"{base}/steps", {"kind": "wait", "position": "after:s1", "mode": "duration",
                                              "amount": "1", "unit": "days"}, headers=HX)
    await post_form(client, f"{base}/steps", {"kind": "send", "position": "after:s2",
                                              "template_id": str(ready.template_id), "subject": "Day two"},
                    headers=HX)
    steps = steps_of(await _flow(workspace["id"], flow_id))
    assert [(s["id"], s["kind"], s["next"]) for s in steps] == [("s1", "send", "s2"), ("s2", "wait", "s3"),
                                                                ("s3", "send", None)]
    assert steps[1]["params"] == {"mode": "duration", "minutes": 1440}

    edited = await post_form(client, f"{base}/steps/s2", {"kind": "wait", "mode": "duration", "amount": "3",
                                                          "unit": "hours"}, headers=HX)
    assert "Wait 3 hours" in edited.text
    moved = await post_form(client, f"{base}/steps/s2/move", {"direction": "up"}, headers=HX)
    assert moved.status_code == 200
    assert [s["id"] for s in steps_of(await _flow(workspace["id"], flow_id))] == ["s2", "s1", "s3"]
    await post_form(client, f"{base}/steps/s1/duplicate", headers=HX)
    assert [s["id"] for s in steps_of(await _flow(workspace["id"], flow_id))] == ["s2", "s1", "s4", "s3"]
    await post_form(client, f"{base}/steps/s4/delete", headers=HX)
    steps = steps_of(await _flow(workspace["id"], flow_id))
    assert [(s["id"], s["next"]) for s in steps] == [("s2", "s1"), ("s1", "s3"), ("s3", None)]


async def test_a_condition_shows_its_branches_indented_and_a_step_goes_into_one(client):
    workspace, _ = await signed_in_client(client)
    ready = await ready_workspace(workspace, subscribers=1)
    flow_id = await _created(client, workspace, ready.list_id)
    base = f"/mailing/automations/{flow_id}"
    await post_form(client, f"{base}/steps", {"kind": "condition", "position": "start", "test": "event",
                                              "event": "opened", "within_amount": "2", "within_unit": "days"},
                    headers=HX)
    page = await post_form(client, f"{base}/steps", {"kind": "tag", "position": "s1:no", "add": "cold"},
                           headers=HX)
    assert 'data-testid="branch-s1-yes"' in page.text and 'data-testid="branch-s1-no"' in page.text
    [condition, tag] = steps_of(await _flow(workspace["id"], flow_id))
    assert (condition["yes"], condition["no"], tag["params"]) == (None, "s2", {"add": ["cold"], "remove": []})


async def test_bad_step_input_is_refused_beside_its_field_and_nothing_changes(client):
    workspace, _ = await signed_in_client(client)
    ready = await ready_workspace(workspace, subscribers=1)
    flow_id = await _created(client, workspace, ready.list_id)
    base = f"/mailing/automations/{flow_id}"
    await post_form(client, f"{base}/steps", {"kind": "wait", "position": "start", "mode": "duration",
                                              "amount": "2", "unit": "days"}, headers=HX)
    before = steps_of(await _flow(workspace["id"], flow_id))

    refused = await post_form(client, f"{base}/steps/s1", {"kind": "wait", "mode": "duration", "amount": "soon",
                                                           "unit": "days"}, headers=HX)
    assert refused.status_code == 422
    assert 'data-testid="step-amount-error"' in refused.text and 'value="soon"' in refused.text
    no_template = await post_form(client, f"{base}/steps", {"kind": "send", "position": "after:s1",
                                                            "template_id": ""}, headers=HX)
    assert no_template.status_code == 422 and 'data-testid="step-template_id-error"' in no_template.text
    # A template of another workspace passes the form but not the flow's own check: refused beside the step.
    other = await ready_workspace(await make_workspace(), subscribers=0)
    foreign = await post_form(client, f"{base}/steps", {"kind": "send", "position": "after:s1",
                                                        "template_id": str(other.template_id)}, headers=HX)
    assert foreign.status_code == 422 and 'data-testid="new-step-error"' in foreign.text
    assert steps_of(await _flow(workspace["id"], flow_id)) == before


async def test_activate_pause_and_publish_a_changed_draft(client):
    workspace, _ = await signed_in_client(client)
    ready = await ready_workspace(workspace, subscribers=1)
    flow_id = await _created(client, workspace, ready.list_id)
    base = f"/mailing/automations/{flow_id}"

    empty = await post_form(client, f"{base}/activate")
    assert empty.status_code == 422 and "at least one step" in empty.text
    await post_form(client, f"{base}/steps", {"kind": "send", "position": "start",
                                              "template_id": str(ready.template_id)}, headers=HX)
    assert (await post_form(client, f"{base}/activate")).status_code == 303
    flow = await _flow(workspace["id"], flow_id)
    assert (flow["status"], flow["version"]) == ("active", 1)
    assert 'data-testid="flow-publish"' not in (await client.get(base)).text

    await post_form(client, f"{base}/steps", {"kind": "wait", "position": "start", "mode": "duration",
                                              "amount": "1", "unit": "hours"}, headers=HX)
    page = (await client.get(base)).text
    assert 'data-testid="flow-publish"' in page and 'data-testid="flow-draft-changed"' in page
    assert (await _flow(workspace["id"], flow_id))["version"] == 1
    published = await post_form(client, f"{base}/publish")
    assert published.status_code == 303
    assert (await _flow(workspace["id"], flow_id))["version"] == 2
    assert 'data-testid="migrate-form"' in (await client.get(base)).text

    assert (await post_form(client, f"{base}/pause")).status_code == 303
    assert (await _flow(workspace["id"], flow_id))["status"] == "paused"
    listed = (await client.get("/mailing/automations")).text
    assert f'data-testid="flow-row-{flow_id}"' in listed and 'data-status="paused"' in listed


async def test_the_autoresponder_shortcut_creates_an_active_wait_and_send(client):
    workspace, _ = await signed_in_client(client)
    ready = await ready_workspace(workspace, subscribers=1)
    refused = await post_form(client, "/mailing/automations/autoresponder", {
        "name": "Hello", "days": "two", "list_id": str(ready.list_id), "template_id": str(ready.template_id)})
    assert refused.status_code == 422 and 'data-testid="auto-days-error"' in refused.text
    assert await Flow.count().where(Flow.workspace_id == workspace["id"]) == 0

    created = await post_form(client, "/mailing/automations/autoresponder", {
        "name": "Hello", "days": "2", "list_id": str(ready.list_id), "template_id": str(ready.template_id)})
    assert created.status_code == 303
    [flow] = await Flow.select().where(Flow.workspace_id == workspace["id"])
    assert flow["status"] == "active" and flow["version"] == 1
    assert [(s["kind"], s["params"].get("minutes")) for s in steps_of(flow)] == [("wait", 2880), ("send", None)]


async def test_another_workspaces_flow_is_not_found_and_an_analyst_cannot_activate(client):
    workspace, _ = await signed_in_client(client)
    mailing_list = await make_list(workspace, "Mine")
    flow_id = await _created(client, workspace, mailing_list["id"])
    other = await make_workspace()
    theirs = await flows.create_flow(other["id"], {"name": "Theirs"})
    assert (await client.get(f"/mailing/automations/{theirs['id']}")).status_code == 404
    assert (await post_form(client, f"/mailing/automations/{theirs['id']}/steps/s1/delete",
                            headers=HX)).status_code == 404

    analyst = await make_user(workspace, "analyst")
    await login(client, analyst["email"])
    assert (await client.get(f"/mailing/automations/{flow_id}")).status_code == 200
    assert (await post_form(client, f"/mailing/automations/{flow_id}/activate")).status_code == 403
    assert (await _flow(workspace["id"], flow_id))["status"] == "draft"


async def test_the_report_lists_who_waits_at_a_step_and_the_timeline_shows_the_path(client):
    workspace, _ = await signed_in_client(client)
    await ready_workspace(workspace, subscribers=1)
    flow = await flows.create_flow(workspace["id"], {"name": "Drip", "steps": [
        {"id": "s1", "kind": "tag", "params": {"add": ["lead"]}, "next": "s2"},
        {"id": "s2", "kind": "wait", "params": {"mode": "duration", "minutes": 1440}, "next": None}]})
    await flows.activate(workspace["id"], flow["id"])
    [person] = await Subscriber.select(Subscriber.id, Subscriber.email).where(
        Subscriber.workspace_id == workspace["id"])
    moment = now()
    assert await engine.enrol(workspace["id"], flow["id"], [person["id"]], now=moment) == 1
    await engine.advance_all(moment)

    report = (await client.get(f"/mailing/automations/{flow['id']}/report?step=s2")).text
    assert 'data-testid="report-entered-s1">1<' in report
    assert f'data-testid="at-step-row-{person["id"]}"' in report and person["email"] in report
    assert 'data-testid="empty-state"' in (await client.get(f"/mailing/automations/{flow['id']}/report?step=s1")).text

    profile = (await client.get(f"/mailing/subscribers/{person['id']}")).text
    assert 'data-testid="flow-paths"' in profile and "Drip" in profile and "at step s2" in profile


async def test_a_change_that_breaks_the_flow_is_refused_with_the_message_beside_the_step_it_breaks(client):
    workspace, _ = await signed_in_client(client)
    flow = await flows.create_flow(workspace["id"], {"name": "Loop", "steps": [
        {"id": "s1", "kind": "wait", "params": {"mode": "duration", "minutes": 60}, "next": "s2"},
        {"id": "s2", "kind": "goto", "params": {"target": "s1", "limit": 2}, "next": None}]})
    base = f"/mailing/automations/{flow['id']}"
    refused = await post_form(client, f"{base}/steps/s1/delete", headers=HX)
    assert refused.status_code == 422 and 'data-testid="step-error-s2"' in refused.text
    assert [step["id"] for step in steps_of(await _flow(workspace["id"], flow["id"]))] == ["s1", "s2"]


async def test_choosing_another_wait_mode_redraws_the_form_without_saving(client):
    workspace, _ = await signed_in_client(client)
    flow = await flows.create_flow(workspace["id"], {"name": "Waits", "steps": [
        {"id": "s1", "kind": "wait", "params": {"mode": "duration", "minutes": 60}, "next": None}]})
    redrawn = await post_form(client, f"/mailing/automations/{flow['id']}/step-form",
                              {"step_id": "s1", "kind": "wait", "mode": "event"}, headers=HX)
    assert 'data-testid="step-event"' in redrawn.text and 'data-testid="step-amount"' not in redrawn.text
    assert steps_of(await _flow(workspace["id"], flow["id"]))[0]["params"]["mode"] == "duration"


async def test_an_autoresponder_on_a_double_opt_in_list_starts_at_the_confirmation(client):
    workspace, _ = await signed_in_client(client)
    ready = await ready_workspace(workspace, subscribers=0)
    double = await make_list(workspace, "Double", opt_in="double")
    for list_id in (ready.list_id, double["id"]):
        created = await post_form(client, "/mailing/automations/autoresponder", {
            "name": f"Hello {list_id}", "days": "0", "list_id": str(list_id),
            "template_id": str(ready.template_id)})
        assert created.status_code == 303
    rows = await Flow.select(Flow.trigger, Flow.draft_steps).where(Flow.workspace_id == workspace["id"]).order_by(
        Flow.id).output(load_json=True)
    assert [row["trigger"] for row in rows] == [{"kind": "subscribed", "list_id": ready.list_id},
                                                {"kind": "confirmed", "list_id": double["id"]}]
    assert [step["kind"] for step in rows[0]["draft_steps"]] == ["send"]
