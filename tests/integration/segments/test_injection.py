"""Hostile text in values, field names and tags is data: it matches nothing and changes nothing."""

import pytest

from app.db.audience import Subscriber
from app.services import segments
from app.services.segments import SegmentError
from app.services.sqlparams import Params, fetch
from app.services.subscribers import ensure_tag
from tests.integration.segments.helpers import definition, matching

ATTACKS = [
    "x'); DROP TABLE subscribers; --",
    "' OR '1'='1",
    "Paris' OR 1=1 --",
    "$1",
    "\\'; SELECT pg_sleep(5); --",
]


@pytest.mark.parametrize("attack", ATTACKS)
@pytest.mark.parametrize("op", ["equals", "contains", "starts_with", "in_list", "not_equals"])
async def test_attacks_in_values_match_nothing(audience, attack, op):
    rule = {"kind": "field", "field": "city", "op": op, "value": attack}
    found = await matching(audience["workspace"]["id"], definition(audience, rule))
    # not_equals matches everyone, as it would for any other unknown city.
    assert found == (set(audience["people"]) if op == "not_equals" else set())
    assert await Subscriber.count() == len(audience["people"])


@pytest.mark.parametrize("attack", ATTACKS)
async def test_attacks_as_field_names_match_nothing_even_unvalidated(audience, attack):
    rule = {"kind": "field", "field": attack, "op": "not_empty"}
    with pytest.raises(SegmentError, match="No custom field"):
        await segments.count(audience["workspace"]["id"], definition(audience, rule))
    # Compiled without validation, the name is still only a parameter of `fields ->> $n`.
    params = Params()
    where = segments.where_sql(params, audience["workspace"]["id"], [audience["list"]["id"]],
                               {"match": "all", "rules": [rule]})
    assert attack in params.values and not any(word in where for word in ("DROP", "pg_sleep", "1=1"))
    assert await fetch(f"SELECT s.id FROM subscribers s WHERE {where}", params) == []
    assert await Subscriber.count() == len(audience["people"])


async def test_a_tag_named_like_an_attack_is_just_a_tag(audience):
    workspace_id = audience["workspace"]["id"]
    attack = ATTACKS[0]
    tag_id = await ensure_tag(workspace_id, attack)
    params = Params()
    values = [params.add(v) for v in (workspace_id, tag_id, audience["people"]["bob@example.com"]["id"])]
    await fetch(f"INSERT INTO subscriber_tags (workspace_id, tag_id, subscriber_id) VALUES ({', '.join(values)})",
                params)
    assert await matching(workspace_id, definition(audience, {"kind": "tag", "op": "has", "value": attack})) == {
        "bob@example.com"}
    with pytest.raises(SegmentError, match="No tag"):
        await segments.count(workspace_id, definition(audience, {"kind": "tag", "op": "has", "value": ATTACKS[1]}))


@pytest.mark.parametrize("rule", [
    {"kind": "list", "op": "in", "value": "1; DROP TABLE lists"},
    {"kind": "campaign", "op": "opened", "value": "1 OR 1=1"},
    {"kind": "engagement", "op": "between", "min": "0 OR 1=1"},
    {"kind": "status", "op": "is", "value": "confirmed' OR '1'='1"},
    {"kind": "field", "field": "city", "op": "equals; DROP TABLE subscribers", "value": "x"},
])
async def test_attacks_in_other_rule_parts_are_refused(audience, rule):
    with pytest.raises(SegmentError):
        await segments.count(audience["workspace"]["id"], definition(audience, rule))
    assert await Subscriber.count() == len(audience["people"])


async def test_attacks_through_the_builder_form_are_inert(client):
    from tests.factories import post_form, signed_in_client
    from tests.integration.segments.helpers import make_audience

    workspace, _ = await signed_in_client(client)
    audience = await make_audience(workspace)
    response = await post_form(client, "/mailing/segments/count", {
        "r.match": "all", "r.0.kind": "field", "r.0.field": ATTACKS[0], "r.0.op": "equals", "r.0.value": ATTACKS[0],
        "r.1'); DROP TABLE subscribers; --.kind": "status", "list_ids": "1; DROP TABLE lists",
    }, headers={"hx-request": "true"})
    assert response.status_code == 200
    assert 'data-testid="segment-count"' not in response.text
    assert await Subscriber.count() == len(audience["people"])
