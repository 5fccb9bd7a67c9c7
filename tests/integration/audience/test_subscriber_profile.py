"""A subscriber's profile: edits and status changes by hand, each refused next to its field when wrong, and why
the address is not mailable, said the same way on the profile, in the table and in the list's counters."""

import hashlib

from app.db.audience import Subscriber, SubscriberStatusChange
from app.db.audit import AuditEntry
from app.services import suppression
from app.services.custom_fields import add_field
from app.services.subscribers import SubscriberFilter, add_subscriber, search
from tests.factories import make_list, make_subscriber, make_workspace, post_form, signed_in_client


async def test_an_edit_is_saved_with_its_audit_entry(client):
    workspace, _ = await signed_in_client(client)
    mailing_list = await make_list(workspace)
    await add_field(workspace["id"], mailing_list["id"], {"label": "City", "kind": "text"})
    ann = await add_subscriber(workspace["id"], mailing_list["id"], {"email": "ann@example.com", "field_city": "Rome"})
    saved = await post_form(client, f"/mailing/subscribers/{ann['id']}",
                            {"email": "Ann.B@Example.com", "field_city": "Lyon"})
    assert saved.status_code == 303
    row = await Subscriber.select().where(Subscriber.id == ann["id"]).output(load_json=True).first()
    assert (row["email"], row["email_domain"], row["fields"]) == ("ann.b@example.com", "example.com", {"city": "Lyon"})
    assert await AuditEntry.count().where(AuditEntry.action == "subscriber.updated") == 1


async def test_a_bad_edit_shows_its_message_keeps_the_values_and_changes_nothing(client):
    workspace, _ = await signed_in_client(client)
    mailing_list = await make_list(workspace)
    await add_field(workspace["id"], mailing_list["id"], {"label": "Age", "kind": "number"})
    ann = await add_subscriber(workspace["id"], mailing_list["id"], {"email": "ann@example.com", "field_age": "30"})
    await add_subscriber(workspace["id"], mailing_list["id"], {"email": "bob@example.com"})
    for sent, field, message in (
        ({"email": "ann@example", "field_age": "31"}, "email", "period"),
        ({"email": "ann@example.com", "field_age": "old"}, "field_age", "number"),
        ({"email": "bob@example.com", "field_age": "31"}, "email", "Another subscriber of this list"),
    ):
        response = await post_form(client, f"/mailing/subscribers/{ann['id']}", sent)
        assert response.status_code == 422, sent
        assert f'data-testid="error-{field}"' in response.text and message in response.text
        assert f'value="{sent["email"]}"' in response.text and f'value="{sent["field_age"]}"' in response.text
    row = await Subscriber.select().where(Subscriber.id == ann["id"]).output(load_json=True).first()
    assert (row["email"], row["fields"]) == ("ann@example.com", {"age": 30})
    assert await AuditEntry.count().where(AuditEntry.action.like("subscriber.%")) == 0


async def test_a_status_set_by_hand_is_in_the_history_and_the_audit_log(client):
    workspace, user = await signed_in_client(client)
    mailing_list = await make_list(workspace)
    ann = await add_subscriber(workspace["id"], mailing_list["id"], {"email": "ann@example.com"})
    done = await post_form(client, f"/mailing/subscribers/{ann['id']}/status", {"status": "unsubscribed"})
    assert done.status_code == 303
    assert "Status set to unsubscribed" in (await client.get(done.headers["location"])).text
    change = await SubscriberStatusChange.select().where(SubscriberStatusChange.to_status == "unsubscribed").first()
    assert (change["from_status"], change["source"]) == ("confirmed", f"manual:{user['email']}")
    entry = await AuditEntry.select().where(AuditEntry.action == "subscriber.status_changed").first()
    assert entry["target_id"] == str(ann["id"])
    again = await post_form(client, f"/mailing/subscribers/{ann['id']}/status", {"status": "unsubscribed"})
    assert "already unsubscribed" in (await client.get(again.headers["location"])).text
    assert await SubscriberStatusChange.count().where(SubscriberStatusChange.to_status == "unsubscribed") == 1


async def test_an_unknown_status_is_refused_next_to_the_status_and_the_edit_form_keeps_its_values(client):
    workspace, _ = await signed_in_client(client)
    mailing_list = await make_list(workspace)
    ann = await add_subscriber(workspace["id"], mailing_list["id"], {"email": "ann@example.com"})
    response = await post_form(client, f"/mailing/subscribers/{ann['id']}/status", {"status": "vip"})
    assert response.status_code == 422
    assert 'data-testid="error-status"' in response.text and 'value="ann@example.com"' in response.text
    assert (await Subscriber.select(Subscriber.status).first())["status"] == "confirmed"
    assert await SubscriberStatusChange.count() == 1


async def test_subscribers_of_another_workspace_cannot_be_edited_or_changed(client):
    foreign_list = await make_list(await make_workspace("Other"))
    foreign = await make_subscriber(foreign_list, "x@example.com")
    await signed_in_client(client)
    for url, sent in ((f"/mailing/subscribers/{foreign['id']}", {"email": "y@example.com"}),
                      (f"/mailing/subscribers/{foreign['id']}/status", {"status": "unsubscribed"})):
        assert (await post_form(client, url, sent)).status_code == 404
    row = await Subscriber.select().first()
    assert (row["email"], row["status"]) == ("x@example.com", "confirmed")


async def test_a_blacklisted_address_is_not_mailable_on_the_profile_in_the_table_and_in_the_counters(client):
    workspace, _ = await signed_in_client(client)
    mailing_list = await make_list(workspace)
    blocked = await add_subscriber(workspace["id"], mailing_list["id"], {"email": "blocked@example.com"})
    await add_subscriber(workspace["id"], mailing_list["id"], {"email": "fine@example.org"})
    on_domain = await add_subscriber(workspace["id"], mailing_list["id"], {"email": "any@spam.example"})
    hashed = await add_subscriber(workspace["id"], mailing_list["id"], {"email": "hashed@example.org"},
                                  status="unsubscribed")
    blacklist = await suppression.blacklist(workspace["id"])
    await suppression.add_pasted(workspace["id"], blacklist["id"], "\n".join([
        "blocked@example.com", "@spam.example", hashlib.md5(b"hashed@example.org").hexdigest()]))

    profile = await client.get(f"/mailing/subscribers/{blocked['id']}")
    assert 'data-testid="not-mailable"' in profile.text
    assert "not mailable: blacklisted (rule: email address)" in profile.text
    table = await client.get("/mailing/subscribers")
    assert f'data-testid="not-mailable-{blocked["id"]}">not mailable: blacklisted (rule: email address)' in table.text
    assert f'data-testid="not-mailable-{on_domain["id"]}">not mailable: blacklisted (rule: domain spam.example)' \
        in table.text
    assert f'data-testid="not-mailable-{hashed["id"]}">not mailable: blacklisted (rule: MD5 hash)' in table.text
    assert table.text.count("not mailable:") == 3

    stats = await client.get(f"/mailing/lists/{mailing_list['id']}")
    assert '<span class="stat-value">3</span><span class="stat-label">Blacklisted</span>' in stats.text
    rows, _ = await search(workspace["id"], SubscriberFilter(list_id=mailing_list["id"], status="blacklisted"),
                           "email")
    assert [row["email"] for row in rows] == ["any@spam.example", "blocked@example.com", "hashed@example.org"]
