"""Public pages for recipients: hosted subscribe forms, double opt-in confirmation, unsubscribe from everything."""

from __future__ import annotations

from litestar import Controller, Request, get, post
from litestar.response import Template
from redis.asyncio import Redis

from app.services import custom_fields, subscriptions
from app.settings import get_settings
from app.web.auth import client_ip
from app.web.pages import submitted

SUBSCRIBE = "public/subscribe.html"
MESSAGE = "public/message.html"


def _unavailable() -> Template:
    return Template(MESSAGE, status_code=404, context={
        "title": "This form is not available", "message": "The list may have been archived or removed."})


async def _list_behind(token: str) -> dict | None:
    list_id = subscriptions.list_id_from_form_token(get_settings().security.secret_key, token)
    return await subscriptions.public_list(list_id) if list_id else None


async def _form_context(mailing_list: dict, token: str) -> dict:
    fields = await custom_fields.fields_of(mailing_list["workspace_id"], mailing_list["id"])
    return {"mailing_list": mailing_list, "fields": [f for f in fields if f["visible"]], "token": token,
            "honeypot": subscriptions.HONEYPOT, "form": {}, "errors": {}}


class PublicFormController(Controller):
    include_in_schema = False

    @get("/s/{token:str}", name="public_form")
    async def form(self, token: str) -> Template:
        mailing_list = await _list_behind(token)
        if mailing_list is None:
            return _unavailable()
        return Template(SUBSCRIBE, context=await _form_context(mailing_list, token))

    @post("/s/{token:str}")
    async def submit(self, request: Request, token: str, redis: Redis) -> Template:
        mailing_list = await _list_behind(token)
        if mailing_list is None:
            return _unavailable()
        form = await submitted(request, SUBSCRIBE, await _form_context(mailing_list, token))
        outcome = await subscriptions.subscribe(get_settings(), redis, mailing_list, form, client_ip(request))
        name = mailing_list["display_name"] or mailing_list["name"]
        if outcome.needs_confirmation:
            return Template(MESSAGE, context={
                "title": "Check your inbox", "message": f"We sent a link to confirm your subscription to {name}."})
        return Template(MESSAGE, context={"title": "Thank you!", "message": f"You are subscribed to {name}."})

    @get("/s/confirm/{token:str}")
    async def confirm(self, request: Request, token: str, redis: Redis) -> Template:
        mailing_list = await subscriptions.confirm(redis, get_settings().security.secret_key, token,
                                                   client_ip(request))
        if mailing_list is None:
            return Template(MESSAGE, status_code=410, context={
                "title": "This link has expired", "message": "Subscribe again to receive a fresh confirmation link."})
        name = mailing_list["display_name"] or mailing_list["name"]
        return Template(MESSAGE, context={"title": "Subscription confirmed",
                                          "message": f"Thank you! You are now subscribed to {name}."})

    @get("/u/{token:str}", name="unsubscribe")
    async def unsubscribe_page(self, token: str) -> Template:
        # A GET never unsubscribes: mail scanners follow links. The button posts.
        return Template("public/unsubscribe.html", context={"token": token, "done": False})

    @post("/u/{token:str}")
    async def unsubscribe(self, request: Request, token: str, redis: Redis) -> Template:
        changed = await subscriptions.unsubscribe_everywhere(redis, get_settings().security.secret_key, token,
                                                             client_ip(request))
        if changed is None:
            return Template(MESSAGE, status_code=400, context={
                "title": "This link is not valid", "message": "Use the unsubscribe link from a recent email."})
        return Template("public/unsubscribe.html", context={"token": token, "done": True})
