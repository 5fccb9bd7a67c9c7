"""Analytics → Revenue → Everflow: the network's conversion records pulled on a schedule, reconciled with postbacks.

The connection (API key, address, timezone, on or off) is the admins' (`tracking.manage`); acting on the
reconciliation list (record a missing conversion in Ignite, dismiss a row, pull now) is a marketer's change;
analysts read the list and export it.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.response import Stream, Template
from redis.asyncio import Redis

from app.routes.portals import entering, permitted, section_context
from app.services import audit
from app.services.accounts import Viewer
from app.services.analytics import everflow, reconciliation
from app.services.analytics.periods import last_days, period_from
from app.services.analytics.reconciliation import Filters
from app.services.forms import FormError
from app.services.tracking.offers import workspace_settings
from app.web.auth import signed_in
from app.web.downloads import csv_download
from app.web.pages import actor_of, form_values, is_htmx, on_form_error, page, submitted
from app.web.permissions import CHANGE

PAGE = "analytics/everflow/page.html"
CONNECTION = "analytics/everflow/partials/connection.html"
BODY = "analytics/everflow/partials/body.html"
LIST = "analytics/everflow/partials/list.html"
MANAGE = {"action": "tracking.manage"}
DEFAULT_DAYS = 30
FILTER_FIELDS = ("since", "until", "state", "kind")


def _filters(values: dict[str, str]) -> Filters:
    """The list's filters from a query or a row's form; FormError names the field at fault."""
    return reconciliation.filters_from(period_from(values, DEFAULT_DAYS), values.get("state", "open"),
                                       values.get("kind", ""))


async def _context(viewer: Viewer, workspace_id: int, filters: Filters | None = None, after: str = "",
                   **extra: Any) -> dict[str, Any]:
    filters = filters or Filters(last_days(DEFAULT_DAYS))
    connection = await everflow.connection(workspace_id)
    return {
        **section_context("analytics", "revenue"), "connection": connection, "filters": filters, "after": after,
        "form": {"base_url": connection["base_url"], "timezone_id": connection["timezone_id"],
                 "enabled": connection["enabled"]},
        "query": {"since": filters.period.since.isoformat(), "until": filters.period.until.isoformat(),
                  "state": filters.state, "kind": filters.kind},
        "errors": {}, "row_errors": {}, "notice": "", "list_notice": "", "test_result": "", "test_error": "",
        "counts": await reconciliation.open_counts(workspace_id),
        "page": await reconciliation.records_page(workspace_id, filters, after),
        "kinds": reconciliation.KINDS, "states": reconciliation.STATES,
        "grace_minutes": int(reconciliation.GRACE.total_seconds() // 60),
        "currency": (await workspace_settings(workspace_id))["currency"],
        "can": permitted(viewer, "tracking.manage", CHANGE), **extra,
    }


async def _list(request: Request, viewer: Viewer, workspace_id: int, values: dict[str, str],
                **extra: Any) -> Template:
    """The list again with the filters the acting form carried (the defaults if they no longer parse)."""
    try:
        filters = _filters(values)
    except FormError:
        filters = None
    status = 422 if extra.get("row_errors") else 200
    return page(request, PAGE, partial=LIST, status_code=status,
                **await _context(viewer, workspace_id, filters, **extra))


class EverflowController(Controller):
    path = "/analytics/revenue/everflow"
    guards = [signed_in]
    include_in_schema = False

    @get("/", name="everflow")
    async def index(self, request: Request, viewer: Viewer, workspace_id: int, after: str = "") -> Template:
        await entering(viewer, "analytics")
        values = {name: value for name, value in request.query_params.items() if name in FILTER_FIELDS}
        on_form_error(request, PAGE, lambda: _context(viewer, workspace_id), values)
        filters = _filters(values)
        return page(request, PAGE, partial=LIST, **await _context(viewer, workspace_id, filters, after))

    @get("/export.csv", name="everflow_export")
    async def export(self, request: Request, workspace_id: int) -> Stream:
        filters = _filters({name: value for name, value in request.query_params.items() if name in FILTER_FIELDS})
        return csv_download(reconciliation.export_csv(workspace_id, filters), "everflow-reconciliation.csv")

    @post("/connection", opt=MANAGE)
    async def save_connection(self, request: Request, viewer: Viewer, workspace_id: int, redis: Redis) -> Template:
        form = await submitted(request, CONNECTION if is_htmx(request) else PAGE,
                               lambda: _context(viewer, workspace_id))
        async with audit.change(redis, workspace_id, actor_of(request)) as change:
            saved = await everflow.save_connection(workspace_id, form)
            # The key itself never reaches the audit trail: only whether one was pasted.
            change.note("everflow.connection_saved", "workspace", workspace_id,
                        {"base_url": saved["base_url"], "timezone_id": saved["timezone_id"],
                         "enabled": saved["enabled"], "key_replaced": bool(form.get("api_key", "").strip())})
        return page(request, PAGE, partial=CONNECTION,
                    **await _context(viewer, workspace_id, notice="Everflow connection saved."))

    @post("/connection/test", opt=MANAGE)
    async def test_connection(self, request: Request, viewer: Viewer, workspace_id: int) -> Template:
        try:
            outcome = {"test_result": await everflow.check_connection(workspace_id)}
        except everflow.EverflowError as error:
            outcome = {"test_error": str(error)}
        return page(request, PAGE, partial=CONNECTION, **await _context(viewer, workspace_id, **outcome))

    @post("/pull")
    async def pull_now(self, request: Request, viewer: Viewer, workspace_id: int) -> Template:
        result = await everflow.pull(workspace_id)
        notice = "" if result.error else f"Pulled {result.records} records from Everflow ({result.new} new)."
        return page(request, PAGE, partial=BODY, **await _context(viewer, workspace_id, notice=notice))

    @post("/records/{record_id:int}/record")
    async def record(self, request: Request, viewer: Viewer, workspace_id: int, record_id: int,
                     redis: Redis) -> Template:
        values = form_values(await request.form())
        try:
            await reconciliation.record_in_ignite(redis, workspace_id, record_id, viewer.email)
        except FormError as error:
            return await _list(request, viewer, workspace_id, values, row_errors={record_id: str(error)})
        return await _list(request, viewer, workspace_id, values,
                                 list_notice="Conversion recorded in Ignite.")

    @post("/records/{record_id:int}/dismiss")
    async def dismiss(self, request: Request, viewer: Viewer, workspace_id: int, record_id: int) -> Template:
        values = form_values(await request.form())
        try:
            await reconciliation.dismiss(workspace_id, record_id, viewer.email)
        except FormError as error:
            return await _list(request, viewer, workspace_id, values, row_errors={record_id: str(error)})
        return await _list(request, viewer, workspace_id, values, list_notice="Dismissed.")
