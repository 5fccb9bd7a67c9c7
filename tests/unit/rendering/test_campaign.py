from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import pytest

from app.services.rendering import (
    CampaignContent,
    CompiledMessage,
    RenderError,
    TemplateError,
    compiled_message,
)
from tests.unit.rendering.helpers import make_settings

SUBSCRIBER = {
    "id": 12,
    "email": "ada@example.org",
    "first_name": "Ada",
    "created_at": datetime(2023, 5, 17),
    "fields": {"city": "Lisbon", "plan": "gold"},
}


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("{{ first_name }}", "Ada"),
        ("{{ subscriber.fields.city }}", "Lisbon"),
        ("{{ city }}", "Lisbon"),
        ('{{ last_name | default("Lovelace") }}', "Lovelace"),
        ('{{ subscriber.created_at | date("%d/%m/%Y") }}', "17/05/2023"),
        ("{{ unsubscribe_url }}", "https://t.example.com/u/77"),
        ("{{ web_version_url }}", "https://t.example.com/v/77"),
        ("{{ physical_address }}", "1 Market Street, Springfield"),
        ("{{ list_name }}", "Spring newsletter"),
        ("[{{ subscriber.fields.missing.deeper }}]", "[]"),
    ],
)
def test_every_merge_tag_form_in_a_campaign(
    compile_message: Callable[..., CompiledMessage], source: str, expected: str
) -> None:
    message = compile_message(f"<p>{source}</p>", subject=source, tags={"list_name": "Spring newsletter"})
    parts = message.render_parts(SUBSCRIBER, 77)
    assert parts.subject == expected
    assert f"<p>{expected}</p>" in parts.html


def test_subscriber_fields_cannot_shadow_delivery_urls(compile_message: Callable[..., CompiledMessage]) -> None:
    subscriber = {**SUBSCRIBER, "unsubscribe_url": "https://evil.example/", "fields": {"web_version_url": "x"}}
    parts = compile_message("<p>{{ unsubscribe_url }} {{ web_version_url }}</p>").render_parts(subscriber, 3)
    assert "<p>https://t.example.com/u/3 https://t.example.com/v/3</p>" in parts.html


def test_syntax_errors_are_reported_with_the_editor_line_number(
    compile_message: Callable[..., CompiledMessage],
) -> None:
    source = "<html>\n<head><style>\n.a { color: red }\n</style></head>\n<body>\n<p>{{ first_name </p>\n</body></html>"
    with pytest.raises(TemplateError) as caught:
        compile_message(source)
    assert caught.value.line == 6


def test_subject_and_text_errors_are_reported(compile_message: Callable[..., CompiledMessage]) -> None:
    with pytest.raises(TemplateError):
        compile_message("<p>x</p>", subject="Hi {{ first_name")
    with pytest.raises(TemplateError):
        compile_message("<p>x</p>", text="{% for x in y %}")


def test_a_template_that_cannot_render_fails_at_compile_time(compile_message: Callable[..., CompiledMessage]) -> None:
    with pytest.raises(TemplateError, match="ZeroDivisionError"):
        compile_message("<p>{{ 1 / 0 }}</p>")


def test_bad_subscriber_data_raises_one_render_error(compile_message: Callable[..., CompiledMessage]) -> None:
    message = compile_message("<p>{{ subscriber.fields.age + 1 }}</p>")
    assert "<p>42</p>" in message.render_parts({"fields": {"age": 41}}, 1).html
    with pytest.raises(RenderError, match="delivery 2"):
        message.render({"email": "a@example.org", "fields": {"age": "forty"}}, 2)


def test_css_with_jinja_like_braces_stays_literal(compile_message: Callable[..., CompiledMessage]) -> None:
    html = (
        "<html><head><style>@media (max-width: 600px) {#main{width:100%}}</style></head>"
        "<body><p id='main'>x</p></body></html>"
    )
    parts = compile_message(html).render_parts(SUBSCRIBER, 1)
    assert "#main { width: 100% }" in parts.html


def test_loops_render_rows_inside_the_table(compile_message: Callable[..., CompiledMessage]) -> None:
    message = compile_message("<table>{% for p in products %}<tr><td>{{ p }}</td></tr>{% endfor %}</table>")
    html = message.render_parts({"products": ["Hat", "Scarf"]}, 1).html
    # The parser adds <tbody> inside the loop; repeated <tbody> start tags are valid HTML5.
    assert html.index("<table>") < html.index("<tr><td>Hat</td></tr>") < html.index("<tr><td>Scarf</td></tr>")
    assert html.index("Scarf") < html.index("</table>")


def test_removed_content_is_listed_on_the_compiled_message(compile_message: Callable[..., CompiledMessage]) -> None:
    message = compile_message('<p onclick="x()">Hi</p><script>alert(1)</script>')
    assert "<script> element" in message.removed
    assert "onclick attribute on <p>" in message.removed
    assert "script" not in message.render_parts({}, 1).html


def test_spintax_is_stable_per_subscriber_and_shared_by_subject_and_body(
    compile_message: Callable[..., CompiledMessage],
) -> None:
    message = compile_message("<p>{Hi|Hello|Hey} {{ first_name }}</p>", subject="{Hi|Hello|Hey} {{ first_name }}")
    seen = set()
    for subscriber_id in range(40):
        subscriber = {"id": subscriber_id, "first_name": "Ada"}
        first, again = message.render_parts(subscriber, 1), message.render_parts(subscriber, 2)
        assert first == again
        assert f"<p>{first.subject}</p>" in first.html
        seen.add(first.subject)
    assert seen == {"Hi Ada", "Hello Ada", "Hey Ada"}


def test_compiled_messages_are_cached_per_key() -> None:
    content = CampaignContent(campaign_id=99, subject="s", html="<p>a</p>")
    settings = make_settings()
    first = compiled_message(("campaign", 99, 1), content, settings)
    assert compiled_message(("campaign", 99, 1), content, settings) is first
    assert compiled_message(("campaign", 99, 2), content, settings) is not first
