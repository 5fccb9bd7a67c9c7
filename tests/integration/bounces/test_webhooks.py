"""Provider webhooks: SES through SNS (signature checked), SparkPost and Mailgun, each event stored once and
read back as the report processing acts on."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.services.bounces import processing, webhooks
from app.services.bounces.matching import delivery_for
from app.services.bounces.model import COMPLAINT, HARD
from app.services.bounces.provider_reports import provider_report
from app.services.delivery_servers import create_server, get_server
from app.services.sqlparams import fetch_positional
from app.settings import get_settings
from tests.factories import make_workspace
from tests.integration.bounces.helpers_processing import sent_delivery, statuses
from tests.integration.bounces.helpers_webhooks import (
    Signer,
    SnsEndpoint,
    mailgun_post,
    make_signer,
    serve_sns,
    ses_bounce,
    settings_with,
    sns_notification,
    sns_subscription,
    sparkpost_event,
)

EMAIL = "ann@example.org"
MAILGUN_KEY = "key-0123456789abcdef0123456789abcdef"


@pytest.fixture
def signer(tmp_path: Path) -> Signer:
    return make_signer(tmp_path)


@pytest.fixture
def sns_endpoint() -> Iterator[SnsEndpoint]:
    yield from serve_sns()


@pytest.fixture
def sns_settings(signer: Signer, sns_endpoint: SnsEndpoint, monkeypatch: pytest.MonkeyPatch) -> None:
    """Certificates read from the test's file and subscriptions confirmed at the local endpoint."""
    settings = settings_with(signer.certificate_file, sns_endpoint.url)
    monkeypatch.setattr(webhooks, "get_settings", lambda: settings)


async def _server(workspace_id: int, provider: str) -> dict:
    if provider == "ses":
        created = await create_server(workspace_id, "ses", {"name": "SES", "setting_region": "eu-west-1",
                                                            "weight": "100"})
    else:
        created = await create_server(workspace_id, "http_api", {
            "name": provider.title(), "setting_provider": provider, "setting_api_url": "http://127.0.0.1:9",
            "setting_domain": "mg.example.com", "setting_api_key": "k", "weight": "100"})
    return await get_server(workspace_id, created["id"])


def _path(server: dict) -> str:
    return webhooks.webhook_url(get_settings(), server).removeprefix(get_settings().base_url)


async def _reports(workspace_id: int) -> list[dict]:
    return await fetch_positional("SELECT * FROM bounce_reports WHERE workspace_id = $1 ORDER BY id", [workspace_id])


@pytest.mark.usefixtures("sns_settings")
@pytest.mark.parametrize("version", ["1", "2"])
async def test_a_signed_ses_bounce_is_stored_and_names_its_delivery(client, signer: Signer, version: str) -> None:
    workspace = await make_workspace()
    server = await _server(workspace["id"], "ses")
    delivery = await sent_delivery(workspace, EMAIL)
    await fetch_positional("UPDATE deliveries SET provider_message_id = 'ses-0100' WHERE id = $1", [delivery["id"]])
    message = signer.sign(sns_notification("sns-1", ses_bounce(EMAIL, "ses-0100")), version)

    response = await client.post(_path(server), content=json.dumps(message))

    assert (response.status_code, response.json()) == (200, {"accepted": 1})
    [stored] = await _reports(workspace["id"])
    assert (stored["source"], stored["source_ref"], stored["format"]) == ("ses", "sns-1", "ses")
    report = provider_report(stored["format"], bytes(stored["raw"]))
    [outcome] = report.outcomes
    assert (outcome.recipient, outcome.category, outcome.status, outcome.provider_message_id) == (
        EMAIL, HARD, "5.1.1", "ses-0100")
    match = await delivery_for(workspace["id"], report, outcome)
    assert match is not None and match.delivery_id == delivery["id"]


@pytest.mark.usefixtures("sns_settings")
async def test_a_replayed_sns_message_is_stored_once(client, signer: Signer) -> None:
    workspace = await make_workspace()
    server = await _server(workspace["id"], "ses")
    message = signer.sign(sns_notification("sns-1", ses_bounce(EMAIL, "ses-0100")))

    first = await client.post(_path(server), content=json.dumps(message))
    again = await client.post(_path(server), content=json.dumps(message))

    assert (first.json(), again.json()) == ({"accepted": 1}, {"accepted": 0})
    assert len(await _reports(workspace["id"])) == 1


