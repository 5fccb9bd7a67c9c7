"""ESP connections ("delivery servers"): their settings, encrypted credentials, status and health checks."""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from email_validator import EmailNotValidError, validate_email

from app.db.delivery import DeliveryServer
from app.esp.base import Health, OutgoingMessage
from app.esp.registry import adapter_for
from app.services import vault
from app.services.accounts import now
from app.services.form_input import LARGEST_INTEGER
from app.services.forms import FormError
from app.services.tenancy import checked_workspace_id, owned_by


@dataclass(frozen=True)
class Setting:
    name: str
    label: str
    secret: bool = False
    required: bool = False
    choices: tuple[str, ...] = ()
    default: str = ""


KINDS: dict[str, tuple[str, tuple[Setting, ...]]] = {
    "smtp": ("SMTP (any MTA, PowerMTA)", (
        Setting("host", "Host", required=True), Setting("port", "Port", required=True, default="587"),
        Setting("security", "Security", choices=("starttls", "tls", "none"), default="starttls"),
        Setting("username", "Username"), Setting("password", "Password", secret=True),
        Setting("pool_size", "Connections in the pool", default="4"),
        Setting("virtual_mta", "Virtual MTA / pool header value (PowerMTA)"),
    )),
    "ses": ("Amazon SES", (
        Setting("region", "Region", required=True, default="us-east-1"),
        Setting("access_key_id", "Access key id", secret=True), Setting("secret_access_key", "Secret access key",
                                                                           secret=True),
        Setting("configuration_set", "Configuration set"),
        Setting("endpoint_url", "Endpoint URL (leave empty for AWS)"),
    )),
    "http_api": ("HTTP API (SparkPost, Mailgun)", (
        Setting("provider", "Provider", required=True, choices=("sparkpost", "mailgun")),
        Setting("api_url", "API base URL", required=True), Setting("domain", "Sending domain (Mailgun)"),
        Setting("api_key", "API key", secret=True, required=True),
    )),
    "capture": ("Development capture (inbox viewer)", ()),
}
STATUSES = ("active", "paused", "disabled", "warmup", "circuit_open")
NUMBERS = ("per_second", "hourly_quota", "daily_quota", "monthly_quota", "weight")
NAME_LENGTH = 120
# cost_per_thousand is numeric(10, 4).
LARGEST_COST = Decimal("999999.9999")


class ServerError(FormError):
    """Form values of this area that cannot be saved."""


def _number(raw: dict[str, Any], name: str, errors: dict[str, str], maximum: int = 10**9, default: int = 0) -> int:
    text = str(raw.get(name, "") or default).strip()
    if not text.isdigit() or int(text) > maximum:
        errors[name] = "Enter a whole number (0 means no limit)." if name != "weight" else "Enter 0 to 1000."
        return 0
    return int(text)


def _cost(value: object, errors: dict[str, str]) -> Decimal:
    try:
        cost = Decimal(str(value or "0").strip()).quantize(Decimal("0.0001"))
        if not 0 <= cost <= LARGEST_COST:
            raise InvalidOperation
    except InvalidOperation:
        errors["cost_per_thousand"] = "Enter a cost such as 0.25 (up to 999999.9999)."
        return Decimal(0)
    return cost


def cleaned_server_values(raw: dict[str, Any], kind: str, existing_secrets: dict[str, str]) -> dict[str, Any]:
    """Validated columns for a server of `kind`; empty secret inputs keep the stored secret."""
    if kind not in KINDS:
        raise ServerError({"kind": "Choose a server type."})
    errors: dict[str, str] = {}
    values: dict[str, Any] = {"kind": kind, "name": str(raw.get("name", "")).strip()}
    if not values["name"] or len(values["name"]) > NAME_LENGTH:
        errors["name"] = f"Give the server a name of up to {NAME_LENGTH} characters."
    for name in ("from_email", "bounce_address"):
        text = str(raw.get(name, "")).strip()
        if text:
            try:
                text = validate_email(text, check_deliverability=False).normalized
            except EmailNotValidError as exc:
                errors[name] = str(exc)
        values[name] = text
    values["from_name"] = str(raw.get("from_name", "")).strip()
    if len(values["from_name"]) > NAME_LENGTH:
        errors["from_name"] = f"Names are up to {NAME_LENGTH} characters."
    for name in NUMBERS:
        values[name] = (_number(raw, name, errors, maximum=1000, default=100) if name == "weight"
                        else _number(raw, name, errors))
    values["cost_per_thousand"] = _cost(raw.get("cost_per_thousand"), errors)
    domains = str(raw.get("allowed_domains", "")).replace(",", " ").split()
    values["allowed_domains"] = [domain.strip().lower() for domain in domains]
    settings: dict[str, str] = {}
    secrets = dict(existing_secrets)
    for setting in KINDS[kind][1]:
        text = str(raw.get(f"setting_{setting.name}", "") or "").strip()
        if setting.secret:
            if text:
                secrets[setting.name] = text
            if setting.required and not secrets.get(setting.name):
                errors[f"setting_{setting.name}"] = f"{setting.label} is required."
            continue
        text = text or setting.default
        if setting.required and not text:
            errors[f"setting_{setting.name}"] = f"{setting.label} is required."
        if setting.choices and text and text not in setting.choices:
            errors[f"setting_{setting.name}"] = f"Choose one of: {', '.join(setting.choices)}."
        settings[setting.name] = text
    if kind == "smtp" and not str(settings.get("port", "")).isdigit():
        errors["setting_port"] = "Enter a port number."
    if errors:
        raise ServerError(errors)
    values["settings"] = settings
    values["secrets"] = vault.encrypt(json.dumps(secrets)) if secrets else ""
    return values


