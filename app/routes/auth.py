"""Sign in and out, password reset and change, accepting an invitation."""

from __future__ import annotations

import time

from litestar import Controller, Request, get, post
from litestar.plugins.flash import flash
from litestar.response import Redirect, Template
from redis.asyncio import Redis

from app.services import accounts, audit, lockout, password_resets, public_limits, team
from app.services.accounts import Viewer
from app.services.audit import Actor
from app.services.system_mail import account_mail_problem
from app.settings import get_settings
from app.web.auth import client_ip, safe_next, signed_in
from app.web.pages import actor_of, submitted
from app.web.sessions import rotate_session

LOGIN = "auth/login.html"
FORGOT = "auth/forgot.html"
RESET = "auth/reset.html"
INVITE = "auth/invite.html"
PASSWORD = "settings/password.html"


def _policy() -> lockout.LockoutPolicy:
    security = get_settings().security
    return lockout.LockoutPolicy(security.login_max_failures, security.login_lockout_seconds)


def _forgot_context(sent: bool = False) -> dict:
    return {"errors": {}, "form": {}, "sent": sent, "unavailable": account_mail_problem(get_settings())}


async def _start_session(request: Request, user: dict, signed_in_at: float) -> None:
    workspace_id = await accounts.last_workspace_id(user["id"])
    viewer = await accounts.viewer_for(user["id"], workspace_id)
    rotate_session(request, {"user_id": user["id"], "workspace_id": viewer.workspace_id if viewer else None,
                             "signed_in_at": signed_in_at})


class AuthController(Controller):
    include_in_schema = False

    @get("/login", name="login")
    async def login_form(self, request: Request, next: str = "/") -> Template | Redirect:
        if request.session.get("user_id"):
            return Redirect(safe_next(next))
        return Template(LOGIN, context={"next": safe_next(next), "errors": {}, "form": {}})

    @post("/login")
    async def login(self, request: Request, redis: Redis) -> Redirect:
        form = await submitted(request, LOGIN, {})
        ip = client_ip(request)
        await public_limits.admit(redis, public_limits.LOGIN, ip)
        user = await lockout.authenticated_user(redis, _policy(), form.get("email", "").strip(),
                                                form.get("password", ""), ip, time.time())
        await _start_session(request, user, time.time())
        workspace_id = request.session["workspace_id"]
        if workspace_id:
            await audit.record(redis, workspace_id, Actor(user["id"], user["email"], ip), "user.login")
        return Redirect(safe_next(form.get("next")), status_code=303)

    @post("/logout", name="logout")
    async def logout(self, request: Request) -> Redirect:
        rotate_session(request, {})
        flash(request, "You are signed out.", category="info")
        return Redirect("/login", status_code=303)

    @post("/account/sign-out-everywhere", guards=[signed_in], opt={"action": "self"})
    async def sign_out_everywhere(self, request: Request, viewer: Viewer, redis: Redis) -> Redirect:
        await lockout.sign_out_everywhere(redis, viewer.user_id, time.time())
        await audit.record(redis, viewer.workspace_id, actor_of(request), "user.signed_out_everywhere",
                           "user", viewer.user_id)
        rotate_session(request, {})
        flash(request, "You are signed out on every device.", category="info")
        return Redirect("/login", status_code=303)

    @get("/account/password", guards=[signed_in], opt={"action": "self"}, name="change_password")
    async def password_form(self) -> Template:
        return Template(PASSWORD, context={"errors": {}, "form": {}})

    @post("/account/password", guards=[signed_in], opt={"action": "self"})
    async def change_password(self, request: Request, viewer: Viewer, redis: Redis) -> Redirect:
        form = await submitted(request, PASSWORD, {})
        now = time.time()
        await password_resets.change_password(redis, viewer.user_id, form.get("current_password", ""),
                                              form.get("password", ""), form.get("confirm", ""),
                                              get_settings().base_url, now)
        # Every other session ended at `now`; this one goes on, renewed from that moment.
        rotate_session(request, {"user_id": viewer.user_id, "workspace_id": viewer.workspace_id, "signed_in_at": now})
        await audit.record(redis, viewer.workspace_id, actor_of(request), "user.password_changed", "user",
                           viewer.user_id)
        flash(request, "Your password was changed. Your other sessions were signed out.", category="success")
        return Redirect("/settings/team", status_code=303)

    @get("/password/forgot")
    async def forgot_form(self) -> Template:
        return Template(FORGOT, context=_forgot_context())

    @post("/password/forgot")
    async def forgot(self, request: Request, redis: Redis) -> Template:
        form = await submitted(request, FORGOT, _forgot_context())
        email = form.get("email", "")
        await public_limits.admit(redis, public_limits.FORGOT_PASSWORD, client_ip(request), email)
        settings = get_settings()
        await password_resets.start_password_reset(email, settings.base_url,
                                                   settings.security.password_reset_ttl_seconds)
        # The same answer whether or not the address has an account.
        return Template(FORGOT, context=_forgot_context(sent=True))

    @get("/password/reset/{token:str}")
    async def reset_form(self, token: str) -> Template:
        usable = await password_resets.usable_reset(token) is not None
        return Template(RESET, context={"token": token, "usable": usable, "errors": {}, "form": {}},
                        status_code=200 if usable else 410)

    @post("/password/reset/{token:str}")
    async def reset(self, request: Request, token: str, redis: Redis) -> Redirect:
        async def context() -> dict:
            return {"token": token, "usable": await password_resets.usable_reset(token) is not None}

        form = await submitted(request, RESET, context)
        await public_limits.admit(redis, public_limits.RESET_PASSWORD, client_ip(request))
        await password_resets.complete_password_reset(redis, token, form.get("password", ""),
                                                      form.get("confirm", ""), get_settings().base_url, time.time())
        flash(request, "Your password was changed and every session of your account was signed out. "
                       "Sign in with the new one.", category="success")
        return Redirect("/login", status_code=303)

    @get("/invite/{token:str}")
    async def invite_form(self, token: str) -> Template:
        invitation = await team.open_invite(token)
        return Template(INVITE, context={"token": token, "invite": invitation, "errors": {}, "form": {}},
                        status_code=200 if invitation else 410)

    @post("/invite/{token:str}")
    async def accept_invite(self, request: Request, token: str, redis: Redis) -> Redirect:
        invitation = await team.open_invite(token)
        form = await submitted(request, INVITE, {"token": token, "invite": invitation})
        ip = client_ip(request)
        await public_limits.admit(redis, public_limits.ACCEPT_INVITE, ip, token)
        user = await team.accept_invite(token, form.get("name", ""), form.get("password", ""))
        await _start_session(request, user, time.time())
        await audit.record(redis, user["workspace_id"], Actor(user["id"], user["email"], ip),
                           "member.joined", "user", user["id"], {"role": user["role"]})
        flash(request, f"Welcome to {invitation['workspace_name']}.", category="success")
        return Redirect("/", status_code=303)
