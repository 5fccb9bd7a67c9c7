"""Every custom-field operator against real PostgreSQL, including values a cast would choke on."""

import pytest

from tests.integration.segments.helpers import definition, matching

ANN, BOB, CAT, DAN, EVE = (f"{name}@example.com" for name in ("ann", "bob", "cat", "dan", "eve"))

CASES = [
    ("city", "equals", "paris", {ANN}),
    ("city", "not_equals", "Paris", {BOB, CAT, DAN, EVE}),
    ("city", "contains", "ARIS", {ANN, EVE}),
    ("city", "starts_with", "par", {ANN, EVE}),
    ("city", "ends_with", "lin", {BOB}),
    ("city", "in_list", "paris\nBerlin", {ANN, BOB}),
    ("city", "is_empty", None, {CAT, DAN}),
    ("city", "not_empty", None, {ANN, BOB, EVE}),
    # "unknown" is skipped, not a crash; "52" stored as text still compares as a number.
    ("age", "gt", "40", {BOB, EVE}),
    ("age", "lt", "40", {ANN}),
    ("age", "equals", "45", {BOB}),
    ("age", "not_equals", "45", {ANN, CAT, DAN, EVE}),
    ("age", "in_list", "30, 52", {ANN, EVE}),
    # "not a date" and the impossible 2025-02-30 never match and never fail the query.
    ("joined", "before", "2024-01-01", {BOB}),
    ("joined", "after", "2023-12-31", {ANN}),
    ("joined", "equals", "2024-01-10", {ANN}),
    ("vip", "equals", "true", {ANN}),
    ("vip", "equals", "false", {BOB, CAT, DAN, EVE}),
    ("vip", "not_equals", "true", {BOB, CAT, DAN, EVE}),
    ("plan", "equals", "PRO", {ANN}),
]


@pytest.mark.parametrize(("field", "op", "value", "expected"), CASES, ids=[f"{c[0]}-{c[1]}-{c[2]}" for c in CASES])
async def test_field_operator(audience, field, op, value, expected):
    rule = {"kind": "field", "field": field, "op": op, "value": value}
    assert await matching(audience["workspace"]["id"], definition(audience, rule)) == expected


async def test_contains_treats_like_wildcards_as_plain_text(audience):
    rule = {"kind": "field", "field": "city", "op": "contains", "value": "%"}
    assert await matching(audience["workspace"]["id"], definition(audience, rule)) == set()
