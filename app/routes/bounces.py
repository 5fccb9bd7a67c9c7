"""Mailing → Bounces: the bounce log (search, filters, the raw report, reclassifying an unknown one) and the
workspace's rules (add, edit, disable, reorder; the built-in ones listed read-only)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.plugins.flash import flash
from litestar.response import Redirect, Template
from redis.asyncio import Redis

from app.routes.portals import section_context
from app.services import audit
from app.services.bounces import log, rules
from app.services.bounces.log import LogFilter
from app.services.bounces.model import CATEGORIES, UNKNOWN
from app.web.auth import signed_in
from app.web.pages import actor_of, page, submitted
from app.web.params import int_param

LOG = "mailing/bounces/log.html"
LOG_ROWS = "mailing/bounces/partials/log_rows.html"
REPORT = "mailing/bounces/log_report.html"
RULES = "mailing/bounces/rules.html"
RULE_EDIT = "mailing/bounces/rules_edit.html"
MANAGE = {"action": "delivery.manage"}


def _common() -> dict[str, Any]:
    return {**section_context("mailing", "bounces"), "categories": CATEGORIES,
            "category_words": rules.CATEGORY_WORDS, "action_words": log.ACTION_WORDS, "errors": {}, "form": {}}


def _filter(request: Request) -> LogFilter:
    query = request.query_params
    return LogFilter(q=str(query.get("q") or "")[:320], category=str(query.get("category") or ""),
                     server_id=int_param(query, "server_id"), campaign_id=int_param(query, "campaign_id"),
                     rule=str(query.get("rule") or "")[:128])


async def _rule_names(workspace_id: int) -> dict[str, str]:
    """`workspace-rule:<id>` as the log stores it → the rule's name."""
    return {f"workspace-rule:{row['id']}": row["name"] for row in await rules.workspace_rules(workspace_id)}


async def _report_context(workspace_id: int, bounce_id: int) -> dict[str, Any]:
    return {**_common(), **await log.report_text(workspace_id, bounce_id),
            "reclassify_to": [c for c in CATEGORIES if c != UNKNOWN]}


async def _rules_context(workspace_id: int) -> dict[str, Any]:
    return {**_common(), "rules": await rules.workspace_rules(workspace_id), "built_in": rules.built_in_rules()}


class BounceLogController(Controller):
    path = "/mailing/bounces"
    guards = [signed_in]
    include_in_schema = False

    @get("/", name="bounce_log")
    async def index(self, request: Request, workspace_id: int) -> Template:
        chosen = _filter(request)
        before = int_param(request.query_params, "before")
        rows, cursor = await log.log_page(workspace_id, chosen, before)
        return page(request, LOG, partial=LOG_ROWS, **_common(), rows=rows, cursor=cursor, chosen=chosen,
                    before=before, choices=await log.filter_choices(workspace_id),
                    rule_names=await _rule_names(workspace_id))

    @get("/{bounce_id:int}", name="bounce_report")
    async def report(self, workspace_id: int, bounce_id: int) -> Template:
        return Template(REPORT, context=await _report_context(workspace_id, bounce_id))

    @post("/{bounce_id:int}/reclassify", opt=MANAGE)
    async def reclassify(self, request: Request, workspace_id: int, bounce_id: int, redis: Redis) -> Redirect:
        form = await submitted(request, REPORT, lambda: _report_context(workspace_id, bounce_id))
        bounce = await log.reclassify(workspace_id, bounce_id, form)
        await audit.record(redis, workspace_id, actor_of(request), "bounces.reclassified", "bounce", bounce_id,
                           {"category": bounce["category"]})
        flash(request, f"Reclassified as {rules.CATEGORY_WORDS[bounce['category']].lower()}: "
                       f"{log.ACTION_WORDS.get(bounce['action_taken'], bounce['action_taken']).lower()}.", "success")
        return Redirect(f"/mailing/bounces/{bounce_id}", status_code=303)

    @get("/rules", name="bounce_rules")
    async def rules_page(self, workspace_id: int) -> Template:
        return Template(RULES, context=await _rules_context(workspace_id))

    @post("/rules", opt=MANAGE)
    async def create_rule(self, request: Request, workspace_id: int, redis: Redis) -> Redirect:
        form = await submitted(request, RULES, lambda: _rules_context(workspace_id))
        async with audit.change(redis, workspace_id, actor_of(request)) as change:
            rule = await rules.create_rule(workspace_id, form)
            change.note("bounces.rule_created", "bounce_rule", rule["id"], {"name": rule["name"]})
        flash(request, f"Rule “{rule['name']}” added. It applies to the next report processed.", "success")
        return Redirect("/mailing/bounces/rules", status_code=303)

    @get("/rules/{rule_id:int}/edit", name="bounce_rule_edit")
    async def edit_rule(self, workspace_id: int, rule_id: int) -> Template:
        rule = await rules.rule_of(workspace_id, rule_id)
        return Template(RULE_EDIT, context={**_common(), "rule": rule, "form": rule})

    @post("/rules/{rule_id:int}", opt=MANAGE)
    async def update_rule(self, request: Request, workspace_id: int, rule_id: int, redis: Redis) -> Redirect:
        async def context() -> dict[str, Any]:
            return {**_common(), "rule": await rules.rule_of(workspace_id, rule_id)}

        form = await submitted(request, RULE_EDIT, context)
        async with audit.change(redis, workspace_id, actor_of(request)) as change:
            rule = await rules.update_rule(workspace_id, rule_id, form)
            change.note("bounces.rule_changed", "bounce_rule", rule_id, {"name": rule["name"]})
        flash(request, f"Rule “{rule['name']}” saved.", "success")
        return Redirect("/mailing/bounces/rules", status_code=303)

    @post("/rules/{rule_id:int}/enabled", opt=MANAGE)
    async def toggle_rule(self, request: Request, workspace_id: int, rule_id: int, redis: Redis) -> Redirect:
        form = await request.form()
        enabled = form.get("enabled") == "1"
        async with audit.change(redis, workspace_id, actor_of(request)) as change:
            rule = await rules.set_enabled(workspace_id, rule_id, enabled)
            change.note("bounces.rule_changed", "bounce_rule", rule_id, {"enabled": enabled})
        flash(request, f"Rule “{rule['name']}” {'enabled' if enabled else 'disabled'}.", "success")
        return Redirect("/mailing/bounces/rules", status_code=303)

    @post("/rules/{rule_id:int}/move", opt=MANAGE)
    async def move_rule(self, request: Request, workspace_id: int, rule_id: int) -> Redirect:
        form = await request.form()
        await rules.move_rule(workspace_id, rule_id, up=form.get("direction") == "up")
        return Redirect("/mailing/bounces/rules", status_code=303)

    @post("/rules/{rule_id:int}/delete", opt=MANAGE)
    async def delete_rule(self, request: Request, workspace_id: int, rule_id: int, redis: Redis) -> Redirect:
        async with audit.change(redis, workspace_id, actor_of(request)) as change:
            rule = await rules.delete_rule(workspace_id, rule_id)
            change.note("bounces.rule_deleted", "bounce_rule", rule_id, {"name": rule["name"]})
        flash(request, f"Rule “{rule['name']}” deleted.", "success")
        return Redirect("/mailing/bounces/rules", status_code=303)
