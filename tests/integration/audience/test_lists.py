from app.db.audience import ListField, MailingList, Subscriber
from app.db.audit import AuditEntry
from app.services.subscribers import add_subscriber
from tests.factories import make_list, post_form, signed_in_client


async def test_create_list_with_settings_and_see_it_listed(client):
    await signed_in_client(client)
    response = await post_form(client, "/mailing/lists", {
        "name": "Sweepstakes US", "from_email": "Deals@Example.com", "opt_in": "double",
        "company_address": "1 Main St, Springfield", "welcome_email": "on"})
    assert response.status_code == 303
    row = await MailingList.select().where(MailingList.name == "Sweepstakes US").first()
    assert row["from_email"] == "Deals@example.com" and row["opt_in"] == "double" and row["welcome_email"]
    page = await client.get("/mailing/lists")
    assert "Sweepstakes US" in page.text
    assert await AuditEntry.count().where(AuditEntry.action == "list.created") == 1


async def test_list_form_errors_are_shown_next_to_fields_and_nothing_is_saved(client):
    await signed_in_client(client)
    response = await post_form(client, "/mailing/lists", {"name": "", "from_email": "not-an-email"})
    assert response.status_code == 422
    assert 'data-testid="error-name"' in response.text
    assert 'data-testid="error-from_email"' in response.text
    assert await MailingList.count() == 0


async def test_duplicate_list_name_is_refused(client):
    workspace, _ = await signed_in_client(client)
    await make_list(workspace, "Main")
    response = await post_form(client, "/mailing/lists", {"name": "Main"})
    assert response.status_code == 422
    assert "already has this name" in response.text


async def test_list_page_shows_counters_and_growth_chart(client):
    workspace, _ = await signed_in_client(client)
    mailing_list = await make_list(workspace, "Stats")
    for i in range(3):
        await add_subscriber(workspace["id"], mailing_list["id"], {"email": f"s{i}@example.com"})
    page = await client.get(f"/mailing/lists/{mailing_list['id']}")
    assert page.status_code == 200
    assert 'data-testid="growth-chart"' in page.text
    assert "Joined in 30 days: 3" in page.text


async def test_custom_fields_add_reorder_edit_delete(client):
    workspace, _ = await signed_in_client(client)
    mailing_list = await make_list(workspace)
    base = f"/mailing/lists/{mailing_list['id']}/fields"
    first = await post_form(client, base, {"label": "First name", "kind": "text"})
    assert first.status_code == 200 and "{{ first_name }}" in first.text
    await post_form(client, base, {"label": "Plan", "kind": "dropdown", "options": "free, pro"})
    bad = await post_form(client, base, {"label": "Plan again", "tag": "plan", "kind": "text"})
    assert bad.status_code == 422 and "uses this merge tag" in bad.text
    reserved = await post_form(client, base, {"label": "Email", "kind": "text"})
    assert reserved.status_code == 422 and "reserved" in reserved.text
    plan = await ListField.select().where(ListField.tag == "plan").first()
    await post_form(client, f"{base}/{plan['id']}/move", {"direction": "up"})
    ordered = await ListField.select(ListField.tag).order_by(ListField.position)
    assert [row["tag"] for row in ordered] == ["plan", "first_name"]
    edited = await post_form(client, f"{base}/{plan['id']}", {"label": "Plan tier", "kind": "dropdown",
                                                             "options": "free\npro\nenterprise"})
    assert edited.status_code == 200 and "enterprise" in edited.text
    await post_form(client, f"{base}/{plan['id']}/delete")
    assert await ListField.count() == 1


async def test_copy_list_with_fields_and_subscribers(client):
    workspace, _ = await signed_in_client(client)
    mailing_list = await make_list(workspace, "Original")
    await post_form(client, f"/mailing/lists/{mailing_list['id']}/fields", {"label": "City", "kind": "text"})
    await add_subscriber(workspace["id"], mailing_list["id"], {"email": "a@example.com", "field_city": "Oslo"})
    response = await post_form(client, f"/mailing/lists/{mailing_list['id']}/copy",
                               {"name": "Clone", "with_subscribers": "on"})
    assert response.status_code == 303
    clone = await MailingList.select().where(MailingList.name == "Clone").first()
    assert await ListField.count().where(ListField.list_id == clone["id"]) == 1
    copied = await Subscriber.select().where(Subscriber.list_id == clone["id"]).output(load_json=True).first()
    assert copied["email"] == "a@example.com" and copied["fields"] == {"city": "Oslo"}


async def test_archive_and_delete_list(client):
    workspace, _ = await signed_in_client(client)
    mailing_list = await make_list(workspace, "Old")
    await post_form(client, f"/mailing/lists/{mailing_list['id']}/archive")
    assert "Old" not in (await client.get("/mailing/lists")).text
    assert "Old" in (await client.get("/mailing/lists?archived=true")).text
    await post_form(client, f"/mailing/lists/{mailing_list['id']}/delete")
    assert await MailingList.count() == 0


async def test_lists_of_another_workspace_are_not_found(client):
    from tests.factories import make_workspace

    other = await make_workspace("Other")
    foreign = await make_list(other, "Secret")
    await signed_in_client(client)
    assert (await client.get(f"/mailing/lists/{foreign['id']}")).status_code == 404
    assert (await post_form(client, f"/mailing/lists/{foreign['id']}/delete")).status_code == 404
    assert (await post_form(client, f"/mailing/lists/{foreign['id']}/fields", {"label": "X"})).status_code == 404
    assert "Secret" not in (await client.get("/mailing/lists")).text
    assert await MailingList.count() == 1


async def test_analyst_cannot_create_lists(client):
    await signed_in_client(client, role="analyst")
    assert (await post_form(client, "/mailing/lists", {"name": "Nope"})).status_code == 403