def stored_secrets(row: dict) -> dict[str, str]:
    return json.loads(vault.decrypt(row["secrets"])) if row.get("secrets") else {}


def masked_secrets(row: dict, shown_to_admin: bool) -> dict[str, str]:
    """Each stored secret as a sign that it is stored; an admin also sees the last characters of a long one."""
    return {name: vault.masked(value, shown_to_admin) for name, value in stored_secrets(row).items()}


async def servers(workspace_id: int) -> list[dict]:
    return await DeliveryServer.select().where(owned_by(DeliveryServer, workspace_id)).order_by(
        DeliveryServer.name
    ).output(load_json=True)


async def get_server(workspace_id: int, server_id: int) -> dict:
    """The server with this id in this workspace; LookupError when there is none."""
    row = None
    if 0 < server_id <= LARGEST_INTEGER:
        row = await DeliveryServer.select().where(owned_by(DeliveryServer, workspace_id),
                                                  DeliveryServer.id == server_id).output(load_json=True).first()
    if row is None:
        raise LookupError("server")
    return row


async def create_server(workspace_id: int, kind: str, raw: dict[str, Any]) -> dict:
    values = cleaned_server_values(raw, kind, {})
    if await DeliveryServer.exists().where(owned_by(DeliveryServer, workspace_id),
                                           DeliveryServer.name == values["name"]):
        raise ServerError({"name": "Another server already has this name."})
    rows = await DeliveryServer.insert(DeliveryServer(
        workspace_id=checked_workspace_id(workspace_id), created_at=now(), updated_at=now(), **values,
    )).returning(*DeliveryServer.all_columns())
    return rows[0]


async def update_server(workspace_id: int, server_id: int, raw: dict[str, Any]) -> dict:
    current = await get_server(workspace_id, server_id)
    values = cleaned_server_values(raw, current["kind"], stored_secrets(current))
    if await DeliveryServer.exists().where(owned_by(DeliveryServer, workspace_id),
                                           DeliveryServer.name == values["name"], DeliveryServer.id != server_id):
        raise ServerError({"name": "Another server already has this name."})
    rows = await DeliveryServer.update({**values, "updated_at": now()}).where(
        owned_by(DeliveryServer, workspace_id), DeliveryServer.id == server_id
    ).returning(*DeliveryServer.all_columns())
    return rows[0]


async def set_status(workspace_id: int, server_id: int, status: str, reason: str) -> None:
    """Pause, resume or disable a server of this workspace (LookupError for any other, whatever the status)."""
    await get_server(workspace_id, server_id)
    if status not in STATUSES:
        raise ServerError({"status": "Choose a status."})
    rows = await DeliveryServer.update({DeliveryServer.status: status, DeliveryServer.status_reason: reason,
                                        DeliveryServer.updated_at: now()}).where(
        owned_by(DeliveryServer, workspace_id), DeliveryServer.id == server_id
    ).returning(DeliveryServer.id)
    if not rows:
        raise LookupError("server")


async def delete_server(workspace_id: int, server_id: int) -> dict:
    rows = await DeliveryServer.delete().where(owned_by(DeliveryServer, workspace_id),
                                               DeliveryServer.id == server_id).returning(DeliveryServer.name)
    if not rows:
        raise LookupError("server")
    return rows[0]


async def record_check(workspace_id: int, server_id: int, health: Health) -> None:
    await DeliveryServer.update({DeliveryServer.last_check_at: now(), DeliveryServer.last_check_ok: health.ok,
                                 DeliveryServer.last_check_detail: health.detail[:2000]}).where(
        owned_by(DeliveryServer, workspace_id), DeliveryServer.id == server_id
    )


def _test_message(row: dict, to: str) -> OutgoingMessage:
    sender = row["from_email"] or "test@ignite.local"
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, to, f"Ignite test through {row['name']}"
    message["Date"], message["Message-ID"] = formatdate(), make_msgid(domain=sender.rpartition("@")[2])
    message.set_content(f"This message was sent by the Test connection button of the server {row['name']}.")
    return OutgoingMessage(workspace_id=row["workspace_id"], mail_from=row["bounce_address"] or sender,
                           recipients=(to,), raw=message.as_bytes(), message_id=message["Message-ID"],
                           subject=message["Subject"])


def _test_recipient(raw: dict[str, Any]) -> str:
    text = str(raw.get("test_to", "")).strip()
    if not text:
        return ""
    try:
        return validate_email(text, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise ServerError({"test_to": str(exc)}) from exc


async def test_connection(workspace_id: int, server_id: int, raw: dict[str, Any]) -> Health:
    """Test the server's connection (and send a test message when `test_to` is given); the result is
    kept on the server, so its row shows it until the next test."""
    test_to = _test_recipient(raw)
    server = await get_server(workspace_id, server_id)
    health = await check_connection(server, test_to)
    await record_check(workspace_id, server_id, health)
    return health


async def check_connection(row: dict, test_to: str = "") -> Health:
    """Connect and authenticate with the server's own adapter, optionally send a test message;
    the provider's exact answers are in `detail`."""
    try:
        adapter = adapter_for(row, stored_secrets(row))
    except vault.VaultError as exc:
        return Health(ok=False, detail=str(exc))
    try:
        health = await adapter.check()
        if not (health.ok and test_to):
            return health
        [result] = await adapter.send([_test_message(row, test_to)])
        verdict = "accepted" if result.accepted else "refused"
        return Health(ok=result.accepted, detail=f"{health.detail}\nTest message to {test_to} {verdict}: "
                                                 f"{result.response}")
    finally:
        close = getattr(adapter, "aclose", None)
        if close is not None:
            await close()
