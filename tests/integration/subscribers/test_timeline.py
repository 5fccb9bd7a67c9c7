"""A person's timeline on their profile: every send and event of the address across its lists, in words,
newest first, robots labelled with the rule that flagged them; older pages by cursor, and what arrives
later fetched by watermark so the page moves without reloading."""

from __future__ import annotations

import json
import re
from datetime import timedelta

from app.db.audience import Subscriber
from app.db.campaigns import Delivery
from app.services.subscribers.timeline import arrived_since, timeline, watermark
from tests.factories import make_list, make_subscriber, make_workspace, signed_in_client
from tests.integration.tracking.helpers import drain_all, hrefs, path_of, pixel, sent_campaign

HTMX = {"HX-Request": "true"}
BROWSER = {"User-Agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
                         "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"}



async def _event(sent, subscriber_id: int, kind: str, after_send: timedelta, **meta) -> int:
    """An events row as the other writers store it (robot rules, unsubscribes, postbacks), at a set time."""
    delivery = sent.deliveries[0]
    rows = await Subscriber.raw(
        "INSERT INTO events (workspace_id, subscriber_id, campaign_id, delivery_id, kind, meta, occurred_at) "
        "VALUES ({}, {}, {}, {}, {}, {}::jsonb, {}) RETURNING id", sent.workspace["id"], subscriber_id,
        sent.campaign["id"], delivery["id"], kind, json.dumps(meta), delivery["sent_at"] + after_send)
    return rows[0]["id"]


def _cursor(text: str) -> tuple[str, int]:
    value, _, last_id = text.rpartition("|")
    return value, int(last_id)


def _entries(html: str) -> list[tuple[str, str]]:
    """(kind, text) of each timeline entry in page order."""
    found = re.findall(r'data-testid="timeline-entry" data-kind="([a-z_]+)">(.*?)</li>', html, re.DOTALL)
    return [(kind, " ".join(re.sub(r"<[^>]+>", " ", text).split())) for kind, text in found]


async def test_the_profile_shows_every_event_of_the_address_across_its_lists_in_words(client, redis):
    workspace, _ = await signed_in_client(client)
    sent = await sent_campaign(recipients=1, workspace=workspace)
    # Sent yesterday: the robots came at once, the person opens and clicks now, converts and leaves later.
    yesterday = sent.deliveries[0]["sent_at"] - timedelta(days=1)
    await Delivery.update({Delivery.sent_at: yesterday}).where(Delivery.id == sent.deliveries[0]["id"])
    sent.deliveries[0]["sent_at"] = yesterday
    first_row = sent.deliveries[0]["subscriber_id"]
    other_list = await make_list(workspace, "Newsletter")
    second_row = (await make_subscriber(other_list, sent.deliveries[0]["email"]))["id"]
    message = sent.message(sent.deliveries[0], {"offer_url": "https://offers.example.com/go"})
    assert (await client.get(path_of(pixel(message)), headers=BROWSER)).status_code == 200
    assert (await client.get(path_of(hrefs(message)[0]), headers=BROWSER)).status_code == 302
    assert await drain_all(redis) == 2
    await _event(sent, first_row, "machine_open", timedelta(seconds=1), rule="Apple Mail Privacy Protection")
    await _event(sent, first_row, "bot_click", timedelta(seconds=2), rule="Microsoft Safe Links")
    await _event(sent, second_row, "conversion", timedelta(days=2), revenue="12.5", currency="USD", event="sale",
                 offer_id="7")
    await _event(sent, second_row, "unsubscribe", timedelta(days=3), scope="all", via="page")

    page = (await client.get(f"/mailing/subscribers/{second_row}")).text
    shown = _entries(page)

    assert [kind for kind, _ in shown][:2] == ["unsubscribe", "conversion"]
    assert [kind for kind, _ in shown][-3:] == ["bot_click", "machine_open", "sent"]
    assert [kind for kind, _ in shown[2:4]] == ["click", "open"]
    text = dict(shown)
    assert text["unsubscribe"].endswith("Unsubscribed Spring from every list on the unsubscribe page")
    assert "Converted Spring 12.50 USD, sale, offer 7" in text["conversion"]
    assert "Clicked a link in Spring https://shop.example.com/spring?ref=mail&amp;utm_source=ignite" in text["click"]
    assert "Opened Spring" in text["open"] and "iOS" in text["open"]
    assert "robot: Apple Mail Privacy Protection · not counted" in text["machine_open"]
    assert "robot: Microsoft Safe Links · not counted" in text["bot_click"]
    assert text["sent"].endswith("Sent Spring")
    assert 'data-testid="timeline-empty"' not in page
    assert _entries((await client.get(f"/mailing/subscribers/{first_row}")).text) == shown


