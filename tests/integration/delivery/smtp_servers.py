"""SMTP servers for the adapter tests: an aiosmtpd server that can be told to refuse or drop,
and Postfix's smtp-sink."""

from __future__ import annotations

import datetime
import os
import ssl
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from app.embedded import free_port, port_is_open

SMTP_SINK = Path("/usr/sbin/smtp-sink")


@dataclass(frozen=True)
class Received:
    peer: tuple[str, int]
    mail_from: str
    recipients: tuple[str, ...]
    content: bytes


@dataclass
class ScriptedHandler:
    """Accepts everything unless told otherwise: a reply per recipient, a DATA reply, or a dropped connection."""

    rcpt_replies: dict[str, str] = field(default_factory=dict)
    data_reply: str = "250 2.0.0 Ok: queued as 4F2X"
    drop_at: str = ""
    drops_left: int = 0
    received: list[Received] = field(default_factory=list)

    def _drop(self, command: str, server: SMTPServer) -> bool:
        if self.drop_at != command or self.drops_left == 0:
            return False
        self.drops_left -= 1
        server.transport.close()
        return True

    async def handle_MAIL(self, server: SMTPServer, session: Session, envelope: Envelope, address: str,
                          mail_options: list[str]) -> str:
        if self._drop("MAIL", server):
            return "421 4.3.0 closing"
        envelope.mail_from = address
        return "250 2.1.0 Ok"

    async def handle_RCPT(self, server: SMTPServer, session: Session, envelope: Envelope, address: str,
                          rcpt_options: list[str]) -> str:
        if address in self.rcpt_replies:
            return self.rcpt_replies[address]
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server: SMTPServer, session: Session, envelope: Envelope) -> str:
        if self._drop("DATA", server):
            return "421 4.3.0 closing"
        if self.data_reply.startswith("250"):
            self.received.append(Received(session.peer, envelope.mail_from, tuple(envelope.rcpt_tos),
                                          bytes(envelope.content)))
        return self.data_reply


def accept_only(login: bytes, password: bytes) -> Any:
    def authenticator(server: SMTPServer, session: Session, envelope: Envelope, mechanism: str,
                      auth_data: Any) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (login, password)
        # handled=False: aiosmtpd answers the failure itself (535), as a real MTA would.
        return AuthResult(success=ok, handled=False)

    return authenticator


def self_signed_context(folder: Path) -> ssl.SSLContext:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    return context


def start_smtp_sink(*options: str) -> tuple[subprocess.Popen[bytes], int]:
    """Start smtp-sink on a free loopback port with extra options (e.g. "-r", "RCPT" to soft-reject)."""
    port = free_port()
    # smtp-sink refuses to keep root privileges; `nobody` exists on every Debian system.
    user = ["-u", "nobody"] if os.geteuid() == 0 else []
    process = subprocess.Popen([str(SMTP_SINK), *user, *options, f"127.0.0.1:{port}", "256"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    for _ in range(200):
        if port_is_open(port):
            return process, port
        if process.poll() is not None:
            raise RuntimeError(f"smtp-sink exited: {process.stderr.read().decode() if process.stderr else ''}")
        time.sleep(0.02)
    process.kill()
    raise RuntimeError("smtp-sink did not start listening")
