import re

from app.db.audience import Subscriber, SubscriberStatusChange
from app.db.audit import AuditEntry
from app.services.custom_fields import add_field
from app.services.subscribers import SubscriberFilter, add_subscriber, search
from app.services.subscriptions import unsubscribe_url
from app.settings import get_settings
from tests.factories import make_list, make_workspace, post_form, signed_in_client


async def _list_with_fields(workspace):
    mailing_list = await make_list(workspace, "Leads")
    await add_field(workspace["id"], mailing_list["id"], {"label": "First name", "kind": "text", "required": "on"})
    await add_field(workspace["id"], mailing_list["id"], {"label": "Age", "kind": "number"})
    await add_field(workspace["id"], mailing_list["id"], {"label": "Plan", "kind": "dropdown", "options": "free,pro"})
    return mailing_list


async def test_add_subscriber_shows_each_problem_next_to_its_field_and_saves_nothing(client):
    workspace, _ = await signed_in_client(client)
    mailing_list = await _list_with_fields(workspace)
    bad = await post_form(client, "/mailing/subscribers", {
        "list_id": mailing_list["id"], "email": "ann@example", "field_age": "old", "field_plan": "gold"})
    assert bad.status_code == 422
    for field in ("email", "field_first_name", "field_age", "field_plan"):
        assert f'data-testid="error-{field}"' in bad.text, field
    assert 'value="ann@example"' in bad.text and 'value="old"' in bad.text
    assert await Subscriber.count() == 0
    assert await AuditEntry.count().where(AuditEntry.action.like("subscriber.%")) == 0
    good = await post_form(client, "/mailing/subscribers", {
        "list_id": mailing_list["id"], "email": "Ann@Example.COM", "field_first_name": "Ann", "field_age": "41",
        "field_plan": "pro"})
    assert good.status_code == 303
    row = await Subscriber.select().output(load_json=True).first()
    assert row["email"] == "ann@example.com" and row["email_domain"] == "example.com"
    assert row["fields"] == {"first_name": "Ann", "age": 41, "plan": "pro"}
    assert await AuditEntry.count().where(AuditEntry.action == "subscriber.created") == 1
    profile = await client.get(good.headers["location"])
    assert "ann@example.com" in profile.text and 'data-testid="status-history"' in profile.text


async def test_duplicate_address_on_a_list_is_refused_next_to_the_field(client):
    workspace, _ = await signed_in_client(client)
    mailing_list = await make_list(workspace)
    await add_subscriber(workspace["id"], mailing_list["id"], {"email": "a@example.com"})
    response = await post_form(client, "/mailing/subscribers",
                               {"list_id": mailing_list["id"], "email": "A@example.com"})
    assert response.status_code == 422
    assert 'data-testid="error-email"' in response.text and "already on the list" in response.text
    assert 'value="A@example.com"' in response.text
    assert await Subscriber.count() == 1


async def test_adding_to_a_list_of_another_workspace_is_not_found(client):
    foreign_list = await make_list(await make_workspace("Other"))
    await signed_in_client(client)
    response = await post_form(client, "/mailing/subscribers",
                               {"list_id": foreign_list["id"], "email": "a@example.com"})
    assert response.status_code == 404
    assert await Subscriber.count() == 0


async def test_search_by_prefix_field_status_with_keyset_pages(client):
    workspace, _ = await signed_in_client(client)
    mailing_list = await make_list(workspace)
    await add_field(workspace["id"], mailing_list["id"], {"label": "City", "kind": "text"})
    for i in range(120):
        await Subscriber.raw(
            "INSERT INTO subscribers (workspace_id, list_id, email, email_domain, fields, status) "
            "VALUES ({}, {}, {}, 'example.com', {}::jsonb, {})",
            workspace["id"], mailing_list["id"], f"user{i:03d}@example.com",
            '{"city": "Paris"}' if i % 3 == 0 else '{"city": "Rome"}', "confirmed" if i % 2 else "unconfirmed",
        )
    seen: list[str] = []
    after = None
    while True:
        rows, cursor = await search(workspace["id"], SubscriberFilter(list_id=mailing_list["id"]), "email", after)
        seen += [row["email"] for row in rows]
        if not cursor:
            break
        email, _, last_id = cursor.rpartition("|")
        after = (email, int(last_id))
    assert seen == sorted(seen) and len(seen) == 120
    rows, _ = await search(workspace["id"], SubscriberFilter(query="user01"), "email")
    assert [r["email"] for r in rows] == [f"user01{i}@example.com" for i in range(10)]
    rows, _ = await search(workspace["id"], SubscriberFilter(query="city=Paris", status="confirmed"), limit=500)
    assert len(rows) == 20
    page = await client.get("/mailing/subscribers?q=user00&sort=email", headers={"hx-request": "true"})
    assert page.text.count('data-testid="subscriber-row"') == 10
    assert "<html" not in page.text
    first = await client.get("/mailing/subscribers?sort=newest")
    next_page = re.search(r'hx-get="(/mailing/subscribers\?[^"]*after=[^"]*)"', first.text).group(1)
    more = await client.get(next_page.replace("&amp;", "&"), headers={"hx-request": "true"})
    assert more.text.count('data-testid="subscriber-row"') == 50 and 'id="bulk-form"' not in more.text


