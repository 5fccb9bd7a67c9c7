"""Saved segments with their cached counts, previews, and the id query campaigns and exports embed."""

import pytest

from app.db.audience import Subscriber
from app.services import segments
from app.services.segments import SegmentError
from app.services.sqlparams import Params, fetch
from tests.integration.segments.helpers import definition

PARIS = {"kind": "field", "field": "city", "op": "starts_with", "value": "Paris"}


async def test_save_counts_and_update_recounts(audience):
    workspace_id = audience["workspace"]["id"]
    saved = await segments.save_segment(workspace_id, {"name": "Parisians", **definition(audience, PARIS)})
    assert saved["cached_count"] == 2 and saved["counted_at"] is not None
    assert saved["conditions"]["rules"][0] == PARIS
    everyone = {"name": "Everyone", "description": "all of them", **definition(audience)}
    updated = await segments.save_segment(workspace_id, everyone, saved["id"])
    assert updated["id"] == saved["id"] and updated["cached_count"] == 5 and updated["name"] == "Everyone"
    assert [s["name"] for s in await segments.list_segments(workspace_id)] == ["Everyone"]


async def test_recount_refreshes_the_cached_count(audience):
    workspace_id = audience["workspace"]["id"]
    saved = await segments.save_segment(workspace_id, {"name": "All", **definition(audience)})
    await Subscriber.update({Subscriber.status: "unsubscribed"}).where(Subscriber.email == "ann@example.com")
    assert (await segments.recount(workspace_id, saved["id"]))["cached_count"] == 4
    assert (await segments.get_segment(workspace_id, saved["id"]))["cached_count"] == 4


async def test_names_are_required_and_unique_and_reported_with_rule_problems(audience):
    workspace_id = audience["workspace"]["id"]
    await segments.save_segment(workspace_id, {"name": "Taken", **definition(audience)})
    with pytest.raises(SegmentError) as raised:
        await segments.save_segment(workspace_id, {"name": "Taken", **definition(audience, {"kind": "x"})})
    assert set(raised.value.errors) == {"name", "r.0"}
    with pytest.raises(SegmentError, match="Give the segment a name"):
        await segments.save_segment(workspace_id, {"name": " ", **definition(audience)})


async def test_delete(audience):
    workspace_id = audience["workspace"]["id"]
    saved = await segments.save_segment(workspace_id, {"name": "Gone", **definition(audience)})
    assert (await segments.delete_segment(workspace_id, saved["id"]))["name"] == "Gone"
    assert await segments.get_segment(workspace_id, saved["id"]) is None
    with pytest.raises(LookupError):
        await segments.delete_segment(workspace_id, saved["id"])


async def test_preview_shows_matching_rows_with_their_list(audience):
    rows = await segments.preview(audience["workspace"]["id"], definition(audience, PARIS))
    assert [row["email"] for row in rows] == ["ann@example.com", "eve@example.com"]
    assert rows[0]["list_name"] == "Main"
    assert len(await segments.preview(audience["workspace"]["id"], definition(audience), limit=3)) == 3


async def test_matching_ids_query_embeds_in_a_larger_statement(audience):
    params = Params()
    campaign = params.add(99)
    query, params = await segments.matching_ids_query(audience["workspace"]["id"], definition(audience, PARIS), params)
    rows = await fetch(f"SELECT {campaign}::int AS campaign_id, m.id FROM ({query}) m ORDER BY m.id", params)
    assert [row["id"] for row in rows] == [audience["people"]["ann@example.com"]["id"],
                                           audience["people"]["eve@example.com"]["id"]]
    assert {row["campaign_id"] for row in rows} == {99}
