"""Walking every registered route: the app's endpoints, and a first workspace full of real, recognisable data.

Used by the route walk (bad parameters never give a 500) and the tenancy walk (strangers, analysts and
other workspaces get nothing of the first workspace).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from httpx import AsyncClient, Response
from litestar import Litestar
from litestar.handlers import HTTPRouteHandler
from litestar.response import Stream
from litestar.routes import HTTPRoute

from app.web.auth import signed_in
from app.web.permissions import MINIMUM_ROLE, action_of
from tests.factories import csrf_token, make_list, make_subscriber, make_user, make_workspace, prime_csrf

# Requests that end the walking client's session; walked last.
SESSION_ENDING = frozenset({"/logout", "/account/sign-out-everywhere"})


@dataclass(frozen=True)
class Endpoint:
    method: str
    route: HTTPRoute
    handler: HTTPRouteHandler

    @property
    def path(self) -> str:
        return self.route.path

    @property
    def module(self) -> str:
        """The module that defines the handler: `app.routes.subscribers` names its file."""
        return self.handler.fn.__module__

    @property
    def guarded(self) -> bool:
        return signed_in in self.handler.resolve_guards()

    @property
    def least_role(self) -> str:
        return MINIMUM_ROLE[action_of(self.handler.opt, self.method)]

    @property
    def streams(self) -> bool:
        """An event stream answers until the client goes: walked only with values that must be refused."""
        return self.handler.parsed_fn_signature.return_type.is_subclass_of(Stream)

    @property
    def int_params(self) -> list[str]:
        return [p.name for p in self.route.path_parameters.values() if p.type is int]

    def url(self, values: Mapping[str, Any]) -> str:
        """The path with each parameter taken from `values` by name (or by type), URL-quoted."""
        filled = {p.name: quote(str(values.get(p.name, values.get(p.type.__name__, "x"))), safe="")
                  for p in self.route.path_parameters.values()}
        return self.route.path_format.format(**filled)

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def endpoints(app: Litestar) -> list[Endpoint]:
    """Every method of every registered HTTP route (HEAD and OPTIONS are Litestar's own), session enders last."""
    found = [Endpoint(method, route, handler)
             for route in app.routes if isinstance(route, HTTPRoute)
             for handler in route.route_handlers
             for method in sorted(handler.http_methods) if method not in {"HEAD", "OPTIONS"}]
    return sorted(found, key=lambda e: (e.path in SESSION_ENDING, e.method != "GET", e.path))


async def call(client: AsyncClient, endpoint: Endpoint, url: str, query: Mapping[str, str] | None = None,
               form: Mapping[str, Any] | None = None) -> Response:
    if endpoint.method == "GET":
        return await client.get(url, params=query)
    await prime_csrf(client)
    return await client.request(endpoint.method, url, params=query,
                                data={**(form or {}), "_csrf_token": csrf_token(client)})


@dataclass
class FirstWorkspace:
    """A workspace with one of every kind of thing, each named so its name cannot appear by accident."""

    workspace: dict
    owner: dict
    ids: dict[str, Any]
    secrets: list[str]

    def leaked(self, text: str) -> list[str]:
        return [secret for secret in self.secrets if secret in text]


def _marked(name: str) -> str:
    return f"Zq{name}Xv"


async def first_workspace() -> FirstWorkspace:
    """One of every object a route can name, all in one workspace, with an owner and a marketer."""
    from app.db.inbox import CapturedMessage
    from app.services import custom_fields, routing, sending_domains, templates, warmup_plans
    from app.services.campaigns import create_draft
    from app.services.delivery_servers import create_server
    from app.services.segments import save_segment
    from app.services.suppression import add_pasted, create_list
    from app.services.team import invite
    from tests.integration.imports.helpers import upload, write

    workspace = await make_workspace(_marked("Workspace"))
    owner = await make_user(workspace, "owner", email="zqowner@first.example")
    member = await make_user(workspace, "marketer", email="zqmember@first.example")
    mailing_list = await make_list(workspace, _marked("List"))
    field = await custom_fields.add_field(workspace["id"], mailing_list["id"], {"label": _marked("Field"),
                                                                                "kind": "text"})
    subscriber = await make_subscriber(mailing_list, "zqsubscriber@first.example", status="confirmed")
    segment = await save_segment(workspace["id"], {"name": _marked("Segment"), "list_ids": [mailing_list["id"]],
                                                   "conditions": {"match": "all", "rules": []}})
    suppression = await create_list(workspace["id"], _marked("Suppression"))
    await add_pasted(workspace["id"], suppression["id"], "zqsuppressed@first.example")
    from app.db.suppression import SuppressionEntry

    entry = await SuppressionEntry.select(SuppressionEntry.id).where(
        SuppressionEntry.suppression_list_id == suppression["id"]).first()
    template = await templates.create_template(workspace["id"], {
        "name": _marked("Template"), "subject": _marked("Subject"), "html": "<p>Zq body Xv</p>"}, owner["id"])
    campaign = await create_draft(workspace["id"], {"name": _marked("Campaign"), "list_ids": [str(mailing_list["id"])],
                                                    "template_id": str(template["id"])})
    domain = await sending_domains.add_domain(workspace["id"], "zqdomain.example")
    server = await create_server(workspace["id"], "capture", {"name": _marked("Server")})
    group = (await routing.domain_groups(workspace["id"]))[0]
    rule = await routing.save_rule(workspace["id"], {"name": _marked("Rule"), f"weight_{server['id']}": "10"})
    plan = await warmup_plans.create_plan(workspace["id"], {"name": _marked("Plan"), "daily_caps": "7, 77"})
    pending, token = await invite(workspace["id"], "zqinvitee@first.example", "marketer", owner["id"],
                                  "http://127.0.0.1:8000", 3600)
    [message] = await CapturedMessage.insert(CapturedMessage(
        workspace_id=workspace["id"], mail_from="zqsender@first.example", rcpt_to="zqrcpt@first.example",
        subject=_marked("Captured"), raw=b"Subject: ZqCapturedXv\r\n\r\nZq body Xv", created_at=datetime.now(UTC),
    )).returning(CapturedMessage.id)
    from pathlib import Path
    from tempfile import mkdtemp

    csv = write(Path(mkdtemp()) / "zqimport.csv", "email\nzqimported@first.example\n")
    imported = await upload(workspace["id"], mailing_list["id"], csv)
    from app.services.bounces.mailboxes import create_mailbox
    from app.services.sqlparams import fetch_positional

    mailbox = await create_mailbox(workspace["id"], {
        "name": _marked("Mailbox"), "kind": "bounce", "protocol": "imap", "host": "imap.zq.example", "port": "143",
        "security": "none", "username": "zquser", "password": "zq-secret", "folder": "INBOX", "after": "delete",
        "move_to": "", "poll_seconds": "60", "enabled": "on"})
    [bounce] = await fetch_positional(
        "INSERT INTO bounces (workspace_id, email, category, diagnostic) VALUES ($1, $2, 'unknown', $3) RETURNING id",
        [workspace["id"], "zqbounced@first.example", _marked("Diagnostic")])
    from app.services import transactional
    from app.services.api_keys import create_key
    from app.services.webhooks import endpoints as webhook_endpoints
    from app.services.webhooks import log as webhook_log

    key, _ = await create_key(workspace["id"], name=_marked("Key"), scopes=["admin"])
    endpoint, _ = await webhook_endpoints.create_endpoint(workspace["id"], {
        "url": "https://hooks.first.example/zq", "events": ["subscriber.subscribed"],
        "description": _marked("Endpoint")})
    delivery = await webhook_log.ping(workspace["id"], endpoint["id"])
    sent = await transactional.accept_message(
        workspace["id"], transactional.ContentInput(subject=_marked("Receipt"), html="<p>Zq receipt Xv</p>"),
        transactional.RecipientInput("zqbuyer@first.example"), transactional.Submission(key["id"]), _NoQueue())
    from app.services.automations import flows

    flow = await flows.create_flow(workspace["id"], {"name": _marked("Flow"), "steps": [
        {"id": "s1", "kind": "wait", "params": {"mode": "duration", "minutes": 60}, "next": None}]})
    analytics = await _analytics_rows(workspace["id"], mailing_list["id"], server["id"])
    ids = {
        **analytics,
        "flow_id": flow["id"], "step_id": "s1", "change": "up",
        "key_id": key["id"], "endpoint_id": endpoint["id"], "delivery_id": delivery["id"],
        "transactional_message_id": sent.id,
        "mailbox_id": mailbox["id"], "bounce_id": bounce["id"],
        "list_id": mailing_list["id"], "field_id": field["id"], "subscriber_id": subscriber["id"],
        "segment_id": segment["id"], "entry_id": entry["id"], "template_id": template["id"],
        "domain_id": domain["id"], "server_id": server["id"], "group_id": group["id"], "rule_id": rule["id"],
        "plan_id": plan["id"], "user_id": member["id"], "invite_id": pending["id"], "message_id": message["id"],
        "import_id": imported["id"], "workspace_id": workspace["id"], "token": token,
        "suppression_list_id": suppression["id"], "campaign_id": campaign["id"],
    }
    secrets = [_marked(name) for name in ("Workspace", "List", "Field", "Segment", "Suppression", "Template",
                                          "Subject", "Server", "Rule", "Plan", "Captured", "Campaign", "Mailbox",
                                          "Diagnostic", "Key", "Endpoint", "Receipt", "Flow", "Cost", "Scenario",
                                          "Source", "Column", "Card")]
    secrets += ["zqsubscriber@first.example", "zqsuppressed@first.example", "zqmember@first.example",
                "zqowner@first.example", "zqinvitee@first.example", "zqdomain.example", "zqimport.csv",
                "zqbuyer@first.example"]
    return FirstWorkspace(workspace, owner, ids, secrets)


async def _analytics_rows(workspace_id: int, list_id: int, server_id: int) -> dict[str, int]:
    """One of each Analytics thing a path names: a cost, a reconciliation record, a plan, intake and task rows."""
    from datetime import date

    from app.services import task_board
    from app.services.analytics import costs, scenarios
    from app.services.audit import Actor
    from app.services.intake import rules, sources
    from app.services.sqlparams import fetch_positional

    extra = await costs.add_extra(workspace_id, {"name": _marked("Cost"), "amount": "12.50", "recurrence": "monthly",
                                                 "on_date": date.today().isoformat()})
    [record] = await fetch_positional(
        "INSERT INTO everflow_reconciliation (workspace_id, kind, transaction_id, converted_at) "
        "VALUES ($1, 'missing_in_ignite', 'zq-walk', now()) RETURNING id", [workspace_id])
    scenario = await scenarios.run(workspace_id, {"name": _marked("Scenario"), "target": "1000", "days": "5",
                                                  f"include_{server_id}": "1"}, "walker")
    source = await sources.create_source(workspace_id, {"name": _marked("Source"), "bucket": "zq-bucket",
                                                        "enabled": "on"})
    rule = await rules.create_rule(workspace_id, source["id"], {"match": "name", "pattern": "*.csv", "kind": "mailable",
                                                               "list_id": str(list_id)})
    [intake_file] = await fetch_positional(
        "INSERT INTO intake_files (workspace_id, source_id, key) VALUES ($1, $2, 'zqdrops/zq.csv') RETURNING id",
        [workspace_id, source["id"]])
    column = await task_board.add_column(workspace_id, {"name": _marked("Column")})
    card = await task_board.create_card(workspace_id, {"column_id": str(column["id"]), "title": _marked("Card")},
                                        Actor(user_id=None, email="walker"))
    return {"extra_id": extra["id"], "record_id": record["id"], "scenario_id": scenario["id"],
            "source_id": source["id"], "file_rule_id": rule["id"], "file_id": intake_file["id"],
            "column_id": column["id"], "card_id": card["id"]}


class _NoQueue:
    """The walk's transactional message stays queued: nothing needs to send it."""

    def send_batch(self, workspace_id: int, campaign_id: int, first_id: int, last_id: int,
                   delay_seconds: float = 0.0) -> None:
        return None


def path_values_for(endpoint: Endpoint, ids: Mapping[str, Any]) -> dict[str, Any]:
    """Real ids for a path; a suppression route's `list_id` is the suppression list's."""
    values = dict(ids)
    if endpoint.path.startswith("/mailing/suppression/"):
        values["list_id"] = ids["suppression_list_id"]
    if endpoint.path.startswith("/mailing/transactional/"):
        values["message_id"] = ids["transactional_message_id"]
    values.setdefault("section", "lists")
    return values


def id_form(ids: Mapping[str, Any]) -> dict[str, Any]:
    """A form that names the first workspace's things in every field a handler reads an id from."""
    return {"list_id": ids["list_id"], "target_list": ids["list_id"], "ids": ids["subscriber_id"],
            "segment_id": ids["segment_id"], "domain_group_id": ids["group_id"], "plan_id": ids["plan_id"],
            "workspace_id": ids["workspace_id"], "server_id": ids["server_id"], "template_id": ids["template_id"],
            "suppression_list_id": ids["suppression_list_id"], "scope": "selection", "action": "delete",
            "status": "unsubscribed", "role": "owner", "name": "Walker", "email": "walker@second.example",
            f"weight_{ids['server_id']}": "10", "tag_name": "walked", "domain": "walker.example",
            "daily_caps": "1", "entries": "walker@second.example"}


def each_endpoint(app: Litestar, *, modules: set[str] | None = None) -> Iterator[Endpoint]:
    for endpoint in endpoints(app):
        if modules is None or endpoint.module in modules:
            yield endpoint
