"""Sending domains: add one, see the DNS records to publish, check them."""

from __future__ import annotations

from urllib.parse import urlparse

from litestar import Controller, Request, get, post
from litestar.exceptions import NotFoundException
from litestar.plugins.flash import flash
from litestar.response import Redirect, Template

from app.redis_client import get_redis
from app.routes.portals import section_context
from app.services import audit, sending_domains
from app.services.sending_domains import DomainError
from app.settings import get_settings
from app.web.auth import signed_in
from app.web.pages import actor_of, form_values


def _bounce_host() -> str:
    return urlparse(get_settings().base_url).hostname or "localhost"


class SendingDomainController(Controller):
    path = "/mailing/delivery/domains"
    guards = [signed_in]
    include_in_schema = False

    @get("/", name="sending_domains")
    async def index(self, request: Request) -> Template:
        return Template("mailing/domains/index.html", context={
            **section_context("mailing", "delivery"), "errors": {}, "form": {},
            "domains": await sending_domains.domains(request.state.viewer.workspace_id)})

    @post("/", opt={"action": "domains.manage"})
    async def add(self, request: Request) -> Template | Redirect:
        form = form_values(await request.form())
        workspace_id = request.state.viewer.workspace_id
        try:
            created = await sending_domains.add_domain(workspace_id, form.get("domain", ""),
                                                       form.get("selector", "") or "ignite")
        except DomainError as exc:
            return Template("mailing/domains/index.html", status_code=400, context={
                **section_context("mailing", "delivery"), "errors": exc.errors, "form": form,
                "domains": await sending_domains.domains(workspace_id)})
        await audit.record(get_redis(), workspace_id, actor_of(request), "domain.added", "domain", created["id"],
                           {"domain": created["domain"]})
        flash(request, "Domain added with a new DKIM key. Publish the records below, then check DNS.", "success")
        return Redirect(f"/mailing/delivery/domains/{created['id']}", status_code=303)

    @get("/{domain_id:int}", name="sending_domain")
    async def show(self, request: Request, domain_id: int) -> Template:
        domain = await sending_domains.get_domain(request.state.viewer.workspace_id, domain_id)
        if domain is None:
            raise NotFoundException()
        return Template("mailing/domains/show.html", context={
            **section_context("mailing", "delivery"), "domain": domain,
            "records": sending_domains.records_to_publish(domain, _bounce_host()), "checks": None})

    @post("/{domain_id:int}/check")
    async def check(self, request: Request, domain_id: int) -> Template:
        workspace_id = request.state.viewer.workspace_id
        domain = await sending_domains.get_domain(workspace_id, domain_id)
        if domain is None:
            raise NotFoundException()
        records = sending_domains.records_to_publish(domain, _bounce_host())
        checks = sending_domains.check_records(records, sending_domains.configured_resolver())
        await sending_domains.save_check(workspace_id, domain_id, checks)
        return Template("mailing/domains/partials/checks.html", context={"checks": checks})

    @post("/{domain_id:int}/delete", opt={"action": "domains.manage"})
    async def delete(self, request: Request, domain_id: int) -> Redirect:
        workspace_id = request.state.viewer.workspace_id
        try:
            await sending_domains.delete_domain(workspace_id, domain_id)
        except LookupError as exc:
            raise NotFoundException() from exc
        await audit.record(get_redis(), workspace_id, actor_of(request), "domain.deleted", "domain", domain_id)
        flash(request, "Domain removed.", "info")
        return Redirect("/mailing/delivery/domains", status_code=303)
