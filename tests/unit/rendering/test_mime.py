from __future__ import annotations

import email
import email.policy
import quopri
import random
from collections.abc import Callable
from email.message import EmailMessage

import pytest

from app.services.rendering import CompiledMessage, MessageSkeleton, RenderError, message_id
from app.services.rendering.dkim import relaxed_body
from app.services.rendering.mime import QuotedPrintable, header

SUBSCRIBER = {"id": 17, "email": "zoe@example.org", "first_name": "Zoë", "last_name": "Ångström"}
HTML = """<html><head><style>.note { color: #c00 }</style></head><body>
<p class="note">Grüße, {{ first_name }} — ✓ 日本語 {{ subscriber.fields.motto }}</p>
<p><a href="{{ unsubscribe_url }}">Unsubscribe</a> {{ physical_address }}</p>
</body></html>"""


def parse(raw: bytes) -> EmailMessage:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


@pytest.fixture
def message(compile_message: Callable[..., CompiledMessage]) -> CompiledMessage:
    return compile_message(
        HTML,
        subject="Ünïcode deals for {{ first_name }} 🎉",
        feedback_id="7:3:campaign:ignite",
        custom_headers={"X-Campaign-ID": "7", "X-Mood": "Sunny"},
        reply_to="help@example.com",
    )


def test_message_is_multipart_alternative_with_text_then_html(message: CompiledMessage) -> None:
    parsed = parse(message.render(SUBSCRIBER, 901))
    assert parsed.get_content_type() == "multipart/alternative"
    parts = list(parsed.iter_parts())
    assert [part.get_content_type() for part in parts] == ["text/plain", "text/html"]
    for part in parts:
        assert part["Content-Transfer-Encoding"] == "quoted-printable"
        assert part.get_content_charset() == "utf-8"
        assert not part.defects
    assert not parsed.defects


def test_both_parts_decode_to_the_rendered_unicode(message: CompiledMessage) -> None:
    subscriber = {**SUBSCRIBER, "fields": {"motto": "Carpe diem " * 20}}
    parsed = parse(message.render(subscriber, 902))
    rendered = message.render_parts(subscriber, 902)
    # MIME bodies use CRLF line ends; the rendered parts use Python's "\n".
    assert parsed.get_body(("html",)).get_content().replace("\r\n", "\n") == rendered.html
    assert parsed.get_body(("plain",)).get_content().replace("\r\n", "\n") == rendered.text
    assert "Grüße, Zoë — ✓ 日本語" in rendered.html
    assert "Grüße, Zoë — ✓ 日本語" in rendered.text


def test_css_is_inlined_into_style_attributes(message: CompiledMessage) -> None:
    html = message.render_parts(SUBSCRIBER, 1).html
    assert '<p class="note" style="color: #c00;">' in html


def test_rfc8058_one_click_headers(message: CompiledMessage) -> None:
    parsed = parse(message.render(SUBSCRIBER, 903))
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert parsed["List-Unsubscribe"] == (
        "<mailto:unsubscribe+903@bounce.example.com>, <https://t.example.com/u/903>"
    )


def test_utf8_subject_and_addresses_round_trip(message: CompiledMessage) -> None:
    parsed = parse(message.render(SUBSCRIBER, 904))
    assert parsed["Subject"] == "Ünïcode deals for Zoë 🎉"
    assert parsed["To"].addresses[0].display_name == "Zoë Ångström"
    assert parsed["To"].addresses[0].addr_spec == "zoe@example.org"
    assert parsed["From"].addresses[0].display_name == "Example Shop"
    assert parsed["Reply-To"] == "help@example.com"


@pytest.mark.parametrize(
    "subject",
    [
        "A long ASCII subject line that certainly needs folding across more than one line of the header",
        "Ein sehr langer Betreff mit Umlauten: Größe, Übermaß, Äpfel und Öl — und noch ein bisschen mehr Text 🎉🎉",
        "日本語の件名はとても長くなることがあり、エンコードされた単語に分割する必要があります。ありがとう",
    ],
)
def test_long_subjects_fold_and_round_trip(subject: str) -> None:
    field = header("Subject", subject)
    assert all(len(line) <= 78 for line in field.split(b"\r\n"))
    assert parse(field + b"\r\nbody").get("Subject") == subject


