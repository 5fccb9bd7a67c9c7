from __future__ import annotations

from collections.abc import Callable

import pytest

from app.services.rendering import CompiledMessage, append_utm
from tests.unit.rendering.helpers import FixedPixel, RecordingRewriter

UTM = {"utm_source": "ignite", "utm_medium": "email", "utm_campaign": "spring"}


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://shop.example.com/", "https://shop.example.com/?utm_source=ignite&utm_medium=email&utm_campaign=spring"),
        (
            "https://shop.example.com/p?id=3#reviews",
            "https://shop.example.com/p?id=3&utm_source=ignite&utm_medium=email&utm_campaign=spring#reviews",
        ),
        (
            "https://shop.example.com/?utm_source=partner&x=1",
            "https://shop.example.com/?utm_source=partner&x=1&utm_medium=email&utm_campaign=spring",
        ),
        (
            "https://shop.example.com/?utm_source=a&utm_medium=b&utm_campaign=c",
            "https://shop.example.com/?utm_source=a&utm_medium=b&utm_campaign=c",
        ),
    ],
)
def test_utm_parameters_are_appended_without_overwriting(url: str, expected: str) -> None:
    assert append_utm(url, UTM) == expected


def test_utm_values_are_encoded_and_empty_ones_skipped() -> None:
    assert append_utm("https://a.example/", {"utm_campaign": "Spring sale & more", "utm_term": ""}) == (
        "https://a.example/?utm_campaign=Spring+sale+%26+more"
    )


def test_no_utm_leaves_the_url_alone() -> None:
    assert append_utm("https://a.example/?b=1", {}) == "https://a.example/?b=1"


HTML = (
    '<p><a href="https://shop.example.com/a?x=1&amp;y=2">Shop</a>'
    '<a href="https://partner.example.com/offer" data-no-track>Partner</a>'
    '<a href="mailto:help@example.com">Help</a>'
    '<a href="https://shop.example.com/me?e={{ email }}">Mine</a>'
    '<a href="{{ unsubscribe_url }}">Unsubscribe</a></p>'
)


def test_links_are_discovered_once_at_compile_time(compile_message: Callable[..., CompiledMessage]) -> None:
    message = compile_message(HTML, utm=UTM, link_rewriter=RecordingRewriter())
    assert [(link.text, link.tracked) for link in message.links] == [
        ("Shop", True), ("Partner", False), ("Help", False), ("Mine", True), ("Unsubscribe", False),
    ]
    assert message.links[3].url == (
        "https://shop.example.com/me?e={{ email }}&utm_source=ignite&utm_medium=email&utm_campaign=spring"
    )


def test_rewriter_gets_the_merged_utm_tagged_url(compile_message: Callable[..., CompiledMessage]) -> None:
    rewriter = RecordingRewriter()
    message = compile_message(HTML, utm=UTM, link_rewriter=rewriter)
    rewriter.seen.clear()
    html = message.render_parts({"email": "ada@example.org"}, 55).html
    # The merged link is rewritten in each part that shows it; fixed links once per message.
    utm = "utm_source=ignite&utm_medium=email&utm_campaign=spring"
    assert set(rewriter.seen) == {
        (f"https://shop.example.com/a?x=1&y=2&{utm}", 0, "55"),
        (f"https://shop.example.com/me?e=ada@example.org&{utm}", 3, "55"),
    }
    assert len(rewriter.seen) == 3
    assert 'href="https://t.example.com/c/55/0"' in html
    assert 'href="https://t.example.com/c/55/3"' in html


def test_opted_out_link_is_left_exactly_as_written(compile_message: Callable[..., CompiledMessage]) -> None:
    html = compile_message(HTML, utm=UTM, link_rewriter=RecordingRewriter()).render_parts({}, 1).html
    assert '<a href="https://partner.example.com/offer">Partner</a>' in html
    assert "data-no-track" not in html


def test_mailto_and_merge_tag_links_are_not_rewritten(compile_message: Callable[..., CompiledMessage]) -> None:
    html = compile_message(HTML, utm=UTM, link_rewriter=RecordingRewriter()).render_parts({}, 9).html
    assert 'href="mailto:help@example.com"' in html
    assert 'href="https://t.example.com/u/9"' in html


def test_without_a_rewriter_links_only_get_utm(compile_message: Callable[..., CompiledMessage]) -> None:
    html = compile_message(HTML, utm=UTM).render_parts({"email": "ada@example.org"}, 1).html
    assert 'href="https://shop.example.com/a?x=1&amp;y=2&amp;utm_source=ignite&amp;utm_medium=email' in html
    assert "https://shop.example.com/me?e=ada@example.org&amp;utm_source=ignite" in html
    assert "t.example.com/c/" not in html


def test_open_pixel_is_inserted_per_delivery(compile_message: Callable[..., CompiledMessage]) -> None:
    message = compile_message("<p>Hi</p>", open_pixel=FixedPixel())
    html = message.render_parts({}, 31).html
    assert '<img src="https://t.example.com/o/31.gif" width="1" height="1" alt=""' in html
    assert html.index("o/31.gif") < html.index("</body>")


def test_no_pixel_by_default(compile_message: Callable[..., CompiledMessage]) -> None:
    assert "<img" not in compile_message("<p>Hi</p>").render_parts({}, 31).html


@pytest.mark.parametrize(
    ("site", "expected"),
    [
        ("https://ada.example.org/", 'href="https://ada.example.org/"'),
        ("javascript:alert(1)", 'href=""'),
        (" JavaScript:alert(1)", 'href=""'),
        ("data:text/html,x", 'href=""'),
    ],
)
def test_urls_taken_from_merge_values_must_have_a_safe_scheme(
    compile_message: Callable[..., CompiledMessage], site: str, expected: str
) -> None:
    message = compile_message('<a href="{{ subscriber.fields.site }}">My site</a>')
    assert expected in message.render_parts({"fields": {"site": site}}, 1).html


def test_attribute_values_holding_angle_brackets_do_not_break_rewriting(
    compile_message: Callable[..., CompiledMessage],
) -> None:
    html = compile_message(
        '<a title="a > b" href="https://shop.example.com/">Go</a>', link_rewriter=RecordingRewriter()
    ).render_parts({}, 2).html
    assert '<a title="a > b" href="https://t.example.com/c/2/0">Go</a>' in html