async def test_search_values_are_never_sql(client):
    workspace, _ = await signed_in_client(client)
    mailing_list = await make_list(workspace)
    await add_subscriber(workspace["id"], mailing_list["id"], {"email": "a@example.com"})
    for attack in ("'; DROP TABLE subscribers; --", "%", "_", "x=1' OR '1'='1", "\\", "%%%", "@%", "a%b", "\uff3f" * 3):
        rows, _ = await search(workspace["id"], SubscriberFilter(query=attack))
        assert rows == [], attack
    assert await Subscriber.count() == 1


async def test_bulk_actions_on_selection_and_on_filter(client):
    workspace, _ = await signed_in_client(client)
    source = await make_list(workspace, "Source")
    target = await make_list(workspace, "Target")
    ids = [(await add_subscriber(workspace["id"], source["id"], {"email": f"b{i}@example.com"}))["id"]
           for i in range(6)]
    await post_form(client, "/mailing/subscribers/bulk",
                    {"action": "tag", "tag_name": "vip", "scope": "selection", "ids": ids[:2]})
    tagged = await Subscriber.raw("SELECT count(*) AS n FROM subscriber_tags")
    assert tagged[0]["n"] == 2
    await post_form(client, "/mailing/subscribers/bulk",
                    {"action": "copy", "target_list": target["id"], "scope": "filter", "list_id": source["id"]})
    assert await Subscriber.count().where(Subscriber.list_id == target["id"]) == 6
    await post_form(client, "/mailing/subscribers/bulk",
                    {"action": "unsubscribe", "scope": "selection", "ids": ids[2:4]})
    assert await Subscriber.count().where(Subscriber.status == "unsubscribed") == 2
    assert await SubscriberStatusChange.count().where(SubscriberStatusChange.to_status == "unsubscribed") == 2
    await post_form(client, "/mailing/subscribers/bulk",
                    {"action": "delete", "scope": "filter", "list_id": target["id"], "confirmed_count": "6"})
    assert await Subscriber.count().where(Subscriber.list_id == target["id"]) == 0
    assert await AuditEntry.count().where(AuditEntry.action == "subscribers.delete") == 1


async def test_bulk_action_cannot_touch_another_workspace(client):
    other = await make_workspace("Other")
    foreign_list = await make_list(other)
    foreign = await add_subscriber(other["id"], foreign_list["id"], {"email": "x@example.com"})
    workspace, _ = await signed_in_client(client)
    own_list = await make_list(workspace)
    await post_form(client, "/mailing/subscribers/bulk",
                    {"action": "delete", "scope": "selection", "ids": [foreign["id"]]})
    await post_form(client, "/mailing/subscribers/bulk", {"action": "delete", "scope": "filter",
                                                          "list_id": foreign_list["id"], "confirmed_count": "0"})
    moved = await post_form(client, "/mailing/subscribers/bulk",
                            {"action": "move", "scope": "selection", "ids": [foreign["id"]],
                             "target_list": own_list["id"]})
    assert moved.status_code == 303
    stolen = await post_form(client, "/mailing/subscribers/bulk", {"action": "copy", "scope": "filter",
                                                                   "target_list": foreign_list["id"]})
    assert stolen.status_code == 404
    assert await Subscriber.count() == 1
    assert (await client.get(f"/mailing/subscribers/{foreign['id']}")).status_code == 404


async def test_hosted_form_single_opt_in(client):
    workspace = await make_workspace()
    mailing_list = await make_list(workspace, "Newsletter")
    page = await client.get(f"/mailing/lists/{mailing_list['id']}")  # signed out: redirected
    assert page.status_code in (200, 303)
    from app.services.subscriptions import public_form_url

    path = public_form_url(get_settings(), mailing_list["id"]).split("8000", 1)[1]
    assert "Subscribe to Newsletter" in (await client.get(path)).text
    response = await client.post(path, data={"email": "Fan@Example.com"})
    assert response.status_code == 200 and "You are subscribed" in response.text
    row = await Subscriber.select().first()
    assert row["status"] == "confirmed" and row["source"] == "form"
    again = await client.post(path, data={"email": "fan@example.com"})
    assert "You are subscribed" in again.text
    assert await Subscriber.count() == 1


