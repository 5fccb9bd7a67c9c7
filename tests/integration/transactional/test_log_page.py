"""Mailing → Transactional: the log searched by address, status, tag and dates, and a message's events."""

from __future__ import annotations

from tests.factories import signed_in_client
from tests.integration.transactional.helpers import raw_message, sender


async def test_the_log_starts_empty_and_says_how_to_send_through_the_api(client) -> None:
    await signed_in_client(client)
    page = await client.get("/mailing/transactional")
    assert page.status_code == 200
    assert 'data-testid="empty-state"' in page.text
    assert 'href="/settings/api-keys"' in page.text and 'href="/api/v1/docs"' in page.text


async def test_the_log_lists_searches_and_opens_a_message_of_the_workspace_only(client, queue) -> None:
    workspace, _ = await signed_in_client(client)
    caller = await sender(workspace=workspace)
    sent = {}
    for address, tag in (("ann@example.com", "receipt"), ("bob@example.com", "reset")):
        answer = await client.post("/api/v1/messages", headers=caller.headers,
                                   json=raw_message(address, tags=[tag], data={"order": "Z-1"}))
        sent[address] = answer.json()["id"]
    page = await client.get("/mailing/transactional")
    assert page.text.count('data-testid="transactional-row"') == 2
    found = await client.get("/mailing/transactional?email=Bob@example.com")
    assert found.text.count('data-testid="transactional-row"') == 1 and "bob@example.com" in found.text
    tagged = await client.get("/mailing/transactional?tag=receipt&status=queued&since=2020-01-01")
    assert tagged.text.count('data-testid="transactional-row"') == 1 and "ann@example.com" in tagged.text
    none = await client.get("/mailing/transactional?status=bounced")
    assert 'data-testid="transactional-no-match"' in none.text
    detail = await client.get(f"/mailing/transactional/{sent['ann@example.com']}")
    assert detail.status_code == 200
    assert 'data-kind="queued"' in detail.text and "Your order {{ order }}" in detail.text
    stranger = await sender()
    theirs = await client.post("/api/v1/messages", headers=stranger.headers, json=raw_message("eve@example.com"))
    assert (await client.get(f"/mailing/transactional/{theirs.json()['id']}")).status_code == 404
    assert "eve@example.com" not in (await client.get("/mailing/transactional")).text


async def test_a_bad_date_is_refused_next_to_its_field(client) -> None:
    await signed_in_client(client)
    page = await client.get("/mailing/transactional?since=yesterday&until=2026-01-01")
    assert page.status_code == 422
    assert 'data-testid="error-since"' in page.text
    backwards = await client.get("/mailing/transactional?since=2026-02-01&until=2026-01-01")
    assert backwards.status_code == 422 and 'data-testid="error-until"' in backwards.text


async def test_the_log_shows_the_merged_subject_and_the_message_page_shows_its_sender_data_and_a_safe_preview(
        client, queue) -> None:
    workspace, _ = await signed_in_client(client)
    caller = await sender(workspace=workspace)
    answer = await client.post("/api/v1/messages", headers=caller.headers, json=raw_message(
        "ann@example.com", data={"order": "Z-9"}, tags=["receipt"], metadata={"cart": 41}, from_name="Shop",
        reply_to="help@example.com"))
    message_id = answer.json()["id"]
    log = await client.get("/mailing/transactional")
    row = log.text.split('data-testid="transactional-row-subject">')[1].split("</td>")[0]
    assert "Your order Z-9" in row and "Your order {{ order }}" in row
    assert f'href="/mailing/transactional/{message_id}" class="row-link-target"' in log.text
    detail = await client.get(f"/mailing/transactional/{message_id}")
    assert "Shop &lt;receipts@mail.example.com&gt;" in detail.text and "help@example.com" in detail.text
    assert "receipt" in detail.text.split('data-testid="transactional-tags">')[1].split("</dd>")[0]
    assert "&#34;cart&#34;: 41" in detail.text or '"cart": 41' in detail.text
    assert 'sandbox=""' in detail.text and "Your order Z-9" in detail.text
    frame = await client.get(f"/mailing/transactional/{message_id}/preview")
    assert frame.status_code == 200 and "order Z-9 is on its way" in frame.text
    assert frame.headers["content-security-policy"].startswith("sandbox")
    stranger = await sender()
    theirs = await client.post("/api/v1/messages", headers=stranger.headers, json=raw_message("eve@example.com"))
    assert (await client.get(f"/mailing/transactional/{theirs.json()['id']}/preview")).status_code == 404
