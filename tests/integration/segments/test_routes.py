"""The segment pages: list, builder with live count and preview, save, recount, delete; who may do what."""

import re

from app.db.audit import AuditEntry
from app.db.segments import Segment
from tests.factories import make_user, make_workspace, post_form, signed_in_client
from tests.integration.segments.helpers import make_audience

HX = {"hx-request": "true"}


def _form(audience, *rules, name="Parisians"):
    """The builder's form fields for a root group of field rules."""
    data = {"name": name, "list_ids": str(audience["list"]["id"]), "r.match": "all"}
    for index, (field, op, value) in enumerate(rules):
        data.update({f"r.{index}.kind": "field", f"r.{index}.field": field, f"r.{index}.op": op,
                     f"r.{index}.value": value})
    return data


def _count(html: str) -> int:
    match = re.search(r'data-testid="segment-count">([\d,]+)<', html)
    assert match, html[:2000]
    return int(match.group(1).replace(",", ""))


async def test_empty_state_says_what_to_do(client):
    await signed_in_client(client)
    page = await client.get("/mailing/segments")
    assert page.status_code == 200
    assert 'data-testid="empty-state"' in page.text and "No segments yet" in page.text
    assert 'href="/mailing/segments/new"' in page.text


async def test_live_count_follows_the_conditions(client):
    workspace, _ = await signed_in_client(client)
    audience = await make_audience(workspace)
    page = await client.get("/mailing/segments/new")
    assert page.status_code == 200 and 'hx-post="/mailing/segments/count"' in page.text
    assert _count(page.text) == 5
    one = await post_form(client, "/mailing/segments/count", _form(audience, ("city", "starts_with", "par")),
                          headers=HX)
    assert _count(one.text) == 2 and one.text.count('data-testid="preview-row"') == 2
    two = await post_form(client, "/mailing/segments/count",
                          _form(audience, ("city", "starts_with", "par"), ("age", "gt", "40")), headers=HX)
    assert _count(two.text) == 1 and "eve@example.com" in two.text


async def test_live_count_puts_errors_next_to_their_rules(client):
    workspace, _ = await signed_in_client(client)
    audience = await make_audience(workspace)
    response = await post_form(client, "/mailing/segments/count",
                               _form(audience, ("city", "equals", "Paris"), ("age", "gt", "old")), headers=HX)
    assert 'data-testid="segment-count"' not in response.text
    assert re.search(r'id="error-r-1"[^>]*hx-swap-oob="true"[^>]*>“old” is not a number', response.text)
    assert re.search(r'id="error-r-0"[^>]*hx-swap-oob="true"[^>]*></p>', response.text)


async def test_builder_adds_rules_and_groups_and_removes_them(client):
    workspace, _ = await signed_in_client(client)
    audience = await make_audience(workspace)
    form = _form(audience, ("city", "equals", "Paris"))
    added = await post_form(client, "/mailing/segments/builder", {**form, "action": "add_group:r"}, headers=HX)
    assert 'data-testid="group-r-1"' in added.text and 'data-testid="rule-r-1-0"' in added.text
    assert 'data-testid="add-group-r-1"' in added.text  # a second level is allowed ...
    nested = await post_form(client, "/mailing/segments/builder", {
        **form, "r.1.match": "any", "r.1.0.kind": "status", "r.1.0.op": "is", "r.1.0.value": "confirmed",
        "r.1.1.match": "all", "action": "add_rule:r.1.1"}, headers=HX)
    assert 'data-testid="rule-r-1-1-0"' in nested.text
    assert 'data-testid="add-group-r-1-1"' not in nested.text  # ... a third is not
    removed = await post_form(client, "/mailing/segments/builder", {**form, "action": "remove:r.0"}, headers=HX)
    assert 'data-testid="rule-r-0"' not in removed.text and 'id="segment-live" hx-swap-oob="true"' in removed.text


