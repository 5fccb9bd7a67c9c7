"""Public pages for recipients: hosted subscribe forms, double opt-in confirmation, unsubscribe from everything."""

from __future__ import annotations

from litestar import Controller, Request, get, post
from litestar.response import Template

from app.services import custom_fields, subscriptions
from app.services.lists import ListError
from app.settings import get_settings
from app.web.auth import client_ip
from app.web.pages import form_values


class PublicFormController(Controller):
    include_in_schema = False

    async def _form_page(self, token: str, form: dict, errors: dict, status_code: int = 200) -> Template:
        secret = get_settings().security.secret_key
        list_id = subscriptions.list_id_from_form_token(secret, token)
        mailing_list = await subscriptions.public_list(list_id) if list_id else None
        if mailing_list is None:
            return Template("public/message.html", status_code=404, context={
                "title": "This form is not available", "message": "The list may have been archived or removed."})
        fields = [f for f in await custom_fields.fields_of(mailing_list["workspace_id"], list_id) if f["visible"]]
        return Template("public/subscribe.html", status_code=status_code, context={
            "mailing_list": mailing_list, "fields": fields, "token": token, "form": form, "errors": errors})

    @get("/s/{token:str}", name="public_form")
    async def form(self, token: str) -> Template:
        return await self._form_page(token, {}, {})

    @post("/s/{token:str}")
    async def submit(self, request: Request, token: str) -> Template:
        settings = get_settings()
        list_id = subscriptions.list_id_from_form_token(settings.security.secret_key, token)
        mailing_list = await subscriptions.public_list(list_id) if list_id else None
        form = form_values(await request.form())
        if mailing_list is None:
            return await self._form_page(token, form, {})
        try:
            outcome = await subscriptions.subscribe(settings, mailing_list, form, client_ip(request))
        except ListError as exc:
            return await self._form_page(token, form, exc.errors, status_code=400)
        name = mailing_list["display_name"] or mailing_list["name"]
        if outcome.needs_confirmation:
            return Template("public/message.html", context={
                "title": "Check your inbox", "message": f"We sent a link to confirm your subscription to {name}."})
        return Template("public/message.html",
                        context={"title": "Thank you!", "message": f"You are subscribed to {name}."})

    @get("/s/confirm/{token:str}")
    async def confirm(self, token: str) -> Template:
        mailing_list = await subscriptions.confirm(get_settings().security.secret_key, token)
        if mailing_list is None:
            return Template("public/message.html", status_code=410, context={
                "title": "This link has expired", "message": "Subscribe again to receive a fresh confirmation link."})
        name = mailing_list["display_name"] or mailing_list["name"]
        return Template("public/message.html", context={"title": "Subscription confirmed",
                                                        "message": f"Thank you! You are now subscribed to {name}."})

    @get("/u/{token:str}", name="unsubscribe")
    async def unsubscribe_page(self, token: str) -> Template:
        # A GET never unsubscribes: mail scanners follow links. The button posts.
        return Template("public/unsubscribe.html", context={"token": token, "done": False})

    @post("/u/{token:str}")
    async def unsubscribe(self, token: str) -> Template:
        changed = await subscriptions.unsubscribe_everywhere(get_settings().security.secret_key, token)
        if changed is None:
            return Template("public/message.html", status_code=400, context={
                "title": "This link is not valid", "message": "Use the unsubscribe link from a recent email."})
        return Template("public/unsubscribe.html", context={"token": token, "done": True})
