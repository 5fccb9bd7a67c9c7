"""AND/OR groups nested two levels deep, and validation that says which rule is wrong and why."""

import pytest

from app.services import segments
from app.services.segments import SegmentError
from tests.factories import make_list
from tests.integration.segments.helpers import definition, matching

ANN, BOB, CAT, DAN, EVE = (f"{name}@example.com" for name in ("ann", "bob", "cat", "dan", "eve"))


def field(name, op, value=None):
    return {"kind": "field", "field": name, "op": op, "value": value}


async def test_groups_nest_two_levels(audience):
    # city starts with "par" AND (age > 40 OR (city is empty AND vip is not checked))
    tree = definition(audience,
                      {"match": "any", "rules": [
                          field("city", "starts_with", "par"),
                          {"match": "all", "rules": [field("city", "is_empty"), field("vip", "not_equals", "true")]},
                      ]},
                      {"match": "any", "rules": [
                          field("age", "gt", "40"),
                          {"match": "all", "rules": [field("plan", "equals", "pro"), field("vip", "equals", "true")]},
                      ]})
    assert await matching(audience["workspace"]["id"], tree) == {ANN, EVE}


async def test_any_at_the_root_and_empty_groups_match_everyone(audience):
    workspace_id = audience["workspace"]["id"]
    either = definition(audience, field("city", "equals", "berlin"), field("age", "lt", "40"), match="any")
    assert await matching(workspace_id, either) == {ANN, BOB}
    empty_group = definition(audience, {"match": "any", "rules": []})
    assert await matching(workspace_id, empty_group) == {ANN, BOB, CAT, DAN, EVE}


async def test_a_third_level_of_groups_is_refused_with_its_path(audience):
    deep = {"match": "all", "rules": [{"match": "all", "rules": [{"match": "all", "rules": []}]}]}
    with pytest.raises(SegmentError) as raised:
        await segments.count(audience["workspace"]["id"], definition(audience, deep))
    assert raised.value.path == (0, 0, 0)
    assert "at most 2 levels" in raised.value.errors["r.0.0.0"]


@pytest.mark.parametrize(("rule", "message"), [
    (field("shoe_size", "equals", "42"), "No custom field “shoe_size”"),
    (field("city", "sounds_like", "x"), "“sounds_like” is not an operator for City"),
    (field("age", "before", "2024-01-01"), "is not an operator for Age"),
    (field("age", "gt", "forty"), "“forty” is not a number"),
    (field("joined", "after", "31/12/2024"), "use YYYY-MM-DD"),
    (field("city", "equals", "  "), "Enter a value"),
    (field("city", "in_list", ""), "Enter at least one value"),
    ({"kind": "colour", "op": "is", "value": "red"}, "Unknown condition type"),
    ({"kind": "status", "op": "is", "value": "asleep"}, "Choose a status"),
    ({"kind": "tag", "op": "has", "value": "nope"}, "No tag “nope”"),
    ({"kind": "subscribed", "op": "within_days", "value": "a week"}, "whole number of days"),
    ({"kind": "last_open", "op": "within_days", "value": 0}, "between 1 and"),
    ({"kind": "campaign", "op": "opened", "value": "x"}, "campaign id"),
    ({"kind": "engagement", "op": "between", "min": 50, "max": 10}, "lowest score is above"),
    ({"kind": "engagement", "op": "between"}, "lowest score, a highest score, or both"),
])
async def test_each_bad_rule_is_named_by_its_path(audience, rule, message):
    tree = definition(audience, field("city", "equals", "Paris"), {"match": "any", "rules": [rule]})
    with pytest.raises(SegmentError) as raised:
        await segments.count(audience["workspace"]["id"], tree)
    assert raised.value.path == (1, 0)
    assert message in raised.value.errors["r.1.0"]


async def test_every_problem_is_reported_at_once(audience):
    tree = definition(audience, field("nope", "equals", "x"), field("age", "gt", "x"))
    with pytest.raises(SegmentError) as raised:
        await segments.count(audience["workspace"]["id"], tree)
    assert set(raised.value.errors) == {"r.0", "r.1"}


async def test_list_of_another_workspace_is_refused(audience):
    from tests.factories import make_workspace

    foreign = await make_list(await make_workspace(), "Theirs")
    with pytest.raises(SegmentError) as raised:
        await segments.count(audience["workspace"]["id"], definition(audience, list_ids=[foreign["id"]]))
    assert "list_ids" in raised.value.errors
    membership = {"kind": "list", "op": "in", "value": foreign["id"]}
    with pytest.raises(SegmentError):
        await segments.count(audience["workspace"]["id"], definition(audience, membership))


async def test_no_lists_chosen_means_every_active_list_and_addresses_count_once(audience):
    from tests.factories import make_subscriber

    workspace_id = audience["workspace"]["id"]
    second = await make_list(audience["workspace"], "Second")
    await make_subscriber(second, ANN)
    await make_subscriber(second, "zoe@example.com")
    everyone = {"list_ids": [], "conditions": {"match": "all", "rules": []}}
    assert await matching(workspace_id, everyone) == {ANN, BOB, CAT, DAN, EVE, "zoe@example.com"}
    assert await segments.count(workspace_id, everyone) == 6
