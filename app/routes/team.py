"""Workspace settings: members, roles, invitations, and the audit log."""

from __future__ import annotations

from litestar import Controller, Request, get, post
from litestar.exceptions import NotFoundException, PermissionDeniedException
from litestar.plugins.flash import flash
from litestar.response import Redirect, Template

from app.redis_client import get_redis
from app.services import audit, team
from app.services.accounts import ROLES, AccountError
from app.settings import get_settings
from app.web.auth import signed_in
from app.web.pages import actor_of, form_errors, page


async def _team_page(request: Request, errors: dict | None = None, form: dict | None = None,
                     status_code: int = 200) -> Template:
    workspace_id = request.state.viewer.workspace_id
    return page(
        request, "settings/team.html", partial="settings/partials/team.html", status_code=status_code,
        members=await team.members(workspace_id), invites=await team.pending_invites(workspace_id),
        roles=ROLES, errors=errors or {}, form=form or {},
    )


class TeamController(Controller):
    path = "/settings"
    guards = [signed_in]
    include_in_schema = False

    @get("/team", name="team")
    async def show(self, request: Request) -> Template:
        return await _team_page(request)

    @post("/team/invites", opt={"action": "team.manage"})
    async def invite(self, request: Request) -> Template:
        form = await request.form()
        values = {"email": str(form.get("email", "")).strip(), "role": str(form.get("role", "marketer"))}
        viewer = request.state.viewer
        if values["role"] == "owner" and viewer.role != "owner":
            return await _team_page(request, {"role": "Only an owner can invite another owner."}, values, 400)
        settings = get_settings()
        try:
            invite, _ = await team.invite(viewer.workspace_id, values["email"], values["role"], viewer.user_id,
                                          settings.base_url, settings.security.invite_ttl_seconds)
        except AccountError as exc:
            return await _team_page(request, form_errors(exc, "email"), values, 400)
        await audit.record(get_redis(), viewer.workspace_id, actor_of(request), "invite.created", "invite",
                           invite["id"], {"role": values["role"]})
        flash(request, "Invitation sent.", category="success")
        return await _team_page(request)

    @post("/team/invites/{invite_id:int}/revoke", opt={"action": "team.manage"})
    async def revoke(self, request: Request, invite_id: int) -> Template:
        viewer = request.state.viewer
        try:
            await team.revoke_invite(viewer.workspace_id, invite_id)
        except LookupError as exc:
            raise NotFoundException() from exc
        await audit.record(get_redis(), viewer.workspace_id, actor_of(request), "invite.revoked", "invite", invite_id)
        return await _team_page(request)

    @post("/team/members/{user_id:int}/role", opt={"action": "team.manage"})
    async def change_role(self, request: Request, user_id: int) -> Template:
        form = await request.form()
        role = str(form.get("role", ""))
        viewer = request.state.viewer
        current = await team.member_role(viewer.workspace_id, user_id)
        if current is None:
            raise NotFoundException()
        if "owner" in (role, current) and viewer.role != "owner":
            raise PermissionDeniedException("Only an owner can grant or take away the owner role.")
        try:
            before = await team.change_role(viewer.workspace_id, user_id, role)
        except LookupError as exc:
            raise NotFoundException() from exc
        except AccountError as exc:
            return await _team_page(request, form_errors(exc), status_code=400)
        await audit.record(get_redis(), viewer.workspace_id, actor_of(request), "member.role_changed", "user",
                           user_id, {"from": before["role"], "to": role})
        return await _team_page(request)

    @post("/team/members/{user_id:int}/remove", opt={"action": "team.manage"})
    async def remove(self, request: Request, user_id: int) -> Template | Redirect:
        viewer = request.state.viewer
        if await team.member_role(viewer.workspace_id, user_id) == "owner" and viewer.role != "owner":
            raise PermissionDeniedException("Only an owner can remove an owner.")
        try:
            await team.remove_member(viewer.workspace_id, user_id)
        except LookupError as exc:
            raise NotFoundException() from exc
        except AccountError as exc:
            return await _team_page(request, form_errors(exc), status_code=400)
        await audit.record(get_redis(), viewer.workspace_id, actor_of(request), "member.removed", "user", user_id)
        return await _team_page(request)

    @get("/audit", name="audit_log", opt={"action": "audit.read"})
    async def audit_log(self, request: Request, before: int | None = None) -> Template:
        entries = await audit.recent_entries(request.state.viewer.workspace_id, before_id=before)
        older = entries[-1]["id"] if len(entries) == audit.PAGE_SIZE else None
        return page(request, "settings/audit.html", partial="settings/partials/audit_rows.html",
                    entries=entries, older=older)
