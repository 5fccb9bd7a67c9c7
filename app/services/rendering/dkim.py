"""DKIM: key pairs for sending domains and signing of rendered messages with dkimpy."""

from __future__ import annotations

import base64
from dataclasses import dataclass

import dkim
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

# List-Unsubscribe and List-Unsubscribe-Post must be signed for RFC 8058 one-click to be trusted.
SIGNED_HEADERS = (
    b"From", b"To", b"Subject", b"Date", b"Message-ID", b"List-Unsubscribe", b"List-Unsubscribe-Post",
    b"MIME-Version", b"Content-Type",
)


@dataclass(frozen=True)
class DkimKeyPair:
    private_key_pem: str
    dns_value: str


def dkim_dns_name(selector: str, domain: str) -> str:
    return f"{selector}._domainkey.{domain}"


def _pkcs1_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    )


def generate_dkim_key(bits: int = 2048) -> DkimKeyPair:
    """A new RSA key (PKCS#1 PEM, the form dkimpy reads) and the TXT record value to publish."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    public_der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return DkimKeyPair(
        private_key_pem=_pkcs1_pem(key).decode(),
        dns_value=f"v=DKIM1; k=rsa; p={base64.b64encode(public_der).decode()}",
    )


class DkimSigner:
    """Signs with relaxed/relaxed canonicalization and rsa-sha256, for one domain and selector."""

    def __init__(self, *, domain: str, selector: str, private_key_pem: str) -> None:
        self.domain = domain.encode()
        self.selector = selector.encode()
        # Loading checks the key now rather than at the first send; dkimpy reads only PKCS#1 PEM.
        key = serialization.load_pem_private_key(private_key_pem.encode(), password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError("DKIM signing needs an RSA private key")
        self._key = _pkcs1_pem(key)

    def sign(self, message: bytes) -> bytes:
        """The message with its DKIM-Signature header prepended."""
        signature = dkim.sign(
            message,
            self.selector,
            self.domain,
            self._key,
            canonicalize=(b"relaxed", b"relaxed"),
            signature_algorithm=b"rsa-sha256",
            include_headers=list(SIGNED_HEADERS),
        )
        return signature + message