async def test_older_pages_follow_each_other_without_gaps_or_repeats(client):
    workspace, _ = await signed_in_client(client)
    sent = await sent_campaign(recipients=1, workspace=workspace)
    person = sent.deliveries[0]["subscriber_id"]
    # Three events at the very instant of the send, and two later: ties are broken by rank, then id.
    ids = [await _event(sent, person, "web_view", timedelta(0)) for _ in range(3)]
    ids += [await _event(sent, person, "open", timedelta(minutes=m)) for m in (1, 2)]

    seen, cursor = [], None
    while True:
        page = await timeline(workspace["id"], person, cursor, limit=2)
        seen.extend(page.entries)
        if page.older is None:
            break
        cursor = _cursor(page.older)
    assert [entry.kind for entry in seen] == ["open", "open", "web_view", "web_view", "web_view", "sent"]
    assert len({entry.cursor for entry in seen}) == 6

    first = await client.get(f"/mailing/subscribers/{person}")
    assert 'data-testid="timeline-older"' not in first.text, "one page holds six entries"
    older = await client.get(f"/mailing/subscribers/{person}/timeline", params={"older": seen[1].cursor},
                             headers=HTMX)
    assert [kind for kind, _ in _entries(older.text)] == ["web_view", "web_view", "web_view", "sent"]
    assert 'id="timeline-more" hx-swap-oob="true"' in older.text and "<html" not in older.text
    whole = await client.get(f"/mailing/subscribers/{person}/timeline", params={"older": seen[1].cursor})
    assert "<html" in whole.text and len(_entries(whole.text)) == 4


async def test_what_arrives_after_the_page_is_fetched_by_watermark_once(client):
    workspace, _ = await signed_in_client(client)
    sent = await sent_campaign(recipients=1, workspace=workspace)
    person = sent.deliveries[0]["subscriber_id"]
    seen = await watermark(workspace["id"], person)
    since = {"since": seen.text}
    assert (await client.get(f"/mailing/subscribers/{person}/timeline/new", params=since)).status_code == 204

    # Written late but happened early: found by its row, not its time.
    await _event(sent, person, "open", timedelta(seconds=-30))
    await _event(sent, person, "unsubscribe", timedelta(seconds=5), scope="list", via="one-click")
    answer = await client.get(f"/mailing/subscribers/{person}/timeline/new", params=since, headers=HTMX)

    assert answer.status_code == 200
    assert [kind for kind, _ in _entries(answer.text)] == ["unsubscribe", "open"]
    assert "from this list with the mail app&#39;s unsubscribe button" in answer.text
    moved = re.search(r'id="timeline-since" name="since" value="([^"]*)" hx-swap-oob="true"', answer.text)
    assert moved and moved.group(1) != seen.text
    entries, after = await arrived_since(workspace["id"], person, _cursor(moved.group(1)))
    assert entries == [] and after.text == moved.group(1)


async def test_another_workspaces_person_is_not_found_and_a_made_up_cursor_names_no_page(client):
    theirs = await sent_campaign(recipients=1, workspace=await make_workspace())
    person = theirs.deliveries[0]["subscriber_id"]
    workspace, _ = await signed_in_client(client)
    mine = await sent_campaign(recipients=1, workspace=workspace)

    for path in ("", "/timeline", "/timeline/new"):
        assert (await client.get(f"/mailing/subscribers/{person}{path}", headers=HTMX)).status_code == 404, path
    own = mine.deliveries[0]["subscriber_id"]
    made_up = await client.get(f"/mailing/subscribers/{own}/timeline", params={"older": "yesterday~1|4"},
                               headers=HTMX)
    assert made_up.status_code == 404
    assert (await client.get(f"/mailing/subscribers/{own}/timeline", params={"older": "x"})).status_code == 400
