"""Bounce, complaint and auto-reply parsing on formats written for Ignite (one per MTA or provider)."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.services.bounces.classifier import classify_reply
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
