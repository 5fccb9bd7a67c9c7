"""MIME assembly for campaign messages: a skeleton built once per campaign version, filled per message.

The output keeps to the rules `email.message.EmailMessage` with `policy.SMTP`
follows for multipart/alternative (CRLF line ends, quoted-printable UTF-8
bodies, RFC 2047 encoded headers, header lines folded at 78 characters where
the content allows), but is written directly as bytes: building and
serialising an `EmailMessage` per recipient costs more than rendering the
template. Tests parse the output back with `email` to hold it to those rules.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from email.utils import formataddr, formatdate

import css_inline

# Generated per message or by the MTA; a campaign's custom headers may not replace them.
RESERVED_HEADERS = frozenset({
    "bcc", "cc", "content-transfer-encoding", "content-type", "date", "dkim-signature", "feedback-id",
    "from", "list-unsubscribe", "list-unsubscribe-post", "message-id", "mime-version", "received",
    "return-path", "sender", "subject", "to",
})
_HEADER_NAME = re.compile(r"^[!-9;-~]+$")
_MESSAGE_ID_PART = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+$")
_WHITESPACE = re.compile(r"\s+")
# 39 bytes make a 64-character encoded word, which fits a folded line after any header name.
_ENCODED_WORD_BYTES = 39
_FOLD_AT = 78
_UNSUBSCRIBE_SCHEMES = ("mailto:", "https://", "http://")
_ONE_CLICK = b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"

_INLINER = css_inline.CSSInliner(
    load_remote_stylesheets=False, apply_width_attributes=True, apply_height_attributes=True
)


def inline_css(body: str, css: str) -> str:
    """Move stylesheet rules into `style` attributes, for clients (Gmail app, Outlook) that ignore `<style>`."""
    return _INLINER.inline_fragment(body, css) if css.strip() else body


def _one_line(value: str) -> str:
    """Merge values may hold line breaks; in a header they would start a new (injected) header."""
    return _WHITESPACE.sub(" ", value).strip()


def _encoded_words(value: str) -> list[str]:
    words: list[str] = []
    chunk = bytearray()
    for char in value:
        encoded = char.encode()
        if len(chunk) + len(encoded) > _ENCODED_WORD_BYTES:
            words.append(f"=?utf-8?b?{base64.b64encode(chunk).decode()}?=")
            chunk.clear()
        chunk += encoded
    if chunk:
        words.append(f"=?utf-8?b?{base64.b64encode(chunk).decode()}?=")
    return words


def header(name: str, value: str) -> bytes:
    """One header field, folded, with RFC 2047 encoded words when the value is not ASCII."""
    value = _one_line(value)
    if value.isascii():
        if len(name) + 2 + len(value) <= _FOLD_AT:
            return f"{name}: {value}\r\n".encode()
        words = value.split(" ")
    else:
        words = _encoded_words(value)
    lines: list[str] = [f"{name}:"]
    for word in words:
        if len(lines[-1]) + 1 + len(word) > _FOLD_AT and lines[-1] != f"{name}:":
            lines.append("")
        lines[-1] += f" {word}"
    return "\r\n".join(lines).encode() + b"\r\n"


def address(email: str, name: str = "") -> str:
    return formataddr((_one_line(name), _one_line(email)), charset="utf-8")


def message_id(delivery_id: object, domain: str) -> str:
    """A stable id per delivery, so a retried send carries the same Message-ID."""
    local = str(delivery_id)
    if not _MESSAGE_ID_PART.match(local) or not _MESSAGE_ID_PART.match(domain):
        raise ValueError(f"cannot build a Message-ID from {local!r} and {domain!r}")
    return f"<{local}@{domain}>"


# RFC 2045 allows 76 characters; one is kept free for the soft break that may join two pieces.
_MAX_LINE = 75


def _wrap(line: bytes) -> bytes:
    """Split an over-long QP line with soft breaks, never inside an =XX escape."""
    out: list[bytes] = []
    while len(line) > _MAX_LINE:
        cut = _MAX_LINE - 1
        if line[cut - 1 : cut] == b"=":
            cut -= 1
        elif line[cut - 2 : cut - 1] == b"=":
            cut -= 2
        out.append(line[:cut] + b"=")
        line = line[cut:]
        # A dot starting the new line would need SMTP dot-stuffing (see `_canonical`).
        if line.startswith(b"."):
            line = b"=2E" + line[1:]
    out.append(line)
    return b"\n".join(out)


def _canonical(data: bytes) -> bytes:
    """QP that DKIM's relaxed body canonicalisation leaves as it is, and that needs no SMTP dot-stuffing.

    b2a_qp already encodes whitespace at line ends (and at the end of a piece, since the next piece may
    start a new line). Encoding the second space of a run, tabs and a dot that starts a line as well
    decodes to the same text, and spares the signer and the SMTP adapter a scan of every 40 KB message
    (see `DkimSigner.sign(canonical_body=True)` and `OutgoingMessage.wire_ready`).
    """
    if b"  " in data:
        data = data.replace(b"  ", b" =20")
    if b"\t" in data:
        data = data.replace(b"\t", b"=09")
    if b"\n." in data:
        data = data.replace(b"\n.", b"\n=2E")
    return b"=2E" + data[1:] if data.startswith(b".") else data


_DATE: list[tuple[int, str]] = [(0, "")]


def _now_header() -> str:
    """The Date header's value for this second: one formatting per second, not one per message."""
    second = int(time.time())
    cached_second, value = _DATE[0]
    if cached_second != second:
        value = formatdate(second, usegmt=True)
        _DATE[0] = (second, value)
    return value


