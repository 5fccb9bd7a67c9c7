"""Over https the delivery connects to the address checked at send time, yet presents the endpoint's name in TLS
(SNI) and verifies the certificate against that name."""

from __future__ import annotations

import asyncio
import datetime as dt
import ssl
import uuid
from pathlib import Path

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from app.services import vault
from app.services.webhooks.delivery import TIMEOUT, post
from tests.integration.webhooks.receiver import Receiver


def _certificate(folder: Path, name: str) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    certificate = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
                   .not_valid_after(now + dt.timedelta(days=1))
                   .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
                   .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                   .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


async def test_an_https_delivery_presents_the_name_and_checks_the_certificate_against_it(tmp_path):
    cert_path, key_path = _certificate(tmp_path, "localhost")
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert_path, key_path)
    names: list[str | None] = []
    server_context.sni_callback = lambda _socket, name, _context: names.append(name)
    receiver = Receiver()
    server = await asyncio.start_server(receiver.handle, "localhost", 0, ssl=server_context)
    port = server.sockets[0].getsockname()[1]
    secret = "whsec_test"
    endpoint = {"url": f"https://localhost:{port}/hooks", "secret": vault.encrypt(secret)}
    row = {"id": 1, "kind": "ping", "event_id": uuid.uuid4(), "created_at": dt.datetime.now(dt.UTC), "payload": {}}
    try:
        trusting = ssl.create_default_context(cafile=str(cert_path))
        async with httpx.AsyncClient(verify=trusting, timeout=TIMEOUT, follow_redirects=False) as client:
            delivered = await post(client, endpoint, row, allow_private=True)
        async with httpx.AsyncClient(timeout=TIMEOUT, follow_redirects=False) as client:
            untrusted = await post(client, endpoint, row, allow_private=True)
    finally:
        server.close()
        await server.wait_closed()

    assert delivered.delivered, delivered.error
    assert names[0] == "localhost"
    assert receiver.received[0].headers["host"] == f"localhost:{port}"
    assert receiver.received[0].signed_by(secret)
    assert not untrusted.delivered and "CERTIFICATE_VERIFY_FAILED" in untrusted.error
