from __future__ import annotations

from collections.abc import Callable

from app.services.rendering import CompiledMessage, html_to_text


def test_links_become_text_then_url() -> None:
    assert html_to_text('<p>See <a href="https://a.example/x">our shop</a> today</p>') == (
        "See our shop (https://a.example/x) today\n"
    )


def test_link_whose_text_is_its_url_is_written_once() -> None:
    assert html_to_text('<a href="https://a.example/">https://a.example/</a>') == "https://a.example/\n"


def test_mailto_link_showing_the_address_is_written_once() -> None:
    assert html_to_text('<a href="mailto:help@a.example">help@a.example</a>') == "help@a.example\n"


def test_image_link_without_text_falls_back_to_alt_or_url() -> None:
    assert html_to_text('<a href="https://a.example/"><img src="x.png" alt="Logo"></a>') == (
        "Logo (https://a.example/)\n"
    )
    assert html_to_text('<a href="https://a.example/"><img src="x.png" alt=""></a>') == "https://a.example/\n"


def test_in_page_anchor_keeps_only_its_text() -> None:
    assert html_to_text('<a href="#top">Back to top</a>') == "Back to top\n"


def test_blocks_become_lines_and_paragraphs() -> None:
    html = (
        "<h1>Title</h1><p>First   paragraph\nwraps.</p><p>Second<br>line</p>"
        "<ul><li>One</li><li>Two</li></ul><hr><table><tr><td>A</td><td>B</td></tr></table>"
    )
    assert html_to_text(html) == (
        "Title\n\nFirst paragraph wraps.\n\nSecond\nline\n\n- One\n- Two\n\n---\n\nA B\n"
    )


def test_invisible_content_is_skipped_and_entities_decoded() -> None:
    html = (
        "<html><head><title>T</title><style>p { color: red }</style></head>"
        "<body><script>x()</script><p>Tom &amp; Jerry &mdash; &euro;5</p></body></html>"
    )
    assert html_to_text(html) == "Tom & Jerry \u2014 \u20ac5\n"


def test_generated_text_part_carries_merge_values_and_links(compile_message: Callable[..., CompiledMessage]) -> None:
    message = compile_message(
        '<p>Hi {{ first_name }}!</p><p><a href="https://shop.example.com/?e={{ email }}">Shop</a></p>'
        '<!--[if mso]><p>Outlook only</p><![endif]--><p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p>',
    )
    text = message.render_parts({"first_name": "Ada", "email": "ada@example.org"}, 4).text
    assert text == (
        "Hi Ada!\n\nShop (https://shop.example.com/?e=ada@example.org)\n\n"
        "Unsubscribe (https://t.example.com/u/4)\n"
    )


def test_given_text_part_is_used_instead(compile_message: Callable[..., CompiledMessage]) -> None:
    message = compile_message("<p>HTML</p>", text="Plain {{ first_name }} {Hi|Hi}")
    assert message.render_parts({"first_name": "Ada"}, 1).text == "Plain Ada Hi"
