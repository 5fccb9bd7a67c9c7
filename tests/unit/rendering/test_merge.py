from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pytest

from app.services.rendering import TemplateCache, TemplateError, compile_template
from app.services.rendering.merge import base_context, render_template


def render(source: str, *, html: bool = True, **context: Any) -> str:
    return render_template(compile_template(source, html=html), {**base_context(), **context})


def test_plain_tag_prints_the_value() -> None:
    assert render("Hi {{ first_name }}!", first_name="Ada") == "Hi Ada!"


def test_nested_tag_reads_custom_fields() -> None:
    subscriber = {"fields": {"city": "Lisbon"}}
    assert render("{{ subscriber.fields.city }}", subscriber=subscriber) == "Lisbon"


def test_nested_tag_reads_item_syntax_too() -> None:
    assert render("{{ subscriber['fields']['city'] }}", subscriber={"fields": {"city": "Oslo"}}) == "Oslo"


@pytest.mark.parametrize("value", [None, "", "   "])
def test_default_applies_to_missing_or_blank_values(value: str | None) -> None:
    assert render('{{ first_name | default("Friend") }}', first_name=value) == "Friend"


def test_default_applies_when_the_name_is_undefined() -> None:
    assert render('{{ first_name | default("Friend") }}') == "Friend"


def test_default_keeps_a_present_value() -> None:
    assert render('{{ first_name | default("Friend") }}', first_name="Ada") == "Ada"


def test_default_on_a_missing_nested_field() -> None:
    assert render('{{ subscriber.fields.city | default("your city") }}', subscriber={"fields": {}}) == "your city"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (datetime(2024, 3, 9, 14, 30), "09 March 2024"),
        (date(2024, 12, 25), "25 December 2024"),
        ("2024-03-09T14:30:00", "09 March 2024"),
        ("not a date", ""),
        (None, ""),
    ],
)
def test_date_filter_formats_or_renders_empty(value: Any, expected: str) -> None:
    assert render('{{ joined | date("%d %B %Y") }}', joined=value) == expected


def test_date_filter_accepts_timestamps_and_has_a_default_format() -> None:
    assert render("{{ joined | date }}", joined=date(2024, 1, 2)) == "2024-01-02"
    assert render('{{ joined | date("%Y") }}', joined=1_700_000_000) == "2023"


def test_date_filter_on_undefined_renders_empty() -> None:
    assert render('[{{ subscriber.created_at | date("%Y") }}]') == "[]"


@pytest.mark.parametrize(
    "source",
    [
        "[{{ missing }}]",
        "[{{ missing.deep.attribute }}]",
        "[{{ missing['key'].other }}]",
        "[{{ subscriber.fields.city }}]",
        "[{{ missing + 1 }}]",
        "[{{ 2 * missing - 1 }}]",
        "[{{ missing | upper }}]",
        "[{{ missing() }}]",
        "[{% if missing > 3 %}big{% endif %}]",
        "[{% for item in missing %}{{ item }}{% endfor %}]",
        "[{{ nothing }}]",
    ],
)
def test_undefined_renders_empty_instead_of_raising(source: str) -> None:
    assert render(source, subscriber={}, nothing=None) == "[]"


def test_html_templates_escape_merge_values() -> None:
    assert render("{{ name }}", name="<script>x</script>") == "&lt;script&gt;x&lt;/script&gt;"


def test_text_templates_do_not_escape() -> None:
    assert render("{{ name }}", html=False, name="Tom & Jerry <3") == "Tom & Jerry <3"


@pytest.mark.parametrize(
    "source",
    [
        "[{{ subscriber.__class__ }}]",
        "[{{ subscriber.__class__.__mro__ }}]",
        "[{{ cycler.__init__.__globals__ }}]",
        "[{{ ''.__class__.__subclasses__() }}]",
    ],
)
def test_sandbox_hides_python_internals(source: str) -> None:
    assert render(source, subscriber={}) == "[]"


@pytest.mark.parametrize(
    ("source", "line", "fragment"),
    [
        ("Hello\n{{ first_name", 2, "end of print statement"),
        ("a\nb\n{% if x %}open", 3, "endif"),
        ("{% if x %}{{ y | no_such_filter }}{% endif %}", 1, "no_such_filter"),
        ("{{ x | safe }}", 1, "safe"),
        ('{% include "other.html" %}', 1, "include"),
        ('{% extends "base.html" %}', 1, "extends"),
        ('{% import "macros.html" as m %}', 1, "import"),
        ("{% autoescape false %}{{ x }}{% endautoescape %}", 1, "autoescape"),
    ],
)
def test_template_problems_are_reported_at_compile_time(source: str, line: int, fragment: str) -> None:
    with pytest.raises(TemplateError) as caught:
        compile_template(source, html=True)
    assert caught.value.line == line
    assert fragment in str(caught.value)


def test_template_cache_builds_once_per_key_and_evicts_the_least_recent() -> None:
    cache: TemplateCache[str] = TemplateCache(maxsize=2)
    builds: list[str] = []

    def builder(name: str) -> Any:
        return lambda: builds.append(name) or name

    assert cache.get(("t1", 1), builder("t1v1")) == "t1v1"
    assert cache.get(("t1", 1), builder("again")) == "t1v1"
    cache.get(("t2", 1), builder("t2v1"))
    cache.get(("t1", 1), builder("again"))
    cache.get(("t1", 2), builder("t1v2"))
    assert cache.get(("t2", 1), builder("t2v1 rebuilt")) == "t2v1 rebuilt"
    assert builds == ["t1v1", "t2v1", "t1v2", "t2v1 rebuilt"]
    assert len(cache) == 2