def test_line_breaks_in_merge_values_cannot_inject_headers(compile_message: Callable[..., CompiledMessage]) -> None:
    message = compile_message("<p>x</p>", subject="Hi {{ first_name }}")
    parsed = parse(message.render({"email": "a@example.org", "first_name": "Ada\r\nBcc: victim@example.org"}, 5))
    assert parsed["Bcc"] is None
    assert parsed["Subject"] == "Hi Ada Bcc: victim@example.org"


def test_a_subscriber_without_email_cannot_be_rendered(message: CompiledMessage) -> None:
    with pytest.raises(RenderError):
        message.render({"first_name": "Ada"}, 1)


def test_message_id_feedback_id_and_custom_headers(message: CompiledMessage) -> None:
    parsed = parse(message.render(SUBSCRIBER, 905))
    assert parsed["Message-ID"] == "<905@mail.example.com>"
    assert parsed["Feedback-ID"] == "7:3:campaign:ignite"
    assert parsed["X-Campaign-ID"] == "7"
    assert parsed["X-Mood"] == "Sunny"
    assert parsed["MIME-Version"] == "1.0"
    assert parsed["Date"].datetime is not None


def test_message_id_rejects_unsafe_parts() -> None:
    assert message_id("d-12", "mail.example.com") == "<d-12@mail.example.com>"
    with pytest.raises(ValueError):
        message_id("12>\r\nBcc: x", "mail.example.com")


@pytest.mark.parametrize("name", ["Subject", "message-id", "List-Unsubscribe", "Bad Name", "X:Colon"])
def test_custom_headers_cannot_replace_generated_ones(name: str) -> None:
    with pytest.raises(ValueError):
        MessageSkeleton(from_email="a@example.com", custom_headers={name: "x"})


def test_lines_respect_smtp_and_quoted_printable_limits(message: CompiledMessage) -> None:
    raw = message.render({**SUBSCRIBER, "fields": {"motto": "ü" * 500}}, 906)
    lines = raw.split(b"\r\n")
    assert b"\n" not in raw.replace(b"\r\n", b"")
    header_end = lines.index(b"")
    assert all(len(line) <= 998 for line in lines[:header_end])
    assert all(len(line) <= 76 for line in lines[header_end:])


def test_quoted_printable_pieces_decode_to_their_concatenation() -> None:
    rng = random.Random(7)
    alphabet = ["a", "b", " ", "\t", "=", "ü", "€", "日", "\n", ".", "-"]
    constants = ["<p>" + "static text " * 12 + "</p>\n", "  ", "=\n"]
    encoder = QuotedPrintable(constants)
    for _ in range(300):
        pieces = [
            rng.choice(constants) if rng.random() < 0.4 else "".join(rng.choices(alphabet, k=rng.randint(0, 120)))
            for _ in range(rng.randint(1, 12))
        ]
        encoded = encoder.encode(pieces)
        assert quopri.decodestring(encoded).decode().replace("\r\n", "\n") == "".join(pieces)
        assert all(len(line) <= 76 for line in encoded.split(b"\r\n"))
        assert not any(line.endswith((b" ", b"\t")) for line in encoded.split(b"\r\n"))
        # Already in DKIM's relaxed form, and never a line SMTP would have to dot-stuff.
        part = encoded + b"\r\n--boundary--\r\n"
        assert relaxed_body(part) == part
        assert not encoded.startswith(b".") and b"\r\n." not in encoded


def test_pieces_taken_as_they_are_are_exactly_what_quoted_printable_would_write() -> None:
    import binascii

    from app.services.rendering.mime import _as_is, _canonical

    rng = random.Random(11)
    alphabet = ["a", "Z", "0", " ", ".", "=", "/", "?", "&", "~", "\t", "é", "\x7f", "-", "_"]
    taken = 0
    for _ in range(5000):
        chunk = "".join(rng.choices(alphabet, k=rng.randint(0, 90)))
        if _as_is(chunk):
            taken += 1
            assert _canonical(binascii.b2a_qp(chunk.encode(), istext=True)) == chunk.encode(), chunk
    assert taken > 20
