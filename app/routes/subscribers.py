"""Subscribers: the searchable table, bulk actions, add/edit, the profile page, GDPR export and erase."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.plugins.flash import flash
from litestar.response import Redirect, Template

from app.redis_client import get_redis
from app.routes.portals import section_context
from app.services import audit, custom_fields, lists, privacy, subscriber_actions, subscribers, suppression
from app.services.lists import STATUSES, ListError
from app.services.subscribers import SubscriberFilter
from app.web.auth import signed_in
from app.web.pages import actor_of, form_values, page


def _int(value: object) -> int | None:
    try:
        return int(str(value))
    except ValueError:
        return None


def _date(value: object) -> date | None:
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        return None


def filter_from(params: Any) -> SubscriberFilter:
    return SubscriberFilter(
        list_id=_int(params.get("list_id", "")), query=str(params.get("q", "")), status=str(params.get("status", "")),
        tag_id=_int(params.get("tag_id", "")), added_from=_date(params.get("added_from", "")),
        added_to=_date(params.get("added_to", "")), engagement=str(params.get("engagement", "")),
    )



class SubscriberController(Controller):
    path = "/mailing/subscribers"
    guards = [signed_in]
    include_in_schema = False

    @get("/", name="subscribers")
    async def index(self, request: Request) -> Template:
        workspace_id = request.state.viewer.workspace_id
        params = request.query_params
        chosen = filter_from(params)
        sort = "email" if params.get("sort") == "email" else "newest"
        rows, cursor = await subscribers.search(workspace_id, chosen, sort, str(params.get("after", "")))
        return page(
            request, "mailing/subscribers/index.html", partial="mailing/subscribers/partials/rows.html",
            **section_context("mailing", "subscribers"), rows=rows, cursor=cursor, chosen=chosen, sort=sort,
            lists=await lists.lists_with_counts(workspace_id), tags=await subscribers.workspace_tags(workspace_id),
            statuses=STATUSES, query_string=request.url.query,
        )

    @post("/bulk")
    async def bulk(self, request: Request) -> Redirect:
        form = await request.form()
        workspace_id = request.state.viewer.workspace_id
        action = str(form.get("action", ""))
        if form.get("scope") == "filter":
            chosen = filter_from(form)
        else:
            ids = [i for i in (_int(v) for v in form.getall("ids", [])) if i]
            if not ids:
                flash(request, "Select at least one subscriber, or apply the action to the whole filter.", "error")
                return Redirect(f"/mailing/subscribers?{form.get('return_query', '')}", status_code=303)
            chosen = SubscriberFilter(ids=ids)
        try:
            affected = await self._apply(workspace_id, action, chosen, form)
        except ListError as exc:
            flash(request, "; ".join(exc.errors.values()), "error")
            return Redirect(f"/mailing/subscribers?{form.get('return_query', '')}", status_code=303)
        await audit.record(get_redis(), workspace_id, actor_of(request), f"subscribers.{action}", "subscribers", "",
                           {"affected": affected, "scope": str(form.get("scope", "selection"))})
        flash(request, f"{action.capitalize()}: {affected:,} subscriber(s).", "success")
        return Redirect(f"/mailing/subscribers?{form.get('return_query', '')}", status_code=303)

    async def _apply(self, workspace_id: int, action: str, chosen: SubscriberFilter, form: Any) -> int:
        if action == "tag":
            return await subscriber_actions.tag(workspace_id, chosen, str(form.get("tag_name", "")))
        if action == "untag":
            return await subscriber_actions.untag(workspace_id, chosen, str(form.get("tag_name", "")))
        if action in ("move", "copy"):
            target = _int(form.get("target_list", "")) or 0
            operation = subscriber_actions.move_to_list if action == "move" else subscriber_actions.copy_to_list
            return await operation(workspace_id, chosen, target)
        if action == "unsubscribe":
            return await subscriber_actions.unsubscribe(workspace_id, chosen, "bulk-action")
        if action == "delete":
            return await subscriber_actions.delete(workspace_id, chosen)
        raise ListError({"action": "Choose an action."})

    @get("/new")
    async def new(self, request: Request) -> Template:
        workspace_id = request.state.viewer.workspace_id
        all_lists = await lists.lists_with_counts(workspace_id)
        list_id = _int(request.query_params.get("list_id", "")) or (all_lists[0]["id"] if all_lists else None)
        fields = await custom_fields.fields_of(workspace_id, list_id) if list_id else []
        return page(request, "mailing/subscribers/new.html", partial="mailing/subscribers/partials/custom_fields.html",
                    **section_context("mailing", "subscribers"), lists=all_lists, list_id=list_id, fields=fields,
                    form={}, errors={})

    @post("/")
    async def create(self, request: Request) -> Template | Redirect:
        form = form_values(await request.form())
        workspace_id = request.state.viewer.workspace_id
        list_id = _int(form.get("list_id", ""))
        mailing_list = await lists.get_list(workspace_id, list_id) if list_id else None
        all_lists = await lists.lists_with_counts(workspace_id)
        try:
            if mailing_list is None:
                raise ListError({"list_id": "Choose a list."})
            created = await subscribers.add_subscriber(workspace_id, mailing_list["id"], form,
                                                       status=form.get("status", "confirmed"))
        except ListError as exc:
            fields = await custom_fields.fields_of(workspace_id, list_id) if mailing_list else []
            return Template("mailing/subscribers/new.html", status_code=400, context={
                **section_context("mailing", "subscribers"), "lists": all_lists, "list_id": list_id,
                "fields": fields, "form": form, "errors": exc.errors})
        await audit.record(get_redis(), workspace_id, actor_of(request), "subscriber.created", "subscriber",
                           created["id"])
        flash(request, "Subscriber added.", "success")
        return Redirect(f"/mailing/subscribers/{created['id']}", status_code=303)

    @get("/{subscriber_id:int}", name="subscriber_profile")
    async def profile(self, request: Request, subscriber_id: int) -> Template:
        return await self._profile(request, subscriber_id, {}, None)

    async def _profile(self, request: Request, subscriber_id: int, errors: dict, form: dict | None,
                       status_code: int = 200) -> Template:
        workspace_id = request.state.viewer.workspace_id
        subscriber = await subscribers.get_subscriber(workspace_id, subscriber_id)
        if subscriber is None:
            raise NotFoundException()
        return Template("mailing/subscribers/profile.html", status_code=status_code, context={
            **section_context("mailing", "subscribers"), "subscriber": subscriber,
            "mailing_list": await lists.get_list(workspace_id, subscriber["list_id"]),
            "fields": await custom_fields.fields_of(workspace_id, subscriber["list_id"]),
            "tags": await subscribers.tags_of(workspace_id, subscriber_id),
            "history": await subscribers.status_history(workspace_id, subscriber_id),
            "memberships": await subscribers.memberships(workspace_id, subscriber["email"]),
            "activity": await subscribers.activity(workspace_id, subscriber_id),
            "not_mailable": await suppression.why_not_mailable(workspace_id, subscriber["email"]),
            "statuses": STATUSES, "errors": errors,
            "form": form or {"email": subscriber["email"],
                             **{f"field_{k}": v for k, v in subscriber["fields"].items()}},
        })

    @post("/{subscriber_id:int}")
    async def update(self, request: Request, subscriber_id: int) -> Template | Redirect:
        form = form_values(await request.form())
        workspace_id = request.state.viewer.workspace_id
        try:
            await subscribers.update_subscriber(workspace_id, subscriber_id, form)
        except LookupError as exc:
            raise NotFoundException() from exc
        except ListError as exc:
            return await self._profile(request, subscriber_id, exc.errors, form, status_code=400)
        await audit.record(get_redis(), workspace_id, actor_of(request), "subscriber.updated", "subscriber",
                           subscriber_id)
        flash(request, "Saved.", "success")
        return Redirect(f"/mailing/subscribers/{subscriber_id}", status_code=303)

    @post("/{subscriber_id:int}/status")
    async def set_status(self, request: Request, subscriber_id: int) -> Redirect:
        form = await request.form()
        workspace_id = request.state.viewer.workspace_id
        if await subscribers.get_subscriber(workspace_id, subscriber_id) is None:
            raise NotFoundException()
        status = str(form.get("status", ""))
        try:
            await subscribers.change_status(workspace_id, SubscriberFilter(ids=[subscriber_id]), status,
                                            f"manual:{request.state.viewer.email}")
        except ListError as exc:
            flash(request, "; ".join(exc.errors.values()), "error")
        else:
            await audit.record(get_redis(), workspace_id, actor_of(request), "subscriber.status_changed",
                               "subscriber", subscriber_id, {"to": status})
            flash(request, f"Status set to {status}.", "success")
        return Redirect(f"/mailing/subscribers/{subscriber_id}", status_code=303)

    @get("/privacy", name="privacy")
    async def privacy_page(self) -> Template:
        return Template("mailing/subscribers/privacy.html", context={**section_context("mailing", "subscribers")})

    @get("/privacy/export")
    async def privacy_export(self, request: Request, email: str) -> Response:
        workspace_id = request.state.viewer.workspace_id
        data = await privacy.person_export(workspace_id, email)
        await audit.record(get_redis(), workspace_id, actor_of(request), "privacy.exported", "email",
                           privacy.mask_email(email))
        return Response(json.dumps(data, default=str, indent=2), media_type="application/json",
                        headers={"Content-Disposition": 'attachment; filename="subscriber-data.json"'})

    @post("/privacy/erase")
    async def privacy_erase(self, request: Request) -> Redirect:
        form = await request.form()
        email = str(form.get("email", ""))
        workspace_id = request.state.viewer.workspace_id
        erased = await privacy.erase_person(workspace_id, email)
        await audit.record(get_redis(), workspace_id, actor_of(request), "privacy.erased", "email",
                           privacy.mask_email(email), {"subscriptions": erased})
        flash(request, f"Erased {erased} subscription(s) of that address; its events were anonymised.", "success")
        return Redirect("/mailing/subscribers/privacy", status_code=303)
