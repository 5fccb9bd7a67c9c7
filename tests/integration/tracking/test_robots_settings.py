"""The robot rules page (/settings/robots): listing, adding, editing, disabling, deleting and restoring rules,
refusing rules that could not work with a message next to the field, for admins only, within the workspace."""

from __future__ import annotations

import pytest

from app.services.forms import FormError
from app.services.tracking import robot_rules
from tests.factories import make_workspace, post_form, signed_in_client

BURST = {"name": "Fast fingers", "kind": "link_burst", "applies_to": "click", "links": "4", "seconds": "1.5",
         "enabled": "on"}


async def _named(workspace_id: int) -> dict[str, dict]:
    return {rule["name"]: rule for rule in await robot_rules.rules_of(workspace_id)}


async def test_the_page_lists_the_rules_with_what_each_looks_at(client) -> None:
    await signed_in_client(client)
    page = await client.get("/settings/robots")
    assert page.status_code == 200
    assert 'data-testid="robot-rule-row-Apple Mail Privacy Protection"' in page.text
    assert "3 different links within 1 s" in page.text and "Within 10 s of delivery" in page.text
    assert 'data-testid="nav-robots"' in page.text


async def test_add_edit_disable_and_delete_a_rule(client) -> None:
    workspace, _ = await signed_in_client(client)
    added = await post_form(client, "/settings/robots", BURST)
    assert added.status_code == 303
    rule = (await _named(workspace["id"]))["Fast fingers"]
    assert (rule["links"], rule["seconds_text"], rule["enabled"]) == (4, "1.5", True)
    edited = await post_form(client, f"/settings/robots/{rule['id']}", {
        **BURST, "name": "Scanner bursts", "kind": "network", "applies_to": "both",
        "networks": "203.0.113.0/24\n2001:db8::1, 198.51.100.7"})
    assert edited.status_code == 303
    rule = (await _named(workspace["id"]))["Scanner bursts"]
    assert (rule["networks"], rule["links"], rule["seconds"]) == (
        ["203.0.113.0/24", "2001:db8::1/128", "198.51.100.7/32"], None, None)
    assert (await post_form(client, f"/settings/robots/{rule['id']}/enabled", {"enabled": "0"})).status_code == 303
    assert (await _named(workspace["id"]))["Scanner bursts"]["enabled"] is False
    assert (await post_form(client, f"/settings/robots/{rule['id']}/delete")).status_code == 303
    assert "Scanner bursts" not in await _named(workspace["id"])


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"kind": "user_agent", "applies_to": "both", "pattern": "Mozilla/(5"}, "pattern", "not a valid regular"),
    ({"kind": "network", "applies_to": "both", "networks": "40.92.0.0/15\n10.0.0.300/8"}, "networks", "10.0.0.300/8"),
    ({"kind": "network", "applies_to": "both", "networks": "0.0.0.0/0"}, "networks", "covers every address"),
    ({"links": "1"}, "links", "from 2 to 50"),
    ({"seconds": "0"}, "seconds", "above 0"),
    ({"applies_to": "open"}, "applies_to", "A burst is of clicks"),
    ({"name": " "}, "name", "Give the rule a name"),
    ({"name": "gmail IMAGE proxy"}, "name", "exists already"),
])
async def test_a_rule_that_could_not_work_is_refused_next_to_its_field(client, changes, field, message) -> None:
    workspace, _ = await signed_in_client(client)
    before = await robot_rules.rules_of(workspace["id"])
    refused = await post_form(client, "/settings/robots", {**BURST, **changes})
    assert refused.status_code == 422
    assert f'data-testid="error-{field}"' in refused.text and message in refused.text
    assert await robot_rules.rules_of(workspace["id"]) == before


async def test_renaming_a_rule_to_anothers_name_is_refused(client) -> None:
    workspace, _ = await signed_in_client(client)
    rules = await _named(workspace["id"])
    refused = await post_form(client, f"/settings/robots/{rules['Barracuda']['id']}",
                              {**robot_rules.form_of(rules["Barracuda"]), "name": "Mimecast"})
    assert refused.status_code == 422 and 'data-testid="error-name"' in refused.text
    assert "Barracuda" in await _named(workspace["id"])


async def test_marketers_see_the_rules_but_cannot_change_them(client) -> None:
    workspace, _ = await signed_in_client(client, role="marketer")
    page = await client.get("/settings/robots")
    assert page.status_code == 200 and 'data-testid="robot-rule-new"' not in page.text
    assert (await post_form(client, "/settings/robots", BURST)).status_code == 403
    rule_id = (await _named(workspace["id"]))["Barracuda"]["id"]
    assert (await post_form(client, f"/settings/robots/{rule_id}/delete")).status_code == 403
    assert "Barracuda" in await _named(workspace["id"])


async def test_another_workspaces_rule_is_not_found(client) -> None:
    await signed_in_client(client)
    other = await make_workspace()
    theirs = (await _named(other["id"]))["Barracuda"]
    assert (await client.get(f"/settings/robots/{theirs['id']}/edit")).status_code == 404
    assert (await post_form(client, f"/settings/robots/{theirs['id']}/enabled", {"enabled": "0"})).status_code == 404
    assert (await post_form(client, f"/settings/robots/{theirs['id']}/delete")).status_code == 404
    assert (await _named(other["id"]))["Barracuda"]["enabled"] is True
    with pytest.raises(LookupError):
        await robot_rules.update_rule(other["id"] + 1, theirs["id"], BURST)


async def test_restoring_defaults_adds_back_only_what_was_deleted(client) -> None:
    workspace, _ = await signed_in_client(client)
    rules = await _named(workspace["id"])
    await robot_rules.delete_rule(workspace["id"], rules["Mimecast"]["id"])
    await robot_rules.set_enabled(workspace["id"], rules["Proofpoint"]["id"], False)
    assert (await post_form(client, "/settings/robots/restore")).status_code == 303
    restored = await _named(workspace["id"])
    assert "Mimecast" in restored and restored["Proofpoint"]["enabled"] is False


def test_values_are_checked_before_anything_is_stored() -> None:
    with pytest.raises(FormError) as refused:
        robot_rules.rule_values({"name": "x" * 81, "kind": "sorcery", "applies_to": "both"})
    assert set(refused.value.errors) == {"name", "kind"}