async def test_changing_a_rule_type_offers_its_operators(client):
    workspace, _ = await signed_in_client(client)
    audience = await make_audience(workspace)
    form = {**_form(audience, ("city", "contains", "x")), "r.0.kind": "last_open"}
    response = await post_form(client, "/mailing/segments/builder", form, headers=HX)
    assert 'value="within_days" selected' in response.text and 'value="30"' in response.text


async def test_save_update_recount_and_delete_are_audited(client):
    workspace, _ = await signed_in_client(client)
    audience = await make_audience(workspace)
    created = await post_form(client, "/mailing/segments", _form(audience, ("city", "starts_with", "par")))
    assert created.status_code == 303 and created.headers["location"] == "/mailing/segments"
    segment = await Segment.select().first()
    assert segment["cached_count"] == 2
    listing = await client.get("/mailing/segments")
    assert 'data-testid="segment-row-Parisians"' in listing.text and "saved: 2 subscribers" in listing.text
    edit = await client.get(f"/mailing/segments/{segment['id']}")
    assert 'value="par"' in edit.text and 'data-testid="segment-delete"' in edit.text
    updated = await post_form(client, f"/mailing/segments/{segment['id']}",
                              _form(audience, ("city", "equals", "berlin"), name="Berliners"))
    assert updated.status_code == 303
    recount = await post_form(client, f"/mailing/segments/{segment['id']}/recount", headers=HX)
    assert f'data-testid="segment-count-{segment["id"]}">1<' in recount.text
    deleted = await post_form(client, f"/mailing/segments/{segment['id']}/delete")
    assert deleted.status_code == 303 and await Segment.count() == 0
    actions = [row["action"] for row in await AuditEntry.select(AuditEntry.action).order_by(AuditEntry.id)]
    assert [action for action in actions if action.startswith("segment.")] == [
        "segment.created", "segment.updated", "segment.deleted"]


async def test_save_with_errors_shows_them_next_to_the_fields(client):
    workspace, _ = await signed_in_client(client)
    audience = await make_audience(workspace)
    response = await post_form(client, "/mailing/segments", {**_form(audience, ("nope", "equals", "x")), "name": ""})
    assert response.status_code == 422
    assert 'data-testid="error-name"' in response.text
    assert re.search(r'data-testid="error-r-0">No custom field “nope”', response.text)
    assert await Segment.count() == 0


async def test_analysts_can_explore_counts_but_not_save(client):
    workspace = await make_workspace()
    audience = await make_audience(workspace)
    analyst = await make_user(workspace, "analyst")
    from tests.factories import login

    await login(client, analyst["email"])
    counted = await post_form(client, "/mailing/segments/count", _form(audience), headers=HX)
    assert _count(counted.text) == 5
    page = await client.get("/mailing/segments/new")
    assert 'data-testid="segment-save"' not in page.text
    assert (await post_form(client, "/mailing/segments", _form(audience))).status_code == 403


async def test_another_workspaces_segments_are_not_found(client):
    other = await make_workspace()
    theirs = await make_audience(other)
    from app.services import segments

    saved = await segments.save_segment(other["id"], {"name": "Theirs", "list_ids": [theirs["list"]["id"]],
                                                      "conditions": {"match": "all", "rules": []}})
    workspace, _ = await signed_in_client(client)
    mine = await make_audience(workspace)
    for path in (f"/mailing/segments/{saved['id']}",):
        assert (await client.get(path)).status_code == 404
    for path in ("", "/recount", "/delete"):
        assert (await post_form(client, f"/mailing/segments/{saved['id']}{path}", _form(mine))).status_code == 404
    assert "Theirs" not in (await client.get("/mailing/segments")).text
    # Their list cannot be smuggled into my builder either.
    foreign = await post_form(client, "/mailing/segments/count", {**_form(mine), "list_ids": str(theirs["list"]["id"])},
                              headers=HX)
    assert "Choose lists of this workspace" in foreign.text and "@example.com" not in foreign.text
    assert (await segments.get_segment(other["id"], saved["id"]))["name"] == "Theirs"