def _as_is(chunk: str) -> bool:
    """Whether QP (and `_canonical`) leave the piece exactly as it is: printable ASCII but "=", single spaces
    only between other characters, no dot first, short enough for one line. Most per-recipient pieces
    (tracked URLs, names) are. str's own methods, all in C: rendered values are Markup, whose slicing and
    methods cost a Python call each."""
    return (0 < len(chunk) <= _MAX_LINE and str.isascii(chunk) and str.isprintable(chunk)
            and "=" not in chunk and "  " not in chunk
            and not str.startswith(chunk, (" ", ".")) and not str.endswith(chunk, " "))


def _encode_chunk(chunk: str) -> tuple[bytes, int, int, bool]:
    """QP bytes of a piece of a body, with the lengths of its first and last lines."""
    if _as_is(chunk):
        return str.encode(chunk), len(chunk), len(chunk), False
    # str methods explicitly: rendered values are Markup, whose own replace() would escape its arguments.
    if "\r" in chunk:
        chunk = str.replace(str.replace(chunk, "\r\n", "\n"), "\r", "\n")
    data = _canonical(binascii.b2a_qp(str.encode(chunk), istext=True))
    if len(data) > _MAX_LINE and any(len(line) > _MAX_LINE for line in data.split(b"\n")):
        data = b"\n".join(_wrap(line) for line in data.split(b"\n"))
    first_break, last_break = data.find(b"\n"), data.rfind(b"\n")
    multiline = first_break >= 0
    return (
        data.replace(b"\n", b"\r\n"),
        first_break if multiline else len(data),
        len(data) - last_break - 1,
        multiline,
    )


class QuotedPrintable:
    """Quoted-printable for bodies rendered as a stream of pieces, most of them the template's own text.

    Encoding a 30 KB body costs more than rendering it, but the constant pieces
    are the same for every recipient: they are encoded once, and the pieces
    are joined with a soft line break wherever a joint would make a line too
    long (RFC 2045 allows a soft break anywhere).
    """

    def __init__(self, constants: Iterable[str] = ()) -> None:
        self._known = {constant: _encode_chunk(constant) for constant in constants if constant}

    def encode(self, pieces: Iterable[str]) -> bytes:
        out: list[bytes] = []
        column = 0
        known = self._known
        for piece in pieces:
            if not piece:
                continue
            data, first, last, multiline = known.get(piece) or _encode_chunk(piece)
            if column and column + first > _MAX_LINE:
                out.append(b"=\r\n")
                column = 0
            out.append(data)
            column = last if multiline else column + first
        return b"".join(out)


def list_unsubscribe_headers(urls: tuple[str, ...]) -> bytes:
    """List-Unsubscribe with the URIs a mail client can act on (mailto, http, https), none without one.

    RFC 8058's One-Click header goes with an https URI only: providers post to nothing else, and a
    placeholder (a test send's "#unsubscribe") or plain http would make the header a false promise."""
    usable = [url for url in (_one_line(url) for url in urls) if url.startswith(_UNSUBSCRIBE_SCHEMES)]
    if not usable:
        return b""
    listed = ",\r\n ".join(f"<{url}>" for url in usable)
    one_click = any(url.startswith("https://") for url in usable)
    return f"List-Unsubscribe: {listed}\r\n".encode() + (_ONE_CLICK if one_click else b"")


@dataclass
class MessageSkeleton:
    """Everything about a message's bytes that is the same for every recipient of a campaign version."""

    from_email: str
    from_name: str = ""
    reply_to: str | None = None
    feedback_id: str | None = None
    custom_headers: Mapping[str, str] = field(default_factory=dict)
    boundary: str = field(default_factory=lambda: f"=_ignite_{secrets.token_hex(12)}")

    def __post_init__(self) -> None:
        for name in self.custom_headers:
            if not _HEADER_NAME.match(name) or name.lower() in RESERVED_HEADERS:
                raise ValueError(f"custom header {name!r} is not allowed")
        top = [header("From", address(self.from_email, self.from_name))]
        if self.reply_to:
            top.append(header("Reply-To", address(self.reply_to)))
        bottom = [
            *([header("Feedback-ID", self.feedback_id)] if self.feedback_id else []),
            *(header(name, value) for name, value in self.custom_headers.items()),
            b"MIME-Version: 1.0\r\n",
            f'Content-Type: multipart/alternative; boundary="{self.boundary}"\r\n\r\n'.encode(),
            self._part_start("plain"),
        ]
        self._top = b"".join(top)
        self._bottom = b"".join(bottom)
        self._middle = b"\r\n" + self._part_start("html")
        self._end = f"\r\n--{self.boundary}--\r\n".encode()

    def _part_start(self, subtype: str) -> bytes:
        return (
            f"--{self.boundary}\r\n"
            f'Content-Type: text/{subtype}; charset="utf-8"\r\n'
            "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
        ).encode()

    def build(
        self,
        *,
        to: str,
        subject: str,
        message_id: str,
        list_unsubscribe: tuple[str, ...],
        text: bytes,
        html: bytes,
        date: str | None = None,
    ) -> bytes:
        """The complete message from quoted-printable bodies (see `QuotedPrintable`).

        `to` is a formatted address and `list_unsubscribe` holds the mailto and https URLs.
        """
        return b"".join((
            self._top,
            header("To", to),
            header("Subject", subject),
            f"Date: {date or _now_header()}\r\nMessage-ID: {message_id}\r\n".encode(),
            list_unsubscribe_headers(list_unsubscribe),
            self._bottom,
            text,
            self._middle,
            html,
            self._end,
        ))
