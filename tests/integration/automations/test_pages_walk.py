"""The automation pages after a fresh-eyes walk: the list shows the live trigger, the header follows an edit,
unreachable steps are refused, a flow is archived, duplicated or discarded, every form error shows at once."""

from __future__ import annotations

from app.db.automations import Flow
from app.services import templates
from app.services.accounts import now
from app.services.automations import engine, flows, reports
from tests.factories import make_list, post_form, signed_in_client
from tests.integration.campaigns_ui.helpers import ready_workspace

HX = {"HX-Request": "true"}


async def _active_flow(client, workspace: dict, list_id: int, template_id: int) -> str:
    created = await post_form(client, "/mailing/automations/", {
        "name": "Welcome", "trigger_kind": "subscribed", "list_id": str(list_id)})
    base = created.headers["location"]
    await post_form(client, f"{base}/steps", {"kind": "send", "position": "start",
                                              "template_id": str(template_id)}, headers=HX)
    assert (await post_form(client, f"{base}/activate")).status_code == 303
    return base


async def test_the_list_shows_the_live_trigger_and_says_when_the_draft_differs(client):
    workspace, _ = await signed_in_client(client)
    ready = await ready_workspace(workspace, subscribers=1)
    other = await make_list(workspace, "Prospects")
    base = await _active_flow(client, workspace, ready.list_id, ready.template_id)
    flow_id = int(base.rsplit("/", 1)[1])
    listed = (await client.get("/mailing/automations")).text
    assert "Subscribes to Customers" in listed and f"flow-draft-changed-{flow_id}" not in listed

    saved = await post_form(client, f"{base}/trigger", {"which": "trigger", "name": "Welcome",
                                                        "trigger_kind": "subscribed", "list_id": str(other["id"])})
    assert saved.status_code == 303
    listed = (await client.get("/mailing/automations")).text
    assert "Subscribes to Customers" in listed and "Subscribes to Prospects" not in listed
    assert f'data-testid="flow-draft-changed-{flow_id}"' in listed

    await post_form(client, f"{base}/publish")
    listed = (await client.get("/mailing/automations")).text
    assert "Subscribes to Prospects" in listed and f"flow-draft-changed-{flow_id}" not in listed
    assert (await flows.owned_flow(workspace["id"], flow_id))["version"] == 2


async def test_a_step_change_answers_the_head_again_with_the_publish_button(client):
    workspace, _ = await signed_in_client(client)
    ready = await ready_workspace(workspace, subscribers=1)
    base = await _active_flow(client, workspace, ready.list_id, ready.template_id)
    page = (await client.get(base)).text
    assert 'id="flow-head"' in page and 'hx-swap-oob' not in page and 'data-testid="flow-publish"' not in page

    added = await post_form(client, f"{base}/steps", {"kind": "wait", "position": "start", "mode": "duration",
                                                      "amount": "1", "unit": "hours"}, headers=HX)
    assert added.status_code == 200
    head = added.text[added.text.index('<div id="flow-head"'):]
    assert head.startswith('<div id="flow-head" hx-swap-oob="true">')
    assert 'data-testid="flow-publish"' in head and "Publish version 2" in head


async def test_the_goto_target_list_names_each_step_and_offers_no_end(client):
    workspace, _ = await signed_in_client(client)
    ready = await ready_workspace(workspace, subscribers=1)
    created = await post_form(client, "/mailing/automations/", {"name": "Loop", "trigger_kind": "manual"})
    base = created.headers["location"]
    await post_form(client, f"{base}/steps", {"kind": "send", "position": "start",
                                              "template_id": str(ready.template_id)}, headers=HX)
    await post_form(client, f"{base}/steps", {"kind": "end", "position": "after:s1"}, headers=HX)

    form = (await client.get(f"{base}/steps?kind=goto&position=after:s1", headers=HX)).text
    options = form[form.index('name="target"'):form.index("</select>", form.index('name="target"'))]
    assert '<option value="s1"' in options and "s1 · Send “" in options
    assert 'value="s2"' not in options


async def test_a_flow_is_duplicated_its_draft_discarded_archived_and_a_draft_deleted(client):
    workspace, _ = await signed_in_client(client)
    ready = await ready_workspace(workspace, subscribers=1)
    base = await _active_flow(client, workspace, ready.list_id, ready.template_id)
    flow_id = int(base.rsplit("/", 1)[1])
    page = (await client.get(base)).text
    assert 'data-testid="flow-archive"' in page and 'data-testid="flow-delete"' not in page
    assert 'data-testid="flow-discard"' not in page

    await post_form(client, f"{base}/steps", {"kind": "wait", "position": "start", "mode": "duration",
                                              "amount": "1", "unit": "hours"}, headers=HX)
    assert 'data-testid="flow-discard"' in (await client.get(base)).text
    assert (await post_form(client, f"{base}/discard")).status_code == 303
    flow = await flows.owned_flow(workspace["id"], flow_id)
    assert [s["kind"] for s in flow["draft_steps"]] == ["send"] and flow["version"] == 1
    assert 'data-testid="flow-publish"' not in (await client.get(base)).text

    copied = await post_form(client, f"{base}/duplicate")
    copy_id = int(copied.headers["location"].rsplit("/", 1)[1])
    copy = await flows.owned_flow(workspace["id"], copy_id)
    assert (copy["name"], copy["status"], copy["version"]) == ("Copy of Welcome", "draft", 0)
    assert copy["draft_steps"] == flow["draft_steps"] and copy["trigger"] == flow["trigger"]
    assert 'data-testid="flow-delete"' in (await client.get(copied.headers["location"])).text

    refused = await post_form(client, f"{base}/delete")
    assert refused.status_code == 422 and "archive this one instead" in refused.text
    assert (await post_form(client, f"/mailing/automations/{copy_id}/delete")).status_code == 303
    assert copy_id not in [row["id"] for row in await Flow.select(Flow.id).where(Flow.workspace_id == workspace["id"])]

    assert (await post_form(client, f"{base}/archive")).status_code == 303
    assert (await flows.owned_flow(workspace["id"], flow_id))["status"] == "archived"
    assert f"flow-row-{flow_id}" not in (await client.get("/mailing/automations")).text


