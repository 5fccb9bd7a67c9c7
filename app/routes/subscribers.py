"""Subscribers: the searchable table and its bulk actions, adding and editing, profiles with status changes,
privacy requests (GDPR export and erase)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date
from urllib.parse import urlencode

from litestar import Controller, Request, Response, get, post
from litestar.plugins.flash import flash
from litestar.response import Redirect, Template
from redis.asyncio import Redis

from app.routes.portals import section_context
from app.services import audit, custom_fields, lists, privacy, subscriber_actions, subscribers
from app.services.lists import STATUSES
from app.services.subscriber_actions import BulkOrder
from app.services.subscribers import SubscriberFilter
from app.services.subscribers.timeline import arrived_since, flow_paths, timeline, watermark
from app.services.suppression import mailable
from app.web.auth import signed_in
from app.web.pages import actor_of, form_values, is_htmx, on_form_error, page, submitted
from app.web.params import int_param, keyset_param

INDEX = "mailing/subscribers/index.html"
RESULTS = "mailing/subscribers/partials/results.html"
ROWS = "mailing/subscribers/partials/rows.html"
NEW = "mailing/subscribers/new.html"
FIELDS = "mailing/subscribers/partials/custom_fields.html"
PROFILE = "mailing/subscribers/profile.html"
PRIVACY = "mailing/subscribers/privacy.html"
TIMELINE_OLDER = "mailing/subscribers/partials/timeline_older.html"
TIMELINE_NEW = "mailing/subscribers/partials/timeline_new.html"


def _date(value: object) -> date | None:
    try:
        return date.fromisoformat(str(value or ""))
    except ValueError:
        return None


def filter_from(params: Mapping[str, str]) -> SubscriberFilter:
    """The table's filter from the query string, or from the bulk form's copy of it."""
    return SubscriberFilter(
        list_id=int_param(params, "list_id"), query=str(params.get("q") or ""), status=str(params.get("status") or ""),
        tag_id=int_param(params, "tag_id"), added_from=_date(params.get("added_from")),
        added_to=_date(params.get("added_to")), engagement=str(params.get("engagement") or ""),
    )


def _sort(params: Mapping[str, str]) -> str:
    return "email" if params.get("sort") == "email" else "newest"


def _table_query(chosen: SubscriberFilter, sort: str, columns: list[str]) -> str:
    """The query string of the table as shown: for its next pages and for coming back after a bulk action."""
    return urlencode({**chosen.as_params(), "sort": sort, "columns": columns}, doseq=True)


async def _table_context(workspace_id: int, params: Mapping[str, str], columns: list[str]) -> dict:
    chosen, sort = filter_from(params), _sort(params)
    table = await subscribers.table_page(workspace_id, chosen, sort, keyset_param(params, "after"))
    available = await subscribers.field_columns(workspace_id)
    return {
        "rows": table.rows, "cursor": table.cursor, "total": table.total, "chosen": chosen, "sort": sort,
        "columns": available, "shown_columns": [c for c in available if c["tag"] in columns],
        "query_string": _table_query(chosen, sort, columns),
    }


async def _index_context(workspace_id: int, params: Mapping[str, str], columns: list[str]) -> dict:
    return {
        **section_context("mailing", "subscribers"), **await _table_context(workspace_id, params, columns),
        "lists": await lists.lists_with_counts(workspace_id), "tags": await subscribers.workspace_tags(workspace_id),
        "statuses": STATUSES, "form": {}, "errors": {},
    }


async def _new_context(workspace_id: int, list_id: int | None) -> dict:
    all_lists = await lists.lists_with_counts(workspace_id)
    if not any(mailing_list["id"] == list_id for mailing_list in all_lists):
        list_id = all_lists[0]["id"] if all_lists else None
    return {**section_context("mailing", "subscribers"), "lists": all_lists, "list_id": list_id,
            "fields": await custom_fields.fields_of(workspace_id, list_id) if list_id else []}


def _stored_values(subscriber: dict) -> dict[str, str]:
    """The edit form filled in from the stored subscriber."""
    return {"email": subscriber["email"], "status": subscriber["status"],
            **{f"field_{key}": value for key, value in subscriber["fields"].items()}}


async def _profile_context(workspace_id: int, subscriber_id: int, older: tuple[str, int] | None = None) -> dict:
    subscriber = await subscribers.subscriber_of(workspace_id, subscriber_id)
    suppressed = await mailable.suppressions_of(workspace_id, [subscriber["email"]])
    return {
        **section_context("mailing", "subscribers"), "subscriber": subscriber,
        "mailing_list": await lists.get_list(workspace_id, subscriber["list_id"]),
        "fields": await custom_fields.fields_of(workspace_id, subscriber["list_id"]),
        "tags": await subscribers.tags_of(workspace_id, subscriber_id),
        "history": await subscribers.status_history(workspace_id, subscriber_id),
        "memberships": await subscribers.memberships(workspace_id, subscriber["email"]),
        # The watermark is taken before the page, so whatever lands in between is shown by the first poll.
        "watermark": await watermark(workspace_id, subscriber_id),
        "timeline": await timeline(workspace_id, subscriber_id, older),
        "flow_paths": await flow_paths(workspace_id, subscriber_id),
        "not_mailable": mailable.not_mailable_labels(subscriber["status"],
                                                     suppressed.get(subscriber["email"], [])),
        "not_mailable_reasons": await mailable.why_not_mailable(workspace_id, subscriber["email"]),
        "statuses": STATUSES, "errors": {}, "form": _stored_values(subscriber),
    }


def _subscriber_ids(texts: list[str]) -> list[int]:
    return [i for i in (int_param({"subscriber_id": text}, "subscriber_id") for text in texts) if i is not None]


def _privacy_context(asked: str) -> dict:
    """`asked`: which of the page's two forms was sent, so its message shows next to its own field."""
    return {**section_context("mailing", "subscribers"), "asked": asked, "form": {}, "errors": {}}