@pytest.mark.usefixtures("sns_settings")
@pytest.mark.parametrize("tamper", [
    lambda m: {**m, "Message": m["Message"].replace("Permanent", "Transient")},
    lambda m: {**m, "MessageId": "sns-2"},
    lambda m: {**m, "Signature": base64.b64encode(b"x" * 256).decode()},
    lambda m: {**m, "Signature": "not base64!"},
    lambda m: {**m, "SignatureVersion": "3"},
])
async def test_a_tampered_sns_message_is_refused(client, signer: Signer, tamper) -> None:
    workspace = await make_workspace()
    server = await _server(workspace["id"], "ses")
    message = tamper(signer.sign(sns_notification("sns-1", ses_bounce(EMAIL, "ses-0100"))))

    response = await client.post(_path(server), content=json.dumps(message))

    assert response.status_code == 403
    assert await _reports(workspace["id"]) == []


@pytest.mark.usefixtures("sns_settings")
@pytest.mark.parametrize("url", [
    "https://evil.example.com/SimpleNotificationService-0000.pem",
    "https://sns.eu-west-1.amazonaws.com.evil.example.com/cert.pem",
    "http://sns.eu-west-1.amazonaws.com/SimpleNotificationService-0000.pem",
    "https://sns.eu-west-1.amazonaws.com/notes.txt",
])
async def test_a_certificate_from_anywhere_but_sns_is_refused(client, signer: Signer, url: str) -> None:
    workspace = await make_workspace()
    server = await _server(workspace["id"], "ses")
    message = signer.sign({**sns_notification("sns-1", ses_bounce(EMAIL, "x")), "SigningCertURL": url})

    response = await client.post(_path(server), content=json.dumps(message))

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "bad_signature"
    assert "not on an SNS host" in response.json()["error"]["message"]


@pytest.mark.usefixtures("sns_settings")
async def test_a_subscription_is_confirmed_at_its_subscribe_url(client, signer: Signer,
                                                                 sns_endpoint: SnsEndpoint) -> None:
    workspace = await make_workspace()
    server = await _server(workspace["id"], "ses")

    response = await client.post(_path(server), content=json.dumps(signer.sign(sns_subscription())))

    assert (response.status_code, response.json()) == (200, {"accepted": 0})
    [request] = sns_endpoint.requests
    assert request.startswith("/?Action=ConfirmSubscription&") and "Token=tok123" in request
    assert await _reports(workspace["id"]) == []


@pytest.mark.usefixtures("sns_settings")
async def test_an_unsigned_subscription_is_not_confirmed(client, signer: Signer, sns_endpoint: SnsEndpoint) -> None:
    workspace = await make_workspace()
    server = await _server(workspace["id"], "ses")
    message = {**signer.sign(sns_subscription()), "SubscribeURL": "https://sns.eu-west-1.amazonaws.com/?other"}

    response = await client.post(_path(server), content=json.dumps(message))

    assert response.status_code == 403
    assert sns_endpoint.requests == []


async def test_a_url_with_a_forged_or_foreign_token_is_not_found(client) -> None:
    workspace, other = await make_workspace(), await make_workspace()
    server = await _server(workspace["id"], "sparkpost")
    path = _path(server)
    forged = path.replace(f"/{workspace['id']}.", f"/{other['id']}.")

    assert (await client.post(forged, content=b"[]")).status_code == 404
    assert (await client.post(path.replace("/sparkpost/", "/mailgun/"), content=b"{}")).status_code == 404
    assert (await client.post(path.replace("/sparkpost/", "/ses/"), content=b"{}")).status_code == 404