async def test_an_empty_name_and_other_mistakes_are_all_shown_at_once(client):
    workspace, _ = await signed_in_client(client)
    ready = await ready_workspace(workspace, subscribers=1)

    auto = await post_form(client, "/mailing/automations/autoresponder", {"days": "x"})
    assert auto.status_code == 422
    for name in ("name", "days", "list_id", "template_id"):
        assert f'data-testid="auto-{name}-error"' in auto.text, name
    new = await post_form(client, "/mailing/automations/", {"trigger_kind": "subscribed"})
    assert new.status_code == 422
    assert 'data-testid="flow-name-error"' in new.text and 'data-testid="trigger-list_id-error"' in new.text
    base = await _active_flow(client, workspace, ready.list_id, ready.template_id)
    trigger = await post_form(client, f"{base}/trigger", {"which": "trigger", "trigger_kind": "tag_added"})
    assert trigger.status_code == 422
    assert 'data-testid="flow-name-error"' in trigger.text and 'data-testid="trigger-tag-error"' in trigger.text
    assert [row["name"] for row in await Flow.select(Flow.name).where(Flow.workspace_id == workspace["id"])] \
        == ["Welcome"]


async def test_new_flows_leave_on_unsubscribe_and_one_person_is_one_person(client):
    workspace, _ = await signed_in_client(client)
    ready = await ready_workspace(workspace, subscribers=1)
    auto = await post_form(client, "/mailing/automations/autoresponder", {
        "name": "Hello", "days": "0", "list_id": str(ready.list_id), "template_id": str(ready.template_id)})
    assert auto.status_code == 303
    created = await post_form(client, "/mailing/automations/", {"name": "By hand", "trigger_kind": "manual"})
    for location in (auto.headers["location"], created.headers["location"]):
        flow = await flows.owned_flow(workspace["id"], int(location.rsplit("/", 1)[1]))
        assert flow["settings"]["exit_on"] == ["unsubscribed"]
        page = (await client.get(location)).text
        at = page.index('id="settings-exit_unsubscribed"')
        box = page[at - 200:at + 200]
        assert "checked" in box
        assert 'class="settings-gap"' in page

    base = created.headers["location"]
    await post_form(client, f"{base}/steps", {"kind": "wait", "position": "start", "mode": "duration",
                                              "amount": "1", "unit": "days"}, headers=HX)
    await post_form(client, f"{base}/activate")
    await post_form(client, f"{base}/enrol", {"which": "enrol", "list_id": str(ready.list_id)})
    page = (await client.get(base)).text
    assert "1 person enrolled." in page and "1 people" not in page


async def test_a_send_step_whose_template_was_archived_says_so_on_the_page_and_in_its_form(client):
    workspace, _ = await signed_in_client(client)
    ready = await ready_workspace(workspace, subscribers=1)
    base = await _active_flow(client, workspace, ready.list_id, ready.template_id)
    name = (await templates.get_template(workspace["id"], ready.template_id))["name"]
    assert 'data-testid="steps-archived-templates"' not in (await client.get(base)).text

    await templates.set_archived(workspace["id"], ready.template_id, True)
    page = (await client.get(base)).text
    assert 'data-testid="steps-archived-templates"' in page and f"template “{name}” is archived" in page
    assert f"Send “{name}”" in page and "a template" not in page
    form = (await client.get(f"{base}/steps?edit=s1", headers=HX)).text
    assert 'data-testid="step-archived-template"' in form
    assert f'<option value="{ready.template_id}" selected' in form.replace('selected="selected"', "selected")


def test_each_kind_of_step_reports_the_outcomes_it_has_and_they_add_up():
    send = {"id": "s1", "kind": "send", "params": {}}
    end = {"id": "s2", "kind": "end", "params": {}}
    goto = {"id": "s3", "kind": "goto", "params": {"target": "s1", "limit": 2}}

    assert reports.step_outcomes(send, {"entered": 5, "waiting": 1, "sent": 4}) == [(4, "sent"), (0, "skipped")]
    assert reports.step_outcomes(end, {"entered": 3, "done": 3}) == [(3, "ended here")]
    assert reports.step_outcomes(goto, {"entered": 3, "yes": 2, "no": 1}) == [(2, "went back"), (1, "carried on")]
    assert reports.step_outcomes(send, {"entered": 6, "waiting": 0, "sent": 3, "exited": 1}) == [
        (3, "sent"), (0, "skipped"), (2, "moved to a newer version")]


async def test_the_report_shows_what_a_send_step_did_with_everyone_who_entered_it(client):
    workspace, _ = await signed_in_client(client)
    ready = await ready_workspace(workspace, subscribers=2)
    base = await _active_flow(client, workspace, ready.list_id, ready.template_id)
    await post_form(client, f"{base}/enrol", {"which": "enrol", "list_id": str(ready.list_id)})
    await engine.advance_all(now())

    report = (await client.get(f"{base}/report")).text
    # No sending is set up here, so both are skipped: the cell names both outcomes, which add up to the entered.
    assert 'data-testid="report-entered-s1">2<' in report
    assert 'data-testid="report-went-s1">0 sent · 2 skipped<' in report
    assert "Went on" not in report
