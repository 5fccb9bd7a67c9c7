from __future__ import annotations

import base64
from collections.abc import Callable

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from app.services.rendering import CompiledMessage, DkimKeyPair, DkimSigner, dkim_dns_name, generate_dkim_key

DOMAIN = "mail.example.com"
SELECTOR = "ignite"


@pytest.fixture(scope="module")
def key() -> DkimKeyPair:
    return generate_dkim_key()


def dns_for(key: DkimKeyPair, asked: list[str]) -> Callable[..., bytes | None]:
    """A resolver that knows only our selector record, so verification needs no network."""

    def lookup(name: bytes | str, timeout: int = 5) -> bytes | None:
        name = name.decode() if isinstance(name, bytes) else name
        asked.append(name)
        return key.dns_value.encode() if name.rstrip(".") == dkim_dns_name(SELECTOR, DOMAIN) else None

    return lookup


def test_generated_key_is_rsa_2048_with_a_matching_dns_record(key: DkimKeyPair) -> None:
    private = serialization.load_pem_private_key(key.private_key_pem.encode(), password=None)
    assert isinstance(private, rsa.RSAPrivateKey)
    assert private.key_size == 2048
    assert key.private_key_pem.startswith("-----BEGIN RSA PRIVATE KEY-----")
    assert key.dns_value.startswith("v=DKIM1; k=rsa; p=")
    public_der = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert key.dns_value.endswith(base64.b64encode(public_der).decode())


def test_signer_accepts_pkcs8_keys_and_rejects_garbage(key: DkimKeyPair) -> None:
    private = serialization.load_pem_private_key(key.private_key_pem.encode(), password=None)
    pkcs8 = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    message = b"From: a@mail.example.com\r\nTo: b@example.org\r\nSubject: x\r\n\r\nbody\r\n"
    signed = DkimSigner(domain=DOMAIN, selector=SELECTOR, private_key_pem=pkcs8).sign(message)
    assert dkim.verify(signed, dnsfunc=dns_for(key, []))
    with pytest.raises(ValueError):
        DkimSigner(domain=DOMAIN, selector=SELECTOR, private_key_pem="not a key")


def test_dns_name() -> None:
    assert dkim_dns_name("s1", "example.com") == "s1._domainkey.example.com"


@pytest.fixture
def signed(key: DkimKeyPair, compile_message: Callable[..., CompiledMessage]) -> bytes:
    signer = DkimSigner(domain=DOMAIN, selector=SELECTOR, private_key_pem=key.private_key_pem)
    message = compile_message(
        '<p>Hello {{ first_name }} — ünïcode</p><a href="{{ unsubscribe_url }}">Unsubscribe</a>',
        subject="Grüße {{ first_name }}",
        feedback_id="42:7:campaign:ignite",
        dkim=signer,
    )
    return message.render({"id": 1, "email": "ada@example.org", "first_name": "Ada"}, 321)


def test_signed_message_verifies_with_the_published_key(key: DkimKeyPair, signed: bytes) -> None:
    asked: list[str] = []
    assert dkim.verify(signed, dnsfunc=dns_for(key, asked))
    assert asked == [f"{SELECTOR}._domainkey.{DOMAIN}."]


def test_signature_uses_relaxed_rsa_sha256_over_the_required_headers(signed: bytes) -> None:
    field = signed.split(b"\r\n\r\n", 1)[0].split(b"\r\nFrom:", 1)[0]
    signature = b"".join(field.split()).decode().lower()
    assert signature.startswith("dkim-signature:")
    assert "a=rsa-sha256" in signature
    assert "c=relaxed/relaxed" in signature
    assert f"d={DOMAIN}" in signature and f"s={SELECTOR}" in signature
    signed_headers = signature.split("h=", 1)[1].split(";", 1)[0].split(":")
    for name in [
        "from", "to", "subject", "date", "message-id", "list-unsubscribe", "list-unsubscribe-post",
        "feedback-id", "mime-version", "content-type",
    ]:
        assert name in signed_headers


def test_tampered_body_fails_verification(key: DkimKeyPair, signed: bytes) -> None:
    tampered = signed.replace(b"</body>", b"</body><p>Call us</p>")
    assert tampered != signed
    assert not dkim.verify(tampered, dnsfunc=dns_for(key, []))


def test_tampered_unsubscribe_header_fails_verification(key: DkimKeyPair, signed: bytes) -> None:
    tampered = signed.replace(b"<https://t.example.com/u/321>", b"<https://evil.example/u/321>")
    assert tampered != signed
    assert not dkim.verify(tampered, dnsfunc=dns_for(key, []))


def test_another_key_fails_verification(signed: bytes) -> None:
    assert not dkim.verify(signed, dnsfunc=dns_for(generate_dkim_key(), []))


def test_feedback_id_is_signed_so_changing_it_fails_verification(key: DkimKeyPair, signed: bytes) -> None:
    assert b"\r\nFeedback-ID: 42:7:campaign:ignite\r\n" in signed
    tampered = signed.replace(b"Feedback-ID: 42:7:campaign:ignite", b"Feedback-ID: 43:7:campaign:ignite")
    assert not dkim.verify(tampered, dnsfunc=dns_for(key, []))


@pytest.mark.parametrize("message", [
    # Folded headers, tabs, runs of spaces and trailing whitespace: relaxed canonicalization must agree.
    b"From: Ada  <a@mail.example.com>\r\nTo: b@example.org\r\nSubject: a long\r\n\tfolded   subject \r\n"
    b"Feedback-ID: 1:2:campaign:ignite\r\n\r\nline with trailing space \r\n\tindented\ttabs\r\n\r\n\r\n",
    # No body at all, and a body without its final line break.
    b"From: a@mail.example.com\r\nTo: b@example.org\r\nSubject: empty\r\n\r\n",
    b"From: a@mail.example.com\r\nTo: b@example.org\r\nSubject: open\r\n\r\nno final break  ",
])
def test_signatures_of_unusual_messages_verify_with_dkimpy(key: DkimKeyPair, message: bytes) -> None:
    signed = DkimSigner(domain=DOMAIN, selector=SELECTOR, private_key_pem=key.private_key_pem).sign(message)
    assert signed.endswith(message)
    assert dkim.verify(signed, dnsfunc=dns_for(key, []))
    assert all(len(line) <= 78 for line in signed.split(b"\r\n\r\n", 1)[0].split(b"\r\n")[:6])


def test_bodies_with_space_runs_tabs_and_leading_dots_verify(key: DkimKeyPair,
                                                             compile_message: Callable[..., CompiledMessage]) -> None:
    # The renderer signs its body as already canonical (mime._canonical): dkimpy recomputes it the long way.
    signer = DkimSigner(domain=DOMAIN, selector=SELECTOR, private_key_pem=key.private_key_pem)
    message = compile_message(
        "<pre>two  spaces\tand a tab\n.leading dot\n..two dots   </pre><p>{{ motto }}</p>"
        '<p>' + "word " * 40 + '.</p><a href="{{ unsubscribe_url }}">Unsubscribe</a>',
        dkim=signer,
    )
    raw = message.render({"id": 1, "email": "ada@example.org", "fields": {"motto": ".  dotted\t\tmotto  "}}, 7)
    assert dkim.verify(raw, dnsfunc=dns_for(key, []))
    assert b"\r\n." not in raw
