"""Bounce, complaint and auto-reply parsing on formats written for Ignite (one per MTA or provider)."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.services.bounces.classifier import Evidence, classify, classify_reply
from app.services.bounces.model import Rule
from app.services.bounces.reports import parse_report

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "bounces"


def report_of(name: str, rules: tuple[Rule, ...] = ()):
    return parse_report((FIXTURES / name).read_bytes(), rules)


def test_a_postfix_dsn_gives_recipient_status_reply_and_remote_mta() -> None:
    report = report_of("postfix-mailbox-full.eml")
    assert report.kind == "dsn"
    assert report.envelope_to == "bounces+abc123@bounces.shop.example"
    assert report.original_message_id == "<d.42.abc@shop.example>"
    (outcome,) = report.outcomes
    assert (outcome.recipient, outcome.category, outcome.status) == ("anna@example.org", "soft", "5.2.2")
    assert (outcome.reply_code, outcome.action, outcome.remote_mta) == ("552", "failed", "mx.example.org")


def test_an_exim_free_text_bounce_is_hard_with_the_rule_that_fired() -> None:
    (outcome,) = report_of("exim-user-unknown.eml").outcomes
    assert (outcome.recipient, outcome.category, outcome.status) == ("bob@example.com", "hard", "5.1.1")
    assert outcome.rule == "rule:userunknown"


def test_a_qmail_bounce_without_a_dsn_names_the_unknown_host() -> None:
    report = report_of("qmail-no-host.eml")
    assert report.kind == "nonstandard"
    assert report.original_message_id == "<d.45.abc@shop.example>"
    (outcome,) = report.outcomes
    assert (outcome.recipient, outcome.category, outcome.status) == ("dave@nowhere.example", "hard", "5.1.2")


def test_an_arf_report_is_a_complaint_with_its_feedback_type_and_source_ip() -> None:
    report = report_of("yahoo-arf.eml")
    assert report.kind == "arf"
    assert report.original_headers["message-id"] == "<d.44.abc@shop.example>"
    (outcome,) = report.outcomes
    assert (outcome.recipient, outcome.category) == ("carol@yahoo.example", "complaint")
    assert (outcome.feedback_type, outcome.source_ip) == ("abuse", "198.51.100.7")


@pytest.mark.parametrize(("name", "sender"), [("autoreply-de.eml", "dieter@example.de"),
                                              ("autoreply-fr.eml", "amelie@example.fr")])
def test_auto_replies_in_other_languages_are_ignored_autoreplies(name: str, sender: str) -> None:
    report = report_of(name)
    assert report.kind == "autoreply"
    assert [(o.recipient, o.category) for o in report.outcomes] == [(sender, "autoreply")]


def test_a_workspace_rule_is_tried_before_the_defaults_and_recorded() -> None:
    rule = Rule(name="12", pattern=r"recipient address rejected", category="block", status="5.7.1")
    (outcome,) = report_of("exim-user-unknown.eml", (rule,)).outcomes
    assert (outcome.category, outcome.rule) == ("block", "workspace-rule:12")


def test_an_invalid_workspace_pattern_is_skipped_not_raised() -> None:
    rule = Rule(name="bad", pattern=r"(unclosed", category="block")
    (outcome,) = report_of("exim-user-unknown.eml", (rule,)).outcomes
    assert outcome.category == "hard"


@pytest.mark.parametrize(
    ("code", "response", "category", "status"),
    [
        (550, "5.1.1 <x@example.com>: Recipient address rejected: User unknown in virtual mailbox table", "hard",
         "5.1.1"),
        (550, "5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org", "block", "5.7.1"),
        (552, "Requested mail action aborted: exceeded storage allocation", "soft", "5.0.922"),
        (554, "Message rejected due to spam content", "block", "5.0.980"),
        (450, "4.2.2 The email account that you tried to reach is over quota", "soft", "4.2.2"),
    ],
)
def test_synchronous_smtp_answers_are_classified_like_reports(code: int, response: str, category: str,
                                                             status: str) -> None:
    outcome = classify_reply(code, response)
    assert (outcome.recipient, outcome.category, outcome.status, outcome.reply_code) == ("", category, status,
                                                                                          str(code))


@pytest.mark.parametrize(
    ("name", "recipient", "category", "status", "reply_code"),
    [
        ("gmail-user-unknown.eml", "nobody.here@gmail.example", "hard", "5.1.1", "550"),
        ("outlook-blocked.eml", "erik@outlook.example", "block", "5.7.1", "550"),
        ("exchange-mailbox-full.eml", "frank@corp.example", "soft", "5.2.2", "554"),
        ("sendmail-host-unknown.eml", "gina@no-such-host.example", "hard", "5.1.2", "550"),
    ],
)
def test_provider_and_mta_dsns_give_category_status_and_the_original_message(
        name: str, recipient: str, category: str, status: str, reply_code: str) -> None:
    report = report_of(name)
    assert report.kind == "dsn"
    assert report.original_message_id.startswith("<d.5")
    (outcome,) = report.outcomes
    assert (outcome.recipient, outcome.category, outcome.status, outcome.reply_code) == (
        recipient, category, status, reply_code)


def test_an_ses_notification_mailed_as_json_is_read_as_the_ses_event() -> None:
    report = report_of("ses-bounce-email.eml")
    assert report.kind == "provider"
    assert report.original_message_id == "<d.55.abc@shop.example>"
    (outcome,) = report.outcomes
    assert (outcome.recipient, outcome.category, outcome.status) == ("hana@example.org", "hard", "5.1.1")
    assert outcome.provider_message_id == "0102-ses-message-id"


@pytest.mark.parametrize(("name", "recipient", "source_ip"), [
    ("yahoo-arf.eml", "carol@yahoo.example", "198.51.100.7"),
    ("microsoft-arf.eml", "ivan@hotmail.example", "192.0.2.9"),
])
def test_arf_reports_of_several_providers_are_complaints(name: str, recipient: str, source_ip: str) -> None:
    report = report_of(name)
    assert report.kind == "arf"
    (outcome,) = report.outcomes
    assert (outcome.recipient, outcome.category, outcome.status) == (recipient, "complaint", "")
    assert (outcome.feedback_type, outcome.source_ip) == ("abuse", source_ip)


def test_an_old_sendmail_transcript_gives_each_recipient_its_own_answer() -> None:
    raw = (b"From: Mail Delivery Subsystem <MAILER-DAEMON@relay.example.net>\nSubject: Returned mail: unknown\n"
           b"To: bounces@shop.example\n\n   ----- Transcript of session follows -----\n"
           b"While talking to mx.example.org:\n>>> RCPT To:<jo@example.org>\n"
           b"<<< 550 Requested User Mailbox not found. No such user here.\n550 <jo@example.org>... User unknown\n"
           b"554 <kim@gone.example>... 550 Host unknown (Authoritative answer from name server)\n\n"
           b"   ----- Unsent message follows -----\nTo: jo@example.org\n\nHi\n")
    outcomes = parse_report(raw).outcomes
    assert [(o.recipient, o.category, o.status) for o in outcomes] == [
        ("jo@example.org", "hard", "5.0.911"), ("kim@gone.example", "hard", "5.0.912")]


def test_an_opensmtpd_report_is_read_from_its_text_not_its_generic_delivery_status() -> None:
    outcomes = report_of("opensmtpd-mixed.eml").outcomes
    # Its delivery-status part only ever says 4.4.7 or 5.0.0; the text says what happened.
    assert [(o.recipient, o.category, o.status) for o in outcomes] == [
        ("carla@example.net", "soft", "5.0.947"), ("dan@example.net", "hard", "5.0.912")]


def test_lotus_notes_writes_the_reason_above_the_address() -> None:
    (outcome,) = report_of("notes-user-unknown.eml").outcomes
    assert (outcome.recipient, outcome.category, outcome.status) == ("erin@notes.example.co.jp", "hard", "5.0.911")


def test_a_report_whose_multipart_body_has_no_boundaries_is_still_read() -> None:
    report = report_of("pmdf-no-boundaries.eml")
    (outcome,) = report.outcomes
    assert (report.kind, outcome.recipient, outcome.category, outcome.status) == (
        "dsn", "fred@example.org", "hard", "5.1.1")


def test_a_diagnostic_nothing_recognises_without_a_status_is_kept_for_review() -> None:
    outcome = classify(Evidence(recipient="alan@example.org", diagnostic="the frobnicator declined it (code XQ-17)"))
    assert (outcome.category, outcome.rule) == ("unknown", "fallback")
    stated = classify(Evidence(recipient="alan@example.org", status="5.1.1", diagnostic="the frobnicator declined it"))
    assert stated.category == "hard"
