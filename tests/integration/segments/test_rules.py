"""Rules beyond custom fields: status, tags, list membership, dates, activity, campaigns, engagement."""

from app.db.audience import Subscriber
from app.services.sqlparams import Params, fetch
from app.services.subscribers import ensure_tag
from tests.factories import make_list, make_subscriber
from tests.integration.segments.helpers import days_ago, definition, matching

ANN, BOB, CAT, DAN, EVE = (f"{name}@example.com" for name in ("ann", "bob", "cat", "dan", "eve"))


async def _set(email: str, **columns) -> None:
    await Subscriber.update(columns).where(Subscriber.email == email)


async def _run(audience, rule, mailable: bool = True) -> set[str]:
    return await matching(audience["workspace"]["id"], definition(audience, rule), mailable)


async def _event(audience, email: str, campaign_id: int, kind: str) -> None:
    params = Params()
    values = [params.add(v) for v in (audience["workspace"]["id"], audience["people"][email]["id"], campaign_id, kind)]
    await fetch(f"INSERT INTO events (workspace_id, subscriber_id, campaign_id, kind) VALUES ({', '.join(values)})",
                params)


async def test_status_is_and_is_not(audience):
    await _set(BOB, status="unsubscribed")
    assert await _run(audience, {"kind": "status", "op": "is", "value": "confirmed"}) == {ANN, CAT, DAN, EVE}
    # Sends only ever see mailable subscribers; exports may ask for the others.
    assert await _run(audience, {"kind": "status", "op": "is", "value": "unsubscribed"}) == set()
    assert await _run(audience, {"kind": "status", "op": "is", "value": "unsubscribed"}, mailable=False) == {BOB}
    assert await _run(audience, {"kind": "status", "op": "is_not", "value": "confirmed"}, mailable=False) == {BOB}


async def test_tag_has_and_does_not_have(audience):
    workspace_id = audience["workspace"]["id"]
    vip = await ensure_tag(workspace_id, "vip")
    await ensure_tag(workspace_id, "unused")
    params = Params()
    values = [params.add(v) for v in (workspace_id, vip, audience["people"][ANN]["id"])]
    await fetch(f"INSERT INTO subscriber_tags (workspace_id, tag_id, subscriber_id) VALUES ({', '.join(values)})",
                params)
    assert await _run(audience, {"kind": "tag", "op": "has", "value": "vip"}) == {ANN}
    assert await _run(audience, {"kind": "tag", "op": "not_has", "value": "vip"}) == {BOB, CAT, DAN, EVE}
    assert await _run(audience, {"kind": "tag", "op": "has", "value": "unused"}) == set()


async def test_also_on_another_list(audience):
    other = await make_list(audience["workspace"], "Buyers")
    await make_subscriber(other, ANN)
    await make_subscriber(other, "zed@example.com")
    assert await _run(audience, {"kind": "list", "op": "in", "value": other["id"]}) == {ANN}
    assert await _run(audience, {"kind": "list", "op": "not_in", "value": other["id"]}) == {BOB, CAT, DAN, EVE}


async def test_date_subscribed(audience):
    await _set(ANN, created_at=days_ago(400))
    await _set(BOB, created_at=days_ago(40))
    old = days_ago(400).date()
    assert await _run(audience, {"kind": "subscribed", "op": "within_days", "value": 30}) == {CAT, DAN, EVE}
    assert await _run(audience, {"kind": "subscribed", "op": "within_days", "value": 60}) == {BOB, CAT, DAN, EVE}
    assert await _run(audience, {"kind": "subscribed", "op": "before", "value": str(days_ago(100).date())}) == {ANN}
    assert await _run(audience, {"kind": "subscribed", "op": "after", "value": str(old)}) == {BOB, CAT, DAN, EVE}


async def test_last_open_and_last_click(audience):
    await _set(ANN, last_open_at=days_ago(2), last_click_at=days_ago(2))
    await _set(BOB, last_open_at=days_ago(100))
    assert await _run(audience, {"kind": "last_open", "op": "within_days", "value": 7}) == {ANN}
    assert await _run(audience, {"kind": "last_open", "op": "not_within_days", "value": 30}) == {BOB, CAT, DAN, EVE}
    assert await _run(audience, {"kind": "last_open", "op": "never"}) == {CAT, DAN, EVE}
    assert await _run(audience, {"kind": "last_click", "op": "within_days", "value": 7}) == {ANN}
    assert await _run(audience, {"kind": "last_click", "op": "never"}) == {BOB, CAT, DAN, EVE}


async def test_opened_or_clicked_a_campaign(audience):
    await _event(audience, ANN, 7, "open")
    await _event(audience, ANN, 7, "click")
    await _event(audience, BOB, 7, "open")
    await _event(audience, CAT, 8, "click")
    assert await _run(audience, {"kind": "campaign", "op": "opened", "value": 7}) == {ANN, BOB}
    assert await _run(audience, {"kind": "campaign", "op": "clicked", "value": 7}) == {ANN}
    assert await _run(audience, {"kind": "campaign", "op": "not_opened", "value": 7}) == {CAT, DAN, EVE}
    assert await _run(audience, {"kind": "campaign", "op": "not_clicked", "value": 8}) == {ANN, BOB, DAN, EVE}


async def test_engagement_score_range(audience):
    for email, score in ((ANN, 10), (BOB, 50), (CAT, 90)):
        await _set(email, engagement_score=score)
    assert await _run(audience, {"kind": "engagement", "op": "between", "min": 10, "max": 50}) == {ANN, BOB}
    assert await _run(audience, {"kind": "engagement", "op": "between", "min": 60}) == {CAT}
    assert await _run(audience, {"kind": "engagement", "op": "between", "max": 5}) == {DAN, EVE}
