"""Whatever a segment's conditions say, suppressed and non-mailable subscribers are never in it."""

import hashlib

import pytest

from app.db.audience import Subscriber
from app.services import segments, suppression
from tests.integration.segments.helpers import definition, matching

ANN, BOB, CAT, DAN, EVE = (f"{name}@example.com" for name in ("ann", "bob", "cat", "dan", "eve"))
EVERYONE = {ANN, BOB, CAT, DAN, EVE}


@pytest.mark.parametrize(("line", "gone"), [
    ("BOB@example.com", {BOB}),
    (hashlib.md5(b"bob@example.com").hexdigest(), {BOB}),
    (hashlib.sha256(b"bob@example.com").hexdigest().upper(), {BOB}),
    ("@example.com", EVERYONE),
    ("example.com", EVERYONE),
    ("example.org", set()),
], ids=["email", "md5", "sha256", "at-domain", "bare-domain", "other-domain"])
async def test_every_kind_of_entry_on_any_named_list_is_subtracted(audience, line, gone):
    workspace_id = audience["workspace"]["id"]
    affiliate = await suppression.create_list(workspace_id, "Offer 1234")
    summary = await suppression.add_pasted(workspace_id, affiliate["id"], line)
    assert summary.added == 1
    assert await matching(workspace_id, definition(audience)) == EVERYONE - gone


async def test_the_blacklist_is_subtracted(audience):
    workspace_id = audience["workspace"]["id"]
    blacklist = await suppression.blacklist(workspace_id)
    await suppression.add_pasted(workspace_id, blacklist["id"], f"{ANN}\n{hashlib.md5(CAT.encode()).hexdigest()}")
    assert await matching(workspace_id, definition(audience)) == {BOB, DAN, EVE}


@pytest.mark.parametrize("status", ["unconfirmed", "unsubscribed", "bounced", "complained", "blacklisted"])
async def test_non_mailable_statuses_are_subtracted(audience, status):
    await Subscriber.update({Subscriber.status: status}).where(Subscriber.email == DAN)
    assert await matching(audience["workspace"]["id"], definition(audience)) == EVERYONE - {DAN}
    assert await segments.count(audience["workspace"]["id"], definition(audience)) == 4


async def test_addresses_stored_in_mixed_case_are_still_matched_by_hash(audience):
    await Subscriber.update({Subscriber.email: "Eve@Example.com"}).where(Subscriber.email == EVE)
    workspace_id = audience["workspace"]["id"]
    blacklist = await suppression.blacklist(workspace_id)
    await suppression.add_pasted(workspace_id, blacklist["id"], hashlib.sha256(EVE.encode()).hexdigest())
    assert await segments.count(workspace_id, definition(audience)) == 4


async def test_another_workspaces_suppression_does_not_apply(audience):
    from tests.factories import make_workspace

    other = await make_workspace()
    their_blacklist = await suppression.blacklist(other["id"])
    await suppression.add_pasted(other["id"], their_blacklist["id"], "example.com")
    assert await matching(audience["workspace"]["id"], definition(audience)) == EVERYONE
