"""Sending domains: add one, see the DNS records to publish, check them."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from litestar import Controller, Request, get, post
from litestar.plugins.flash import flash
from litestar.response import Redirect, Template
from redis.asyncio import Redis

from app.routes.portals import section_context
from app.services import audit, sending_domains
from app.settings import get_settings
from app.web.auth import signed_in
from app.web.pages import actor_of, submitted

INDEX = "mailing/domains/index.html"


def _bounce_host() -> str:
    return urlparse(get_settings().base_url).hostname or "localhost"


async def _index_context(workspace_id: int) -> dict[str, Any]:
    return {**section_context("mailing", "delivery"), "domains": await sending_domains.domains(workspace_id)}


class SendingDomainController(Controller):
    path = "/mailing/delivery/domains"
    guards = [signed_in]
    include_in_schema = False

    @get("/", name="sending_domains")
    async def index(self, workspace_id: int) -> Template:
        return Template(INDEX, context={**await _index_context(workspace_id), "errors": {}, "form": {}})

    @post("/", opt={"action": "domains.manage"})
    async def add(self, request: Request, workspace_id: int, redis: Redis) -> Redirect:
        form = await submitted(request, INDEX, lambda: _index_context(workspace_id))
        async with audit.change(redis, workspace_id, actor_of(request)) as change:
            created = await sending_domains.add_from_form(workspace_id, form)
            change.note("domain.added", "domain", created["id"], {"domain": created["domain"]})
        flash(request, "Domain added with a new DKIM key. Publish the records below, then check DNS.", "success")
        return Redirect(f"/mailing/delivery/domains/{created['id']}", status_code=303)

    @get("/{domain_id:int}", name="sending_domain")
    async def show(self, workspace_id: int, domain_id: int) -> Template:
        domain = await sending_domains.owned_domain(workspace_id, domain_id)
        return Template("mailing/domains/show.html", context={
            **section_context("mailing", "delivery"), "domain": domain,
            "records": sending_domains.records_to_publish(domain, _bounce_host()), "checks": None})

    @post("/{domain_id:int}/check")
    async def check(self, workspace_id: int, domain_id: int) -> Template:
        checks = await sending_domains.check_domain(workspace_id, domain_id, _bounce_host())
        return Template("mailing/domains/partials/checks.html", context={"checks": checks})

    @post("/{domain_id:int}/delete", opt={"action": "domains.manage"})
    async def delete(self, request: Request, domain_id: int, workspace_id: int, redis: Redis) -> Redirect:
        async with audit.change(redis, workspace_id, actor_of(request)) as change:
            await sending_domains.delete_domain(workspace_id, domain_id)
            change.note("domain.deleted", "domain", domain_id)
        flash(request, "Domain removed.", "info")
        return Redirect("/mailing/delivery/domains", status_code=303)
