"""Sign in and out, password reset, accepting an invitation."""

from __future__ import annotations

import time

from litestar import Controller, Request, get, post
from litestar.plugins.flash import flash
from litestar.response import Redirect, Template

from app.redis_client import get_redis
from app.services import accounts, audit, lockout, password_resets, team
from app.services.accounts import AccountError
from app.services.audit import Actor
from app.settings import get_settings
from app.web.auth import client_ip, safe_next, signed_in
from app.web.pages import actor_of, form_errors
from app.web.sessions import rotate_session


def _policy() -> lockout.LockoutPolicy:
    security = get_settings().security
    return lockout.LockoutPolicy(security.login_max_failures, security.login_lockout_seconds)


async def _start_session(request: Request, user: dict) -> None:
    workspace_id = await accounts.last_workspace_id(user["id"])
    viewer = await accounts.viewer_for(user["id"], workspace_id)
    rotate_session(request, {"user_id": user["id"], "workspace_id": viewer.workspace_id if viewer else None,
                             "signed_in_at": time.time()})


class AuthController(Controller):
    include_in_schema = False

    @get("/login", name="login")
    async def login_form(self, request: Request, next: str = "/") -> Template | Redirect:
        if request.session.get("user_id"):
            return Redirect(safe_next(next))
        return Template("auth/login.html", context={"next": safe_next(next), "errors": {}, "email": ""})

    @post("/login")
    async def login(self, request: Request) -> Template | Redirect:
        form = await request.form()
        email = str(form.get("email", "")).strip()
        password = str(form.get("password", ""))
        target = safe_next(str(form.get("next", "/")))
        ip = client_ip(request)
        redis = get_redis()
        policy = _policy()

        def again(message: str, status: int) -> Template:
            return Template("auth/login.html", context={"next": target, "email": email,
                            "errors": {"__all__": message}}, status_code=status)

        if await lockout.is_locked(redis, policy, email, ip):
            minutes = policy.window_seconds // 60
            return again(f"Too many failed attempts. Try again in {minutes} minutes or reset your password.", 429)
        user = await accounts.authenticate(email, password)
        if user is None:
            await lockout.record_failure(redis, policy, email, ip)
            return again("That email and password do not match an account.", 400)
        await lockout.clear_failures(redis, email, ip)
        await _start_session(request, user)
        workspace_id = request.session["workspace_id"]
        if workspace_id:
            await audit.record(redis, workspace_id, Actor(user["id"], user["email"], ip), "user.login")
        return Redirect(target, status_code=303)

    @post("/logout", name="logout")
    async def logout(self, request: Request) -> Redirect:
        rotate_session(request, {})
        flash(request, "You are signed out.", category="info")
        return Redirect("/login", status_code=303)

    @post("/account/sign-out-everywhere", guards=[signed_in], opt={"action": "self"})
    async def sign_out_everywhere(self, request: Request) -> Redirect:
        viewer = request.state.viewer
        await lockout.sign_out_everywhere(get_redis(), viewer.user_id, time.time())
        await audit.record(get_redis(), viewer.workspace_id, actor_of(request), "user.signed_out_everywhere",
                           "user", viewer.user_id)
        rotate_session(request, {})
        flash(request, "You are signed out on every device.", category="info")
        return Redirect("/login", status_code=303)

    @get("/password/forgot")
    async def forgot_form(self) -> Template:
        return Template("auth/forgot.html", context={"errors": {}, "sent": False})

    @post("/password/forgot")
    async def forgot(self, request: Request) -> Template:
        form = await request.form()
        settings = get_settings()
        await password_resets.start_password_reset(
            str(form.get("email", "")), settings.base_url, settings.security.password_reset_ttl_seconds
        )
        # The same answer whether or not the address has an account.
        return Template("auth/forgot.html", context={"errors": {}, "sent": True})

    @get("/password/reset/{token:str}")
    async def reset_form(self, token: str) -> Template:
        usable = await password_resets.usable_reset(token) is not None
        return Template("auth/reset.html", context={"token": token, "usable": usable, "errors": {}},
                        status_code=200 if usable else 410)

    @post("/password/reset/{token:str}")
    async def reset(self, request: Request, token: str) -> Template | Redirect:
        form = await request.form()
        password = str(form.get("password", ""))
        if password != str(form.get("confirm", "")):
            return Template("auth/reset.html", context={"token": token, "usable": True,
                            "errors": {"confirm": "The two passwords differ."}}, status_code=400)
        try:
            await password_resets.complete_password_reset(token, password)
        except AccountError as exc:
            usable = await password_resets.usable_reset(token) is not None
            return Template("auth/reset.html", context={"token": token, "usable": usable,
                            "errors": form_errors(exc)}, status_code=400)
        flash(request, "Your password was changed. Sign in with the new one.", category="success")
        return Redirect("/login", status_code=303)

    @get("/invite/{token:str}")
    async def invite_form(self, token: str) -> Template:
        invitation = await team.open_invite(token)
        return Template("auth/invite.html", context={"token": token, "invite": invitation, "errors": {}},
                        status_code=200 if invitation else 410)

    @post("/invite/{token:str}")
    async def accept_invite(self, request: Request, token: str) -> Template | Redirect:
        form = await request.form()
        invitation = await team.open_invite(token)
        try:
            user = await team.accept_invite(token, str(form.get("name", "")), str(form.get("password", "")))
        except AccountError as exc:
            return Template("auth/invite.html", context={"token": token, "invite": invitation,
                            "errors": form_errors(exc)}, status_code=400)
        await _start_session(request, user)
        await audit.record(get_redis(), user["workspace_id"], Actor(user["id"], user["email"], client_ip(request)),
                           "member.joined", "user", user["id"], {"role": user["role"]})
        flash(request, f"Welcome to {invitation['workspace_name']}.", category="success")
        return Redirect("/", status_code=303)