async def test_double_opt_in_sends_confirmation_link(client):
    from app.db.inbox import CapturedMessage
    from app.services.inbox import captured_message
    from app.services.subscriptions import public_form_url

    workspace = await make_workspace()
    mailing_list = await make_list(workspace, "Double", opt_in="double")
    path = public_form_url(get_settings(), mailing_list["id"]).split("8000", 1)[1]
    response = await client.post(path, data={"email": "d@example.com"})
    assert "Check your inbox" in response.text
    assert (await Subscriber.select().first())["status"] == "unconfirmed"
    captured = await CapturedMessage.select(CapturedMessage.id).first()
    message = await captured_message(workspace["id"], captured["id"])
    link = re.search(r"/s/confirm/\S+", message.text).group(0)
    # A GET (a mail scanner following the link) only shows the button.
    assert 'data-testid="confirm-subscription"' in (await client.get(link)).text
    assert (await Subscriber.select().first())["status"] == "unconfirmed"
    assert "Subscription confirmed" in (await client.post(link)).text
    assert (await Subscriber.select().first())["status"] == "confirmed"
    assert (await client.post(link + "x")).status_code == 410


async def test_unsubscribe_link_needs_a_post_and_covers_every_list(client):
    workspace = await make_workspace()
    first, second = await make_list(workspace, "One"), await make_list(workspace, "Two")
    for mailing_list in (first, second):
        await add_subscriber(workspace["id"], mailing_list["id"], {"email": "u@example.com"})
    path = unsubscribe_url(get_settings(), workspace["id"], "u@example.com").split("8000", 1)[1]
    assert (await client.get(path)).status_code == 200
    assert await Subscriber.count().where(Subscriber.status == "unsubscribed") == 0
    done = await client.post(path)
    assert 'data-testid="unsubscribed"' in done.text
    assert await Subscriber.count().where(Subscriber.status == "unsubscribed") == 2
    assert (await client.post(path[:-3] + "abc")).status_code == 404


async def test_gdpr_export_and_erase(client):
    workspace, _ = await signed_in_client(client)
    mailing_list = await make_list(workspace)
    created = await add_subscriber(workspace["id"], mailing_list["id"], {"email": "gdpr@example.com"})
    await Subscriber.raw("INSERT INTO events (workspace_id, subscriber_id, kind, url) VALUES ({}, {}, 'click', 'x')",
                         workspace["id"], created["id"])
    export = await client.get("/mailing/subscribers/privacy/export?email=GDPR@example.com")
    data = export.json()
    assert data["subscriptions"][0]["status"] == "confirmed" and data["events"][0]["kind"] == "click"
    await post_form(client, "/mailing/subscribers/privacy/erase", {"email": "gdpr@example.com"})
    assert await Subscriber.count() == 0
    events = await Subscriber.raw("SELECT subscriber_id, url FROM events")
    assert events == [{"subscriber_id": None, "url": ""}]
    audit = await AuditEntry.select(AuditEntry.target_id).where(AuditEntry.action == "privacy.erased").first()
    assert audit["target_id"] == "g***@example.com"


async def test_privacy_requests_for_addresses_not_on_file_say_so_next_to_the_field(client):
    workspace, _ = await signed_in_client(client)
    mailing_list = await make_list(workspace)
    await add_subscriber(workspace["id"], mailing_list["id"], {"email": "kept@example.com"})
    for typed, message in (("kept@example", "period"), ("nobody@example.com", "No list of this workspace")):
        erase = await post_form(client, "/mailing/subscribers/privacy/erase", {"email": typed})
        assert erase.status_code == 422 and message in erase.text
        assert 'data-testid="error-email"' in erase.text and f'value="{typed}"' in erase.text
        export = await client.get("/mailing/subscribers/privacy/export", params={"email": typed})
        assert export.status_code == 422 and message in export.text and f'value="{typed}"' in export.text
    assert await Subscriber.count() == 1
    assert await AuditEntry.count().where(AuditEntry.action.like("privacy.%")) == 0


async def test_an_analyst_cannot_export_personal_data(client):
    workspace, _ = await signed_in_client(client, role="analyst")
    mailing_list = await make_list(workspace)
    await add_subscriber(workspace["id"], mailing_list["id"], {"email": "private@example.com"})
    response = await client.get("/mailing/subscribers/privacy/export?email=private@example.com")
    assert response.status_code == 403 and "private@example.com" not in response.text
