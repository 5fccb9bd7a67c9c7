"""The suppression pages: lists with the blacklist first, paste-to-add, search, remove, export, rename, delete."""

import hashlib

from app.db.audit import AuditEntry
from app.db.suppression import SuppressionEntry, SuppressionList
from app.services import suppression
from tests.factories import login, make_user, make_workspace, post_form, signed_in_client

HX = {"hx-request": "true"}


async def test_index_shows_the_blacklist_first_and_what_to_do(client):
    await signed_in_client(client)
    page = await client.get("/mailing/suppression")
    assert page.status_code == 200
    assert 'data-testid="blacklist-badge"' in page.text and 'data-testid="empty-state"' in page.text
    created = await post_form(client, "/mailing/suppression", {"name": "Offer 1234", "description": "from the network"})
    assert created.status_code == 303
    listing = await client.get("/mailing/suppression")
    assert listing.text.index("suppression-row-Blacklist") < listing.text.index("suppression-row-Offer 1234")
    assert 'data-testid="empty-state"' not in listing.text
    refused = await post_form(client, "/mailing/suppression", {"name": "Offer 1234"})
    assert refused.status_code == 422 and 'data-testid="error-name"' in refused.text


async def test_paste_search_remove_and_export(client):
    workspace, _ = await signed_in_client(client)
    offer = await suppression.create_list(workspace["id"], "Offer 1234")
    url = f"/mailing/suppression/{offer['id']}"
    md5 = hashlib.md5(b"bob@example.com").hexdigest()
    added = await post_form(client, f"{url}/entries", {"entries": f"ann@example.com\n{md5}\nann@example.com\n???",
                                                       "reason": "network file"}, headers=HX)
    assert added.status_code == 200
    assert 'data-testid="summary-added">2<' in added.text and 'data-testid="summary-present">0<' in added.text
    assert 'data-testid="summary-invalid">1<' in added.text and "<code>???</code>" in added.text
    again = await post_form(client, f"{url}/entries", {"entries": "ANN@example.com"}, headers=HX)
    assert 'data-testid="summary-present">1<' in again.text
    empty = await post_form(client, f"{url}/entries", {"entries": "  "}, headers=HX)
    assert empty.status_code == 422 and 'data-testid="error-entries"' in empty.text

    found = await client.get(url, params={"q": "bob@example.com"}, headers=HX)
    assert md5 in found.text and "ann@example.com" not in found.text and "<html" not in found.text
    entry = await SuppressionEntry.select().where(SuppressionEntry.kind == "md5").first()
    removed = await post_form(client, f"{url}/entries/{entry['id']}/remove", {"q": ""}, headers=HX)
    assert md5 not in removed.text and 'data-testid="suppression-entry-count">(1)<' in removed.text

    export = await client.get(f"{url}/export")
    assert export.status_code == 200 and export.headers["content-type"] == "text/csv; charset=utf-8"
    assert 'filename="offer-1234.csv"' in export.headers["content-disposition"]
    assert export.text.splitlines()[1].startswith("email,ann@example.com,network file,")
    actions = [row["action"] for row in await AuditEntry.select(AuditEntry.action).order_by(AuditEntry.id)]
    assert [a for a in actions if a.startswith("suppression")] == [
        "suppression.entries_added", "suppression.entries_added", "suppression.entry_removed",
        "suppression_list.exported"]


async def test_rename_delete_and_the_blacklist_stays(client):
    workspace, _ = await signed_in_client(client)
    offer = await suppression.create_list(workspace["id"], "Offer 1")
    renamed = await post_form(client, f"/mailing/suppression/{offer['id']}/rename", {"name": "Offer 2"})
    assert renamed.status_code == 303
    assert (await suppression.get_list(workspace["id"], offer["id"]))["name"] == "Offer 2"
    blacklist = await suppression.blacklist(workspace["id"])
    kept = await post_form(client, f"/mailing/suppression/{blacklist['id']}/delete")
    assert kept.status_code == 303 and await suppression.get_list(workspace["id"], blacklist["id"])
    deleted = await post_form(client, f"/mailing/suppression/{offer['id']}/delete")
    assert deleted.status_code == 303 and await SuppressionList.count() == 1


async def test_analysts_read_but_do_not_change(client):
    workspace = await make_workspace()
    offer = await suppression.create_list(workspace["id"], "Offer 1")
    analyst = await make_user(workspace, "analyst")
    await login(client, analyst["email"])
    page = await client.get(f"/mailing/suppression/{offer['id']}")
    assert page.status_code == 200 and 'data-testid="suppression-add-form"' not in page.text
    refused = await post_form(client, f"/mailing/suppression/{offer['id']}/entries", {"entries": "a@example.com"})
    assert refused.status_code == 403 and await SuppressionEntry.count() == 0


async def test_another_workspaces_lists_are_not_found(client):
    other = await make_workspace()
    theirs = await suppression.create_list(other["id"], "Their offer")
    await suppression.add_pasted(other["id"], theirs["id"], "secret@example.com")
    entry = await SuppressionEntry.select().first()
    await signed_in_client(client)
    base = f"/mailing/suppression/{theirs['id']}"
    for path in (base, f"{base}/export"):
        assert (await client.get(path)).status_code == 404
    for path in (f"{base}/entries", f"{base}/entries/{entry['id']}/remove", f"{base}/rename", f"{base}/delete"):
        assert (await post_form(client, path, {"entries": "x@example.com", "name": "Mine"})).status_code == 404
    assert "Their offer" not in (await client.get("/mailing/suppression")).text
    assert await SuppressionEntry.count() == 1
