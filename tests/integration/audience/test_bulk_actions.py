"""Bulk actions act on the filter whose rows are on screen, after the count was confirmed, and say what is wrong
with a bulk form next to its field."""

import html
import re

from app.db.audience import Subscriber, SubscriberStatusChange
from app.db.audit import AuditEntry
from app.services.subscribers import COUNT_CAP, ensure_tag
from tests.factories import make_list, make_subscriber, make_subscribers, post_form, signed_in_client


def bulk_form_fields(page: str) -> dict[str, str]:
    """The hidden fields of the bulk form as the page rendered it (the filter it acts on)."""
    form = page[page.index('id="bulk-form"'):]
    form = form[:form.index("</form>")]
    return {name: html.unescape(value)
            for name, value in re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', form)}


async def _tagged(tag: str) -> set[str]:
    rows = await Subscriber.raw(
        "SELECT s.email FROM subscriber_tags st JOIN tags t ON t.id = st.tag_id JOIN subscribers s "
        "ON s.id = st.subscriber_id WHERE t.name = {}", tag)
    return {row["email"] for row in rows}


async def test_a_whole_filter_action_acts_on_the_filter_typed_after_the_page_loaded(client):
    workspace, _ = await signed_in_client(client)
    mailing_list = await make_list(workspace)
    await make_subscribers(mailing_list, 7, {"country": "DE"}, prefix="de")
    await make_subscribers(mailing_list, 12, {"country": "FR"}, prefix="fr")
    await client.get("/mailing/subscribers")
    # What the filter form fetches as the person types: the rows, the count and the bulk form together.
    typed = await client.get("/mailing/subscribers", params={"q": "country=DE"}, headers={"hx-request": "true"})
    assert 'data-filter-total="7"' in typed.text and "<strong>7</strong> subscribers match" in typed.text
    fields = bulk_form_fields(typed.text)
    assert fields["q"] == "country=DE"
    done = await post_form(client, "/mailing/subscribers/bulk", {
        **fields, "action": "tag", "tag_name": "germany", "scope": "filter", "confirmed_count": "7"})
    assert done.status_code == 303 and "q=country%3DDE" in done.headers["location"]
    assert await _tagged("germany") == {f"de{i}@example.com" for i in range(1, 8)}
    assert "Tagged 7 subscriber(s)" in (await client.get(done.headers["location"])).text


async def test_move_never_overwrites_an_address_already_on_the_target(client):
    workspace, _ = await signed_in_client(client)
    source, target = await make_list(workspace, "Source"), await make_list(workspace, "Target")
    movers = await make_subscribers(source, 3, prefix="m")
    await make_subscriber(target, "m1@example.com", status="unsubscribed")
    moved = await post_form(client, "/mailing/subscribers/bulk", {
        "action": "move", "scope": "selection", "target_list": target["id"], "ids": [m["id"] for m in movers]})
    assert moved.status_code == 303
    on_target = await Subscriber.select(Subscriber.email, Subscriber.status).where(Subscriber.list_id == target["id"])
    assert sorted((row["email"], row["status"]) for row in on_target) == [
        ("m1@example.com", "unsubscribed"), ("m2@example.com", "confirmed"), ("m3@example.com", "confirmed")]
    assert [row["email"] for row in await Subscriber.select(Subscriber.email).where(
        Subscriber.list_id == source["id"])] == []
    assert "Moved 3 subscriber(s) to “Target”" in (await client.get(moved.headers["location"])).text


async def test_untag_removes_only_that_tag_from_the_filtered_rows(client):
    workspace, _ = await signed_in_client(client)
    mailing_list = await make_list(workspace)
    people = await make_subscribers(mailing_list, 4, prefix="t")
    for name in ("vip", "trial"):
        await post_form(client, "/mailing/subscribers/bulk", {
            "action": "tag", "tag_name": name, "scope": "selection", "ids": [p["id"] for p in people]})
    untagged = await post_form(client, "/mailing/subscribers/bulk", {
        "action": "untag", "tag_name": "vip", "scope": "filter", "q": "t1@", "confirmed_count": "1"})
    assert untagged.status_code == 303
    assert await _tagged("vip") == {"t2@example.com", "t3@example.com", "t4@example.com"}
    assert len(await _tagged("trial")) == 4
    unknown = await post_form(client, "/mailing/subscribers/bulk", {
        "action": "untag", "tag_name": "nope", "scope": "selection", "ids": [people[0]["id"]]})
    assert unknown.status_code == 422 and "No tag is named “nope”" in unknown.text


async def test_bad_bulk_input_is_shown_next_to_its_field_and_nothing_changes(client):
    workspace, _ = await signed_in_client(client)
    mailing_list = await make_list(workspace)
    people = await make_subscribers(mailing_list, 2, prefix="x")
    ids = [p["id"] for p in people]
    for sent, field in (
        ({"action": "", "scope": "selection", "ids": ids}, "action"),
        ({"action": "tag", "tag_name": "  ", "scope": "selection", "ids": ids}, "tag_name"),
        ({"action": "copy", "target_list": "", "scope": "selection", "ids": ids}, "target_list"),
        ({"action": "unsubscribe", "scope": "selection"}, "scope"),
    ):
        response = await post_form(client, "/mailing/subscribers/bulk", {**sent, "q": "x1@"})
        assert response.status_code == 422, sent
        assert f'data-testid="error-{field}"' in response.text, sent
        # The page comes back on the same filter, with its rows.
        assert 'value="x1@"' in response.text and response.text.count('data-testid="subscriber-row"') == 1
    kept = await post_form(client, "/mailing/subscribers/bulk", {"action": "copy", "tag_name": "typed", "scope": "x"})
    assert 'value="typed"' in kept.text and 'data-testid="error-target_list"' in kept.text
    assert await Subscriber.count() == 2 and await Subscriber.count().where(Subscriber.status != "confirmed") == 0
    assert await AuditEntry.count().where(AuditEntry.action.like("subscribers.%")) == 0
    assert await SubscriberStatusChange.count() == 0


async def test_deleting_a_whole_filter_needs_the_count_that_is_still_true(client):
    workspace, _ = await signed_in_client(client)
    mailing_list = await make_list(workspace)
    await make_subscribers(mailing_list, 5, prefix="d")
    unconfirmed = await post_form(client, "/mailing/subscribers/bulk", {"action": "delete", "scope": "filter"})
    assert unconfirmed.status_code == 422 and "Confirm how many subscribers to delete" in unconfirmed.text
    await make_subscriber(mailing_list, "late@example.com")
    stale = await post_form(client, "/mailing/subscribers/bulk",
                            {"action": "delete", "scope": "filter", "confirmed_count": "5"})
    assert stale.status_code == 422 and "now matches 6 subscriber(s), not the 5 you confirmed" in stale.text
    assert await Subscriber.count() == 6
    done = await post_form(client, "/mailing/subscribers/bulk",
                           {"action": "delete", "scope": "filter", "confirmed_count": "6"})
    assert done.status_code == 303 and await Subscriber.count() == 0


async def test_the_exact_count_behind_a_capped_total(client):
    workspace, _ = await signed_in_client(client)
    mailing_list = await make_list(workspace)
    await make_subscribers(mailing_list, COUNT_CAP + 3, prefix="c")
    await ensure_tag(workspace["id"], "unused")
    page = await client.get("/mailing/subscribers", params={"q": "@example.com"})
    assert 'data-filter-total=""' in page.text and f"<strong>{COUNT_CAP:,}+</strong>" in page.text
    counted = await client.get("/mailing/subscribers/count", params={"q": "@example.com"})
    assert counted.json() == {"count": COUNT_CAP + 3, "label": f"{COUNT_CAP + 3:,}"}
