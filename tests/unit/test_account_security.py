"""Pure parts of account security: the platform sender's URL, session-bound CSRF tokens, growing delays,
redaction of account mail, and autoescaped system emails."""

import pytest

from app.esp.smtp import Security
from app.services.inbox import HIDDEN, redacted
from app.services.lockout import FIRST_DELAY, delay_after
from app.services.public_limits import RateLimited, wait_phrase
from app.services.system_mail import platform_sender, rendered_mail
from app.services.tokens import new_token
from app.web.csrf import is_bound, issued_token

SECRET = "k" * 48


def test_smtp_url_uses_starttls_on_587_and_sends_from_no_reply_at_the_base_url():
    sender = platform_sender("smtp://mailer:p%40ss@mail.example.com", "https://ignite.example.com")
    assert (sender.config.host, sender.config.port, sender.config.security) == ("mail.example.com", 587,
                                                                                  Security.STARTTLS)
    assert (sender.config.username, sender.config.password) == ("mailer", "p@ss")
    assert sender.config.validate_certs
    assert sender.from_header == "Ignite <no-reply@ignite.example.com>"
    assert sender.envelope_sender == "no-reply@ignite.example.com"


def test_smtps_url_uses_tls_on_465_and_query_parameters_override():
    implicit = platform_sender("smtps://relay.example.com", "http://x")
    assert (implicit.config.port, implicit.config.security) == (465, Security.TLS)
    local = platform_sender("smtp://127.0.0.1:2525?security=none&verify=false&from=Ops%20%3Cops%40example.com%3E",
                            "http://x")
    assert (local.config.port, local.config.security, local.config.validate_certs) == (2525, Security.NONE, False)
    assert local.envelope_sender == "ops@example.com"


def test_a_csrf_token_is_valid_only_for_the_session_it_was_issued_for():
    session_token = issued_token(SECRET, "session-a")
    anonymous_token = issued_token(SECRET, "")

    assert is_bound(SECRET, session_token, "session-a")
    assert not is_bound(SECRET, session_token, "session-b")
    assert not is_bound(SECRET, session_token, "")
    assert not is_bound(SECRET, anonymous_token, "session-a")
    assert not is_bound("x" * 48, session_token, "session-a")
    tampered = session_token[:-1] + ("1" if session_token.endswith("0") else "0")
    assert not is_bound(SECRET, tampered, "session-a")
    assert not is_bound(SECRET, "", "")


@pytest.mark.parametrize(("failures", "expected"), [
    (0, 0), (4, 0), (5, FIRST_DELAY), (6, 2 * FIRST_DELAY), (7, 4 * FIRST_DELAY), (50, 900), (10_000, 900)])
def test_delays_start_after_the_free_failures_and_double_up_to_the_ceiling(failures, expected):
    assert delay_after(failures, free=5, ceiling=900) == expected


def test_account_mail_redaction_hides_link_tokens_and_keeps_the_rest():
    token = new_token()
    text = f"Choose a new one here: https://ignite.example.com/password/reset/{token}\nThanks"
    assert redacted(text) == f"Choose a new one here: https://ignite.example.com/password/reset/{HIDDEN}\nThanks"


def test_rate_limited_rounds_the_wait_up_and_says_it_in_words():
    assert RateLimited(0.2).retry_after == 1
    assert RateLimited(61.5).retry_after == 62
    assert "62 seconds" in RateLimited(61.5).message
    assert wait_phrase(1) == "1 second"
    assert wait_phrase(600) == "10 minutes"
    assert wait_phrase(3 * 3600) == "3 hours"


def test_system_mail_escapes_values_in_html_only_and_keeps_the_subject_on_one_line():
    mail = rendered_mail("confirm_subscription", "Confirm\r\nBcc: victim@example.com", list_name="<b>A & B</b>",
                         link="https://x/s/confirm/t", company="")
    assert "&lt;b&gt;A &amp; B&lt;/b&gt;" in mail.html and "<b>A" not in mail.html
    assert "<b>A & B</b>" in mail.text
    assert mail.subject == "Confirm Bcc: victim@example.com"


@pytest.mark.parametrize("url", ["http://mail.example.com", "smtp://mail.example.com?security=ssl"])
def test_a_system_mail_url_that_cannot_work_stops_the_app_at_start(monkeypatch, url):
    from app.settings import MailSettings, SettingsError

    monkeypatch.setenv("SYSTEM_MAIL_URL", url)
    with pytest.raises(SettingsError, match="SYSTEM_MAIL_URL"):
        MailSettings()


def test_a_token_with_characters_outside_ascii_is_simply_not_bound():
    assert not is_bound(SECRET, "é" * 96, "")
