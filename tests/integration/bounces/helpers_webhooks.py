"""Webhook tests: a test SNS signing certificate, signed SNS messages, and provider events as posted."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from app.embedded import free_port
from app.services.bounces.sns import string_to_sign
from app.settings import Settings, WebhookSettings, get_settings

CERT_URL = "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-0000.pem"
TOPIC = "arn:aws:sns:eu-west-1:123456789012:ignite-bounces"


@dataclass(frozen=True)
class Signer:
    """A key and its self-signed certificate, as Amazon signs SNS messages (RSA, PKCS #1 v1.5)."""

    key: rsa.RSAPrivateKey
    certificate_file: Path

    def sign(self, message: dict[str, str], version: str = "1") -> dict[str, str]:
        message = {**message, "SignatureVersion": version, "SigningCertURL": message.get("SigningCertURL", CERT_URL)}
        algorithm = hashes.SHA1() if version == "1" else hashes.SHA256()
        signature = self.key.sign(string_to_sign(message), padding.PKCS1v15(), algorithm)
        return {**message, "Signature": base64.b64encode(signature).decode()}


def make_signer(folder: Path) -> Signer:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
    now = datetime.now(UTC)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(days=1))
                   .not_valid_after(now + timedelta(days=30)).sign(key, hashes.SHA256()))
    path = folder / "sns.pem"
    path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return Signer(key, path)


def settings_with(certificate_file: Path, endpoint_url: str = "") -> Settings:
    return replace(get_settings(), webhooks=WebhookSettings(sns_certificate_file=str(certificate_file),
                                                            sns_endpoint_url=endpoint_url))


def ses_bounce(recipient: str, ses_message_id: str, delivery_id: int | None = None) -> dict[str, Any]:
    """An SES bounce notification as SES puts it in an SNS Message (feedback notifications)."""
    return {
        "notificationType": "Bounce",
        "bounce": {"bounceType": "Permanent", "bounceSubType": "General", "reportingMTA": "dsn; a8-50.smtp-out.ses",
                   "bouncedRecipients": [{"emailAddress": recipient, "action": "failed", "status": "5.1.1",
                                          "diagnosticCode": "smtp; 550 5.1.1 user unknown"}],
                   "timestamp": "2026-12-03T10:00:00.000Z", "feedbackId": "0102-feedback"},
        "mail": {"messageId": ses_message_id, "source": "offers@news.example.com", "destination": [recipient],
                 "commonHeaders": {"subject": "Spring offer",
                                   "messageId": f"<{delivery_id}@news.example.com>" if delivery_id else ""},
                 "tags": {"ignite_delivery": [str(delivery_id)]} if delivery_id else {}},
    }


def sns_notification(message_id: str, ses_event: dict[str, Any]) -> dict[str, str]:
    return {"Type": "Notification", "MessageId": message_id, "TopicArn": TOPIC, "Message": json.dumps(ses_event),
            "Timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "UnsubscribeURL": "https://sns.eu-west-1.amazonaws.com/?Action=Unsubscribe"}


def sns_subscription(message_id: str = "sub-1") -> dict[str, str]:
    return {"Type": "SubscriptionConfirmation", "MessageId": message_id, "TopicArn": TOPIC, "Token": "tok123",
            "Message": "You have chosen to subscribe to the topic.",
            "SubscribeURL": f"https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn={TOPIC}"
                            "&Token=tok123",
            "Timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")}


def sparkpost_event(event_type: str, recipient: str, event_id: str, **fields: Any) -> dict[str, Any]:
    return {"msys": {"message_event": {"type": event_type, "event_id": event_id, "rcpt_to": recipient,
                                       "transmission_id": "30249217362431345", **fields}}}


def mailgun_post(key: str, event: dict[str, Any], token: str = "a" * 50) -> dict[str, Any]:
    timestamp = str(int(datetime.now(UTC).timestamp()))
    signature = hmac.new(key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()
    return {"signature": {"timestamp": timestamp, "token": token, "signature": signature}, "event-data": event}


@dataclass
class SnsEndpoint:
    """A local stand-in for SNS's confirmation endpoint: records each GET it gets."""

    url: str
    requests: list[str] = field(default_factory=list)


def serve_sns() -> Iterator[SnsEndpoint]:
    endpoint = SnsEndpoint("")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            endpoint.requests.append(self.path)
            body = b"<ConfirmSubscriptionResponse/>"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    endpoint.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield endpoint
    server.shutdown()
    server.server_close()
