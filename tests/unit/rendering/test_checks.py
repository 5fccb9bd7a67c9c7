from __future__ import annotations

import pytest

from app.services.rendering import Check, check_content

GOOD_HTML = (
    "<html><body><p>Hello {{ first_name }}, our spring collection has arrived with new colours, fabrics "
    "and a few pieces we are especially proud of. Take a look at the lookbook below.</p>"
    '<img src="https://cdn.example.com/hero.jpg" alt="Spring collection">'
    '<p><a href="https://shop.example.com/spring">See the collection</a></p>'
    '<p>{{ physical_address }} <a href="{{ unsubscribe_url }}">Unsubscribe</a></p></body></html>'
)


def checklist(subject: str = "Spring picks for {{ first_name }}", html: str = GOOD_HTML) -> dict[str, Check]:
    return {check.name: check for check in check_content(subject=subject, html=html)}


def test_a_good_message_passes_every_check() -> None:
    checks = checklist()
    assert list(checks) == [
        "Unsubscribe link", "Physical address", "Subject length", "Spam trigger words", "ALL-CAPS",
        "Image-to-text ratio", "Links", "Message size", "Image alt text",
    ]
    assert [name for name, check in checks.items() if not check.passed] == []


def test_missing_unsubscribe_fails_and_a_plain_unsubscribe_link_passes() -> None:
    html = GOOD_HTML.replace('<a href="{{ unsubscribe_url }}">Unsubscribe</a>', "")
    assert not checklist(html=html)["Unsubscribe link"].passed
    html_with_link = html + '<a href="https://shop.example.com/prefs">Unsubscribe here</a>'
    assert checklist(html=html_with_link)["Unsubscribe link"].passed


def test_missing_physical_address_fails() -> None:
    assert not checklist(html=GOOD_HTML.replace("{{ physical_address }}", ""))["Physical address"].passed


@pytest.mark.parametrize("subject", ["", "   ", "x" * 61])
def test_empty_or_long_subject_fails(subject: str) -> None:
    assert not checklist(subject=subject)["Subject length"].passed


def test_spam_words_in_the_subject_fail_and_are_named() -> None:
    check = checklist(subject="Act now: you are a WINNER")["Spam trigger words"]
    assert not check.passed
    assert "act now" in check.detail and "winner" in check.detail


def test_a_few_spam_words_in_the_body_are_tolerated_but_many_are_not() -> None:
    assert checklist(html=GOOD_HTML.replace("arrived", "arrived, order now"))["Spam trigger words"].passed
    spammy = GOOD_HTML.replace("arrived", "arrived, order now, buy now, click here, risk-free")
    assert not checklist(html=spammy)["Spam trigger words"].passed


def test_shouting_subject_fails() -> None:
    assert not checklist(subject="HUGE SPRING SALE today")["ALL-CAPS"].passed
    assert checklist(subject="Spring sale in the USA")["ALL-CAPS"].passed


def test_image_only_message_fails_the_ratio() -> None:
    html = '<img src="https://cdn.example.com/a.jpg" alt="a"><img src="https://cdn.example.com/b.jpg" alt="b">'
    check = checklist(html=html)["Image-to-text ratio"]
    assert not check.passed
    assert "2 images" in check.detail


def test_tracking_pixel_does_not_count_as_an_image() -> None:
    html = GOOD_HTML + '<img src="https://t.example.com/o.gif" width="1" height="1">'
    assert checklist(html=html)["Image alt text"].passed


@pytest.mark.parametrize(
    "href",
    ["javascript:alert(1)", "htp//shop.example.com", "https://", "http://exa mple.com/", "", "data:text/html,x",
     "mailto:nobody", "/relative/path"],
)
def test_broken_or_unsafe_links_fail(href: str) -> None:
    check = checklist(html=GOOD_HTML + f'<a href="{href}">x</a>')["Links"]
    assert not check.passed


def test_merge_tag_and_anchor_links_are_not_judged() -> None:
    html = GOOD_HTML + '<a href="{{ web_version_url }}">Web</a><a href="#top">Top</a><a href="tel:+15551234">Call</a>'
    assert checklist(html=html)["Links"].passed


def test_message_over_100_kb_fails() -> None:
    html = GOOD_HTML.replace("</body>", "<p>" + "word " * 21_000 + "</p></body>")
    assert not checklist(html=html)["Message size"].passed


def test_image_without_alt_fails_but_empty_alt_passes() -> None:
    assert not checklist(html=GOOD_HTML + '<img src="https://cdn.example.com/x.png">')["Image alt text"].passed
    assert checklist(html=GOOD_HTML + '<img src="https://cdn.example.com/x.png" alt="">')["Image alt text"].passed