async def test_sparkpost_events_are_stored_one_by_one_with_its_basic_auth(client) -> None:
    workspace = await make_workspace()
    server = await _server(workspace["id"], "sparkpost")
    token = webhooks.webhook_token(get_settings(), workspace["id"], server["id"])
    password = webhooks.sparkpost_password(get_settings(), token)
    batch = [sparkpost_event("bounce", EMAIL, "ev-1", bounce_class="10", error_code="550",
                             raw_reason="550 5.1.1 <ann@example.org>: user unknown",
                             rcpt_meta={"ignite_delivery": "77"}),
             sparkpost_event("spam_complaint", "bob@example.org", "ev-2", fbtype="abuse"),
             sparkpost_event("open", EMAIL, "ev-3")]

    refused = await client.post(_path(server), json=batch)
    wrong = await client.post(_path(server), json=batch, auth=("ignite", "guess"))
    response = await client.post(_path(server), json=batch, auth=("ignite", password))

    assert (refused.status_code, wrong.status_code) == (401, 401)
    assert (response.status_code, response.json()) == (200, {"accepted": 2})
    stored = await _reports(workspace["id"])
    assert [(row["source"], row["source_ref"]) for row in stored] == [("sparkpost", "ev-1"), ("sparkpost", "ev-2")]
    bounce, complaint = (provider_report("sparkpost", bytes(row["raw"])) for row in stored)
    assert (bounce.outcomes[0].category, bounce.outcomes[0].status, bounce.outcomes[0].reply_code,
            bounce.outcomes[0].provider_message_id, bounce.delivery_id) == (HARD, "5.1.1", "550",
                                                                            "30249217362431345", 77)
    assert (complaint.outcomes[0].category, complaint.outcomes[0].feedback_type) == (COMPLAINT, "abuse")


async def test_mailgun_posts_are_refused_until_its_signing_key_is_stored_and_then_checked(client) -> None:
    workspace = await make_workspace()
    server = await _server(workspace["id"], "mailgun")
    event = {"event": "failed", "severity": "permanent", "reason": "bounce", "id": "mg-ev-1", "recipient": EMAIL,
             "delivery-status": {"code": 550, "message": "5.1.1 The email account does not exist"},
             "message": {"headers": {"message-id": "20261203.1@mg.example.com"}},
             "user-variables": {"ignite_delivery": "42"}}

    before = await client.post(_path(server), json=mailgun_post(MAILGUN_KEY, event))
    await webhooks.save_signing_key(workspace["id"], server["id"], MAILGUN_KEY)
    forged = await client.post(_path(server), json=mailgun_post("another-key", event))
    response = await client.post(_path(server), json=mailgun_post(MAILGUN_KEY, event))

    assert (before.status_code, forged.status_code) == (403, 403)
    assert (before.json()["error"]["code"], forged.json()["error"]["code"]) == ("no_signing_key", "bad_signature")
    assert (response.status_code, response.json()) == (200, {"accepted": 1})
    [stored] = await _reports(workspace["id"])
    report = provider_report(stored["format"], bytes(stored["raw"]))
    assert (report.outcomes[0].category, report.outcomes[0].status, report.outcomes[0].provider_message_id,
            report.delivery_id) == (HARD, "5.1.1", "20261203.1@mg.example.com", 42)
    [row] = await fetch_positional("SELECT signing_key FROM bounce_webhook_keys WHERE server_id = $1", [server["id"]])
    assert MAILGUN_KEY not in row["signing_key"]


@pytest.mark.usefixtures("sns_settings")
async def test_an_ses_complaint_posted_to_the_webhook_marks_its_subscriber(client, signer: Signer) -> None:
    workspace = await make_workspace()
    server = await _server(workspace["id"], "ses")
    delivery = await sent_delivery(workspace, EMAIL)
    complaint = {"notificationType": "Complaint",
                 "complaint": {"complainedRecipients": [{"emailAddress": EMAIL}], "complaintFeedbackType": "abuse"},
                 "mail": {"messageId": "unknown-to-us", "tags": {"ignite_delivery": [str(delivery["id"])]}}}

    response = await client.post(_path(server), content=json.dumps(signer.sign(sns_notification("c-1", complaint))))
    [stored] = await _reports(workspace["id"])
    await processing.process_report(stored["id"])

    assert response.json() == {"accepted": 1}
    assert await statuses(workspace["id"], EMAIL) == ["complained"]
