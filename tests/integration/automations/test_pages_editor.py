"""The editor's step-list changes, without a database: the outline indents branches, a step goes into a branch,
a condition's deletion takes its No branch, moves stay within a line, and a form reads back what it showed."""

from __future__ import annotations

import pytest

from app.services.automations import editor, step_forms
from app.services.forms import FormError


def _tree() -> list[dict]:
    return [
        {"id": "s1", "kind": "send", "params": {"template_id": 1}, "next": "s2"},
        {"id": "s2", "kind": "condition", "params": {"test": "event", "event": "opened", "within_minutes": 60},
         "yes": "s3", "no": "s4"},
        {"id": "s3", "kind": "tag", "params": {"add": ["warm"]}, "next": None},
        {"id": "s4", "kind": "wait", "params": {"mode": "duration", "minutes": 60}, "next": "s5"},
        {"id": "s5", "kind": "send", "params": {"template_id": 2}, "next": None},
    ]


def test_the_outline_indents_each_branch_under_its_head():
    rows = [(row.kind, row.depth, row.step["id"] if row.step else row.branch) for row in editor.outline(_tree())]
    assert rows == [("step", 0, "s1"), ("step", 0, "s2"), ("branch", 1, "yes"), ("step", 2, "s3"),
                    ("branch", 1, "no"), ("step", 2, "s4"), ("step", 2, "s5")]


def test_a_step_added_into_a_branch_comes_first_in_it_and_the_branch_carries_on_after_it():
    steps, added = editor.add_step(_tree(), "unsubscribe", "s2:no")
    by_id = {step["id"]: step for step in steps}
    assert (added, by_id["s2"]["no"], by_id[added]["next"]) == ("s6", "s6", "s4")
    assert [step["id"] for step in steps] == ["s1", "s2", "s3", "s6", "s4", "s5"]


def test_an_end_only_closes_a_branch():
    with pytest.raises(FormError):
        editor.add_step(_tree(), "end", "after:s4")
    steps, added = editor.add_step(_tree(), "end", "after:s5")
    assert {step["id"]: step for step in steps}["s5"]["next"] == added


def test_deleting_a_condition_keeps_its_yes_branch_and_drops_its_no_branch():
    steps = editor.delete_step(_tree(), "s2")
    assert [(step["id"], step.get("next")) for step in steps] == [("s1", "s3"), ("s3", None)]


def test_deleting_the_first_step_makes_the_next_one_first():
    assert editor.delete_step(_tree(), "s1")[0]["id"] == "s2"


def test_moves_stay_within_a_line_and_conditions_stay_put():
    assert not editor.movable(_tree(), "s2", "up")
    assert not editor.movable(_tree(), "s1", "down")  # below it is a condition
    assert not editor.movable(_tree(), "s4", "up")  # first of its branch
    steps = editor.move_step(_tree(), "s5", "up")
    by_id = {step["id"]: step for step in steps}
    assert (by_id["s2"]["no"], by_id["s5"]["next"], by_id["s4"]["next"]) == ("s5", "s4", None)
    with pytest.raises(FormError):
        editor.move_step(_tree(), "s3", "down")


def test_a_duplicate_follows_its_original_and_a_condition_has_none():
    steps, twin = editor.duplicate_step(_tree(), "s4")
    by_id = {step["id"]: step for step in steps}
    assert (by_id["s4"]["next"], by_id[twin]["next"], by_id[twin]["params"]) == (twin, "s5", by_id["s4"]["params"])
    with pytest.raises(FormError):
        editor.duplicate_step(_tree(), "s2")


@pytest.mark.parametrize("kind, params", [
    ("wait", {"mode": "duration", "minutes": 2880}),
    ("wait", {"mode": "weekday", "weekday": 4, "minute_of_day": 570}),
    ("wait", {"mode": "event", "event": "clicked", "timeout_minutes": 180}),
    ("condition", {"test": "field", "field": "plan", "op": "eq", "value": "gold"}),
    ("tag", {"add": ["vip", "gold"], "remove": ["cold"]}),
    ("list", {"action": "copy", "list_id": 7}),
    ("goto", {"target": "s1", "limit": 3}),
])
def test_a_step_form_reads_back_the_params_it_shows(kind, params):
    assert step_forms.params_of_form(kind, step_forms.form_of_params(kind, params)) == params


def test_a_step_form_names_each_field_typed_wrong():
    with pytest.raises(FormError) as refused:
        step_forms.params_of_form("wait", {"mode": "weekday", "weekday": "9", "time": "7pm"})
    assert set(refused.value.errors) == {"weekday", "time"}
