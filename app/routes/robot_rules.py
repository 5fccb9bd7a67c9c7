"""Workspace settings: the robot rules that set machine opens and bot clicks apart (/settings/robots)."""

from __future__ import annotations

from litestar import Controller, Request, get, post
from litestar.plugins.flash import flash
from litestar.response import Redirect, Template
from redis.asyncio import Redis

from app.services import audit
from app.services.tracking import robot_rules
from app.web.auth import signed_in
from app.web.pages import actor_of, submitted

INDEX = "settings/robot_rules.html"
FORM = "settings/robot_rules_form.html"
HOME = "/settings/robots"
# Robot rules decide what the statistics of every campaign count: the same people as sending settings.
MANAGE = {"action": "tracking.manage"}


def _form_context(rule: dict | None) -> dict:
    return {"rule": rule, "kinds": robot_rules.KINDS, "applies": robot_rules.APPLIES_TO}


def _done(request: Request, message: str) -> Redirect:
    flash(request, message, "success")
    return Redirect(HOME, status_code=303)


class RobotRulesController(Controller):
    path = HOME
    guards = [signed_in]
    include_in_schema = False

    @get("/", name="robot_rules")
    async def index(self, workspace_id: int) -> Template:
        return Template(INDEX, context={"rules": await robot_rules.rules_of(workspace_id),
                                        "kinds": robot_rules.KINDS, "applies": robot_rules.APPLIES_TO})

    @get("/new", opt=MANAGE)
    async def new(self) -> Template:
        return Template(FORM, context={**_form_context(None), "errors": {},
                                       "form": {"kind": "user_agent", "applies_to": "both", "enabled": "on"}})

    @post("/", opt=MANAGE)
    async def create(self, request: Request, workspace_id: int, redis: Redis) -> Redirect:
        form = await submitted(request, FORM, _form_context(None))
        async with audit.change(redis, workspace_id, actor_of(request)) as change:
            created = await robot_rules.create_rule(workspace_id, form)
            change.note("robot_rule.created", "robot_rule", created["id"], {"name": created["name"]})
        applies = robot_rules.APPLIES_TO.get(created["applies_to"], "").lower()
        return _done(request, f"Rule “{created['name']}” added: it applies to {applies} from now on.")

    @get("/{rule_id:int}/edit", opt=MANAGE)
    async def edit(self, workspace_id: int, rule_id: int) -> Template:
        rule = await robot_rules.rule_of(workspace_id, rule_id)
        return Template(FORM, context={**_form_context(rule), "errors": {}, "form": robot_rules.form_of(rule)})

    @post("/{rule_id:int}", opt=MANAGE)
    async def update(self, request: Request, workspace_id: int, rule_id: int, redis: Redis) -> Redirect:
        rule = await robot_rules.rule_of(workspace_id, rule_id)
        form = await submitted(request, FORM, _form_context(rule))
        async with audit.change(redis, workspace_id, actor_of(request)) as change:
            updated = await robot_rules.update_rule(workspace_id, rule_id, form)
            change.note("robot_rule.updated", "robot_rule", rule_id, {"name": updated["name"]})
        return _done(request, f"Rule “{updated['name']}” saved.")

    @post("/{rule_id:int}/enabled", opt=MANAGE)
    async def set_enabled(self, request: Request, workspace_id: int, rule_id: int, redis: Redis) -> Redirect:
        enabled = (await request.form()).get("enabled") == "1"
        async with audit.change(redis, workspace_id, actor_of(request)) as change:
            rule = await robot_rules.set_enabled(workspace_id, rule_id, enabled)
            change.note("robot_rule.enabled" if enabled else "robot_rule.disabled", "robot_rule", rule_id,
                        {"name": rule["name"]})
        return _done(request, f"Rule “{rule['name']}” {'enabled' if enabled else 'disabled'}.")

    @post("/{rule_id:int}/delete", opt=MANAGE)
    async def delete(self, request: Request, workspace_id: int, rule_id: int, redis: Redis) -> Redirect:
        async with audit.change(redis, workspace_id, actor_of(request)) as change:
            deleted = await robot_rules.delete_rule(workspace_id, rule_id)
            change.note("robot_rule.deleted", "robot_rule", rule_id, {"name": deleted["name"]})
        return _done(request, f"Rule “{deleted['name']}” deleted. Events it flagged keep their kind.")

    @post("/restore", opt=MANAGE)
    async def restore(self, request: Request, workspace_id: int, redis: Redis) -> Redirect:
        async with audit.change(redis, workspace_id, actor_of(request)) as change:
            added = await robot_rules.restore_defaults(workspace_id)
            change.note("robot_rule.defaults_restored", "workspace", workspace_id, {"added": added})
        return _done(request, f"{added} default rule{'' if added == 1 else 's'} restored." if added
                     else "Every default rule is already there.")
