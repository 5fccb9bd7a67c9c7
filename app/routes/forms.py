"""Public pages for recipients: hosted subscribe forms, double opt-in confirmation, unsubscribe and preferences.

No GET here changes anything: link scanners fetch every link of a message. Confirmation and unsubscribe
links open a page whose button posts; RFC 8058 one-click posts `List-Unsubscribe=One-Click` to the
unsubscribe link and gets a line of text, no page. The token in the URL stands in for a CSRF token.
"""

from __future__ import annotations

from litestar import Controller, Request, Response, get, post
from litestar.response import Template
from redis.asyncio import Redis

from app.services import custom_fields, subscriptions
from app.services.tracking import preferences, recipients
from app.services.tracking.recipients import Recipient, Visit
from app.settings import get_settings
from app.web.auth import client_ip
from app.web.pages import submitted

SUBSCRIBE = "public/subscribe.html"
MESSAGE = "public/message.html"
CONFIRM = "public/confirm.html"
UNSUBSCRIBE = "public/unsubscribe.html"
PREFERENCES = "public/preferences.html"


def _unavailable() -> Template:
    return Template(MESSAGE, status_code=404, context={
        "title": "This form is not available", "message": "The list may have been archived or removed."})


def _invalid_link() -> Template:
    return Template(MESSAGE, status_code=404, context={
        "title": "This link is not valid", "message": "Use the link from a recent email."})


def _visit(request: Request, via: str) -> Visit:
    return Visit(via, client_ip(request), request.headers.get("user-agent", ""))


async def _unsubscribe_context(recipient: Recipient, token: str) -> dict:
    rows = await recipients.memberships(recipient)
    return {"token": token, "email": recipient.email, "done": False,
            "this_lists": [row.list_name for row in recipients.message_lists(recipient, rows)],
            "subscribed": sum(row.subscribed for row in rows), "form": {}, "errors": {}}


async def _preferences_context(recipient: Recipient, token: str) -> dict:
    shown = await preferences.preference_form(recipient)
    return {"token": token, "email": recipient.email, "lists": shown.lists, "fields": shown.fields,
            "form": shown.values, "errors": {}, "saved": None}


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
    async def confirmation(self, request: Request, token: str, redis: Redis) -> Template:
        found = await subscriptions.confirmation(redis, get_settings().security.secret_key, token,
                                                 client_ip(request))
        return _confirmation_page(found, token)

    @post("/s/confirm/{token:str}", status_code=200)
    async def confirm(self, request: Request, token: str, redis: Redis) -> Template:
        found = await subscriptions.confirm(redis, get_settings().security.secret_key, token, client_ip(request))
        return _confirmation_page(found, token)

    @get("/u/{token:str}", name="unsubscribe")
    async def unsubscribe_page(self, request: Request, token: str, redis: Redis) -> Template:
        recipient = await recipients.recipient_to_show(redis, get_settings(), token, client_ip(request))
        if recipient is None:
            return _invalid_link()
        return Template(UNSUBSCRIBE, context=await _unsubscribe_context(recipient, token))

    @post("/u/{token:str}", status_code=200)
    async def unsubscribe(self, request: Request, token: str, redis: Redis) -> Response:
        """The page's buttons post a `scope`; anything else is a one-click unsubscribe from the message's lists
        (every list for a link that names no message). The RFC 8058 body gets plain text, not a page."""
        recipient = await recipients.recipient_to_change(redis, get_settings(), token, client_ip(request))
        if recipient is None:
            return _invalid_link()
        form = await submitted(request, UNSUBSCRIBE, lambda: _unsubscribe_context(recipient, token))
        asked = form.get("scope", "")
        left = await recipients.unsubscribe(redis, recipient, asked or recipients.one_click_scope(recipient),
                                            _visit(request, "page" if asked else "one-click"))
        if form.get("List-Unsubscribe") == "One-Click":
            return Response("You are unsubscribed.\n", media_type="text/plain")
        return Template(UNSUBSCRIBE, context={"token": token, "email": recipient.email, "done": True, "left": left})

    @get("/u/{token:str}/preferences")
    async def preferences_page(self, request: Request, token: str, redis: Redis) -> Template:
        recipient = await recipients.recipient_to_show(redis, get_settings(), token, client_ip(request))
        if recipient is None:
            return _invalid_link()
        return Template(PREFERENCES, context=await _preferences_context(recipient, token))

    @post("/u/{token:str}/preferences", status_code=200)
    async def save_preferences(self, request: Request, token: str, redis: Redis) -> Template:
        recipient = await recipients.recipient_to_change(redis, get_settings(), token, client_ip(request))
        if recipient is None:
            return _invalid_link()
        form = await submitted(request, PREFERENCES, lambda: _preferences_context(recipient, token))
        saved = await preferences.save_preferences(redis, recipient, form, _visit(request, "preferences"))
        return Template(PREFERENCES, context={**await _preferences_context(recipient, token), "saved": saved})


def _confirmation_page(found: subscriptions.Confirmation | None, token: str) -> Template:
    if found is None:
        return Template(MESSAGE, status_code=410, context={
            "title": "This link has expired", "message": "Subscribe again to receive a fresh confirmation link."})
    mailing_list = found.mailing_list
    return Template(CONFIRM, context={"token": token, "done": found.done,
                                      "name": mailing_list["display_name"] or mailing_list["name"]})
