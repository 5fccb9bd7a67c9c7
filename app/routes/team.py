"""Workspace settings: members, roles, invitations, and the audit log."""

from __future__ import annotations

from litestar import Controller, Request, get, post
from litestar.response import Template
from redis.asyncio import Redis

from app.services import audit, team
from app.services.accounts import ROLES, Viewer
from app.settings import get_settings
from app.web.auth import signed_in
from app.web.pages import actor_of, is_htmx, page, submitted

TEAM = "settings/team.html"
TEAM_PARTIAL = "settings/partials/team.html"


async def _team_context(workspace_id: int) -> dict:
    return {"members": await team.members(workspace_id), "invites": await team.pending_invites(workspace_id),
            "roles": ROLES, "errors": {}, "form": {}}


async def _submitted_to_team(request: Request, workspace_id: int) -> dict[str, str]:
    """The posted form; a rejected one re-renders the team section (or page) with its message."""
    return await submitted(request, TEAM_PARTIAL if is_htmx(request) else TEAM,
                           lambda: _team_context(workspace_id))


async def _team_page(request: Request, workspace_id: int, notice: str = "") -> Template:
    """The team page or its section; `notice` is said inside the section, which is all HTMX replaces."""
    return page(request, TEAM, partial=TEAM_PARTIAL, notice=notice, **await _team_context(workspace_id))


class TeamController(Controller):
    path = "/settings"
    guards = [signed_in]
    include_in_schema = False

    @get("/team", name="team")
    async def show(self, request: Request, workspace_id: int) -> Template:
        return await _team_page(request, workspace_id)

    @post("/team/invites", opt={"action": "team.manage"})
    async def invite(self, request: Request, viewer: Viewer, workspace_id: int, redis: Redis) -> Template:
        form = await _submitted_to_team(request, workspace_id)
        settings = get_settings()
        async with audit.change(redis, workspace_id, actor_of(request)) as change:
            created, _ = await team.invite(workspace_id, form.get("email", ""), form.get("role", "marketer"),
                                           viewer.user_id, settings.base_url, settings.security.invite_ttl_seconds,
                                           by_role=viewer.role)
            change.note("invite.created", "invite", created["id"], {"role": created["role"]})
        return await _team_page(request, workspace_id, notice="Invitation sent.")

    @post("/team/invites/{invite_id:int}/revoke", opt={"action": "team.manage"})
    async def revoke(self, request: Request, invite_id: int, workspace_id: int, redis: Redis) -> Template:
        async with audit.change(redis, workspace_id, actor_of(request)) as change:
            await team.revoke_invite(workspace_id, invite_id)
            change.note("invite.revoked", "invite", invite_id)
        return await _team_page(request, workspace_id)

    @post("/team/members/{user_id:int}/role", opt={"action": "team.manage"})
    async def change_role(self, request: Request, user_id: int, viewer: Viewer, workspace_id: int,
                          redis: Redis) -> Template:
        form = await _submitted_to_team(request, workspace_id)
        role = form.get("role", "")
        async with audit.change(redis, workspace_id, actor_of(request)) as change:
            before = await team.change_role(workspace_id, user_id, role, by_role=viewer.role)
            change.note("member.role_changed", "user", user_id, {"from": before["role"], "to": role})
        return await _team_page(request, workspace_id)

    @post("/team/members/{user_id:int}/remove", opt={"action": "team.manage"})
    async def remove(self, request: Request, user_id: int, viewer: Viewer, workspace_id: int,
                     redis: Redis) -> Template:
        await _submitted_to_team(request, workspace_id)
        async with audit.change(redis, workspace_id, actor_of(request)) as change:
            await team.remove_member(workspace_id, user_id, by_role=viewer.role)
            change.note("member.removed", "user", user_id)
        return await _team_page(request, workspace_id)

    @get("/audit", name="audit_log", opt={"action": "audit.read"})
    async def audit_log(self, request: Request, workspace_id: int, before: int | None = None) -> Template:
        entries = await audit.recent_entries(workspace_id, before_id=before)
        older = entries[-1]["id"] if len(entries) == audit.PAGE_SIZE else None
        return page(request, "settings/audit.html", partial="settings/partials/audit_rows.html",
                    entries=entries, older=older)