class SubscriberController(Controller):
    path = "/mailing/subscribers"
    guards = [signed_in]
    include_in_schema = False

    @get("/", name="subscribers")
    async def index(self, request: Request, workspace_id: int) -> Template:
        params = request.query_params
        columns = params.getall("columns", [])
        if params.get("after"):
            return page(request, ROWS, **await _table_context(workspace_id, params, columns))
        return page(request, INDEX, partial=RESULTS, **await _index_context(workspace_id, params, columns))

    @get("/count", name="subscriber_count")
    async def count(self, request: Request, workspace_id: int) -> dict[str, object]:
        """Every subscriber the filter matches, uncapped: the number a whole-filter action asks to confirm."""
        total = await subscribers.total(workspace_id, filter_from(request.query_params), cap=None)
        return {"count": total.count, "label": total.label}

    @post("/bulk")
    async def bulk(self, request: Request, workspace_id: int, redis: Redis) -> Redirect:
        posted = await request.form()
        values, columns = form_values(posted), posted.getall("columns", [])
        on_form_error(request, INDEX, lambda: _index_context(workspace_id, values, columns), values)
        chosen = filter_from(values)
        order = BulkOrder(
            action=values.get("action", ""), scope=values.get("scope", ""), chosen=chosen,
            ids=_subscriber_ids(posted.getall("ids", [])), tag_name=values.get("tag_name", ""),
            target_list=int_param(values, "target_list"), confirmed_count=int_param(values, "confirmed_count"),
        )
        async with audit.change(redis, workspace_id, actor_of(request)) as change:
            outcome = await subscriber_actions.apply(workspace_id, order)
            change.note(f"subscribers.{outcome.action}", "subscribers", "",
                        {"affected": outcome.affected, "scope": order.scope})
        flash(request, outcome.message, "success")
        return Redirect(f"/mailing/subscribers?{_table_query(chosen, _sort(values), columns)}", status_code=303)

    @get("/new")
    async def new(self, request: Request, workspace_id: int) -> Template:
        context = await _new_context(workspace_id, int_param(request.query_params, "list_id"))
        return page(request, NEW, partial=FIELDS, **context, form={}, errors={})

    @post("/")
    async def create(self, request: Request, workspace_id: int, redis: Redis) -> Redirect:
        values = form_values(await request.form())
        list_id = int_param(values, "list_id")
        on_form_error(request, NEW, lambda: _new_context(workspace_id, list_id), values)
        async with audit.change(redis, workspace_id, actor_of(request)) as change:
            created = await subscribers.add_subscriber(workspace_id, list_id, values,
                                                       status=values.get("status", "confirmed"))
            change.note("subscriber.created", "subscriber", created["id"])
        flash(request, "Subscriber added.", "success")
        return Redirect(f"/mailing/subscribers/{created['id']}", status_code=303)

    @get("/{subscriber_id:int}", name="subscriber_profile")
    async def profile(self, workspace_id: int, subscriber_id: int) -> Template:
        return Template(PROFILE, context=await _profile_context(workspace_id, subscriber_id))

    @get("/{subscriber_id:int}/timeline", name="subscriber_timeline")
    async def timeline_page(self, request: Request, workspace_id: int, subscriber_id: int) -> Template:
        """The page of the timeline below the `older` cursor: appended rows for HTMX, else the whole profile."""
        older = keyset_param(request.query_params, "older")
        if not is_htmx(request):
            return Template(PROFILE, context=await _profile_context(workspace_id, subscriber_id, older))
        return Template(TIMELINE_OLDER, context={"timeline": await timeline(workspace_id, subscriber_id, older),
                                                 "subscriber": {"id": subscriber_id}})

    @get("/{subscriber_id:int}/timeline/new", name="subscriber_timeline_new")
    async def timeline_new(self, request: Request, workspace_id: int, subscriber_id: int) -> Response | Template:
        """What arrived after the page's watermark (`since`), for the live timeline; 204 when nothing did."""
        since = keyset_param(request.query_params, "since") or ("", 0)
        entries, after = await arrived_since(workspace_id, subscriber_id, since)
        if not entries:
            return Response(content=b"", status_code=204)
        return Template(TIMELINE_NEW, context={"entries": entries, "watermark": after})

    @post("/{subscriber_id:int}")
    async def update(self, request: Request, subscriber_id: int, workspace_id: int, redis: Redis) -> Redirect:
        form = await submitted(request, PROFILE, lambda: _profile_context(workspace_id, subscriber_id))
        async with audit.change(redis, workspace_id, actor_of(request)) as change:
            await subscribers.update_subscriber(workspace_id, subscriber_id, form)
            change.note("subscriber.updated", "subscriber", subscriber_id)
        flash(request, "Saved.", "success")
        return Redirect(f"/mailing/subscribers/{subscriber_id}", status_code=303)

    @post("/{subscriber_id:int}/status")
    async def set_status(self, request: Request, subscriber_id: int, workspace_id: int, redis: Redis) -> Redirect:
        subscriber = await subscribers.subscriber_of(workspace_id, subscriber_id)
        posted = form_values(await request.form())
        # The edit form on the same page keeps the stored values; only the status shows what was sent.
        on_form_error(request, PROFILE, lambda: _profile_context(workspace_id, subscriber_id),
                      {**_stored_values(subscriber), **posted})
        status = posted.get("status", "")
        async with audit.change(redis, workspace_id, actor_of(request)) as change:
            changed = await subscribers.set_status(workspace_id, subscriber_id, status,
                                                   f"manual:{request.state.viewer.email}")
            if changed:
                change.note("subscriber.status_changed", "subscriber", subscriber_id,
                            {"from": subscriber["status"], "to": status})
        flash(request, f"Status set to {status}." if changed else f"The status was already {status}.",
              "success" if changed else "info")
        return Redirect(f"/mailing/subscribers/{subscriber_id}", status_code=303)

    @get("/privacy", name="privacy")
    async def privacy_page(self) -> Template:
        return Template(PRIVACY, context=_privacy_context(""))

    @get("/privacy/export", opt={"action": "export"})
    async def privacy_export(self, request: Request, workspace_id: int, redis: Redis) -> Response:
        typed = str(request.query_params.get("email") or "")
        on_form_error(request, PRIVACY, _privacy_context("export"), {"email": typed})
        address = await subscribers.address_on_file(workspace_id, typed)
        async with audit.change(redis, workspace_id, actor_of(request)) as change:
            data = await privacy.person_export(workspace_id, address)
            change.note("privacy.exported", "email", privacy.mask_email(address))
        return Response(json.dumps(data, default=str, indent=2), media_type="application/json",
                        headers={"Content-Disposition": 'attachment; filename="subscriber-data.json"'})

    @post("/privacy/erase")
    async def privacy_erase(self, request: Request, workspace_id: int, redis: Redis) -> Redirect:
        form = await submitted(request, PRIVACY, _privacy_context("erase"))
        address = await subscribers.address_on_file(workspace_id, form.get("email", ""))
        async with audit.change(redis, workspace_id, actor_of(request)) as change:
            erased = await privacy.erase_person(workspace_id, address)
            change.note("privacy.erased", "email", privacy.mask_email(address), {"subscriptions": erased})
        flash(request, f"Erased {erased} subscription(s) of that address; its events were anonymised.", "success")
        return Redirect("/mailing/subscribers/privacy", status_code=303)
