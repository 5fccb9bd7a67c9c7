"""Mail that Ignite itself sends, rendered from autoescaped Jinja templates (app/templates/email/).

Account mail (password resets, invitations, sign-in notices) goes through the platform sender, the SMTP
server named by SYSTEM_MAIL_URL. Without one it is kept in the development inbox, but only in development
and tests, marked with ACCOUNT_MAIL_SENDER so the inbox shows it to its addressee alone; in production it
is not sent at all, and the app says so at start-up and on the password reset page.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from app.esp.base import EmailServiceProvider, OutgoingMessage
from app.esp.capture import CaptureESP
from app.esp.smtp import Security, SmtpConfig, SmtpESP
from app.logs import get_logger
from app.services.accounts import AccountError
from app.settings import PROJECT_ROOT, Settings, get_settings

log = get_logger("ignite.mail")

# The envelope sender of account mail kept by the development capture: the inbox shows such mail only to
# its addressee (and, with link tokens hidden, to owners).
ACCOUNT_MAIL_SENDER = "no-reply@ignite.local"
DEVELOPMENT_FROM = f"Ignite <{ACCOUNT_MAIL_SENDER}>"
NO_PLATFORM_SENDER = ("This server has no platform mail sender, so it cannot email password resets or "
                      "invitations. An administrator sets SYSTEM_MAIL_URL (an SMTP URL) to turn them on.")

_templates = Environment(
    loader=FileSystemLoader(PROJECT_ROOT / "app" / "templates" / "email"),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
)


@dataclass(frozen=True)
class SystemMail:
    subject: str
    text: str
    html: str


def rendered_mail(name: str, subject: str, **context: Any) -> SystemMail:
    """`email/<name>.txt` and `email/<name>.html` rendered with `context`; the HTML escapes every value."""
    return SystemMail(
        subject=" ".join(subject.split()),  # a header: no line breaks may be smuggled in
        text=_templates.get_template(f"{name}.txt").render(context),
        html=_templates.get_template(f"{name}.html").render(context),
    )


def email_message(from_header: str, to: str, mail: SystemMail) -> EmailMessage:
    message = EmailMessage()
    message["From"] = from_header
    message["To"] = to
    message["Subject"] = mail.subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=parseaddr(from_header)[1].rpartition("@")[2] or "ignite.local")
    message.set_content(mail.text)
    message.add_alternative(mail.html, subtype="html")
    return message


def default_sender() -> EmailServiceProvider:
    """Where a workspace's own mail goes while it has no delivery server: the development capture."""
    return CaptureESP()


@dataclass(frozen=True)
class PlatformSender:
    """The SMTP server of SYSTEM_MAIL_URL and the From its account mail carries."""

    config: SmtpConfig
    from_header: str

    @property
    def envelope_sender(self) -> str:
        return parseaddr(self.from_header)[1]


def platform_sender(url: str, base_url: str) -> PlatformSender:
    """Read an SMTP URL: smtp:// uses STARTTLS (port 587), smtps:// TLS from the first byte (465).

    Query parameters: `security=none|starttls|tls` overrides the scheme's choice, `from=` sets the From
    (default no-reply at BASE_URL's host), `verify=false` accepts a server certificate that does not verify.
    """
    parts = urlsplit(url)
    query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    implicit_tls = parts.scheme == "smtps"
    security = Security(query.get("security", "tls" if implicit_tls else "starttls"))
    host = urlsplit(base_url).hostname or "localhost"
    return PlatformSender(
        config=SmtpConfig(
            host=parts.hostname or "localhost",
            port=parts.port or (465 if implicit_tls else 587),
            security=security,
            username=unquote(parts.username or ""),
            password=unquote(parts.password or ""),
            validate_certs=query.get("verify", "true").lower() not in ("false", "0", "no"),
            pool_size=1,
        ),
        from_header=query.get("from", f"Ignite <no-reply@{host}>"),
    )


def account_mail_problem(settings: Settings) -> str | None:
    """Why account mail cannot reach people on this server, or None when it can (or is kept for development)."""
    if settings.mail.system_mail_url or settings.uses_development_inbox:
        return None
    return NO_PLATFORM_SENDER


def warn_without_platform_sender(settings: Settings) -> None:
    """Said once at start-up, so an operator learns it before a user asks for a reset link."""
    problem = account_mail_problem(settings)
    if problem:
        log.warning("platform_mail_missing", message=problem, setting="SYSTEM_MAIL_URL")


async def send_account_mail(workspace_id: int, to: str, mail: SystemMail) -> None:
    """Send through the platform sender (or keep it in the development inbox); AccountError when it cannot go."""
    settings = get_settings()
    if settings.mail.system_mail_url:
        sender = platform_sender(settings.mail.system_mail_url, settings.base_url)
        async with SmtpESP(sender.config) as smtp:
            await _deliver(smtp, workspace_id, sender.from_header, sender.envelope_sender, to, mail)
    elif settings.uses_development_inbox:
        await _deliver(CaptureESP(), workspace_id, DEVELOPMENT_FROM, ACCOUNT_MAIL_SENDER, to, mail)
    else:
        raise AccountError(NO_PLATFORM_SENDER)


async def _deliver(sender: EmailServiceProvider, workspace_id: int, from_header: str, envelope: str, to: str,
                   mail: SystemMail) -> None:
    message = email_message(from_header, to, mail)
    [result] = await sender.send([OutgoingMessage(
        workspace_id=workspace_id, mail_from=envelope, recipients=(to,), raw=message.as_bytes(),
        message_id=message["Message-ID"], subject=mail.subject)])
    if not result.accepted:
        log.error("account_mail_refused", response=result.response)
        raise AccountError(f"The email could not be sent ({result.response}). Try again in a moment.")
