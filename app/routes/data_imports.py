"""Analytics → Data imports: the S3 intake monitor (sources' live status, the files taken in with their quality,
sources and file rules) above every import into the workspace, page by page, with its health."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from litestar import Controller, Request, get, post
from litestar.plugins.flash import flash
from litestar.response import Redirect, Stream, Template
from redis.asyncio import Redis

from app.routes.portals import entering, permitted, section_context
from app.services import audit, data_imports, lists, suppression
from app.services.accounts import Viewer, now
from app.services.analytics.periods import last_days, period_from
from app.services.forms import FormError
from app.services.intake import files, rules, sources
from app.tasks.intake import poll_source
from app.web.auth import signed_in
from app.web.downloads import csv_download
from app.web.pages import actor_of, submitted
from app.web.permissions import CHANGE

BASE = "/analytics/data-imports"
INDEX = "analytics/data_imports.html"
STATUS = "analytics/intake/partials/status.html"
SOURCE_FORM = "analytics/intake/source_form.html"
RULE_FORM = "analytics/intake/rule_form.html"
FILE = "analytics/intake/file.html"
FILES = "analytics/intake/partials/files.html"
MANAGE = {"action": "delivery.manage"}
HISTORY_DAYS = 30
NEW_SOURCE = {"poll_minutes": sources.DEFAULT_POLL_MINUTES, "quiet_hours": sources.DEFAULT_QUIET_HOURS,
              "enabled": True}
NEW_RULE = {"match": "name", "kind": "mailable"}


async def _status(workspace_id: int) -> dict[str, Any]:
    at = now()
    rows = await sources.sources(workspace_id)
    return {"sources": [{**row, "health": sources.health(row, at)} for row in rows],
            "alerts": [row for row in rows if row["alert"]]}


async def _filters(workspace_id: int, query: dict[str, str]) -> tuple[files.Filters, dict[str, str]]:
    """The history's filters from the query; a bad date is a message next to its field (the last 30 days shown)."""
    errors: dict[str, str] = {}
    try:
        period = period_from(query, default_days=HISTORY_DAYS)
    except FormError as exc:
        errors, period = exc.errors, last_days(HISTORY_DAYS)
    source_id = None
    if query.get("source_id"):
        source_id = (await sources.get_source(workspace_id, _number(query["source_id"])))["id"]
    status = query.get("status", "")
    return files.Filters(period, source_id, status if status in files.STATUSES else ""), errors


async def _files(workspace_id: int, query: dict[str, str]) -> dict[str, Any]:
    """The history's files for the query, its filters and their messages, and the query its refresh repeats."""
    filters, errors = await _filters(workspace_id, query)
    kept = {key: query[key] for key in ("since", "until", "source_id", "status", "files_before") if query.get(key)}
    return {"files": await files.file_page(workspace_id, filters, query.get("files_before")), "filters": filters,
            "errors": errors, "files_query": urlencode(kept)}


def _number(text: str) -> int:
    return int(text) if text.isdigit() else 0


async def _rule_context(workspace_id: int, source: dict, rule: dict | None) -> dict[str, Any]:
    return {**section_context("analytics", "data-imports"), "source": source, "rule": rule, "kinds": rules.KINDS,
            "matches": rules.MATCHES, "lists": await lists.lists_with_counts(workspace_id),
            "suppression_lists": await suppression.all_lists(workspace_id)}


class DataImportsController(Controller):
    path = BASE
    guards = [signed_in]
    include_in_schema = False

    @get("/", name="data_imports")
    async def index(self, request: Request, viewer: Viewer, workspace_id: int, before: int | None = None
                    ) -> Template:
        await entering(viewer, "analytics")
        query = {key: str(value) for key, value in request.query_params.items()}
        history = await _files(workspace_id, query)
        return Template(INDEX, status_code=422 if history["errors"] else 200, context={
            **section_context("analytics", "data-imports"), "before": before, **await _status(workspace_id),
            "page": await data_imports.import_page(workspace_id, before_id=before), **history,
            "form": query, "statuses": files.STATUSES, "can": permitted(viewer, CHANGE, "delivery.manage"),
        })

    @get("/status")
    async def status(self, workspace_id: int) -> Template:
        return Template(STATUS, context=await _status(workspace_id))

    @get("/files")
    async def files_now(self, request: Request, workspace_id: int) -> Template:
        """The history's table as it stands, for the page's refresh."""
        query = {key: str(value) for key, value in request.query_params.items()}
        return Template(FILES, context=await _files(workspace_id, query))

    @get("/files.csv")
    async def history_csv(self, request: Request, workspace_id: int) -> Stream:
        filters, _ = await _filters(workspace_id, {key: str(value) for key, value in request.query_params.items()})
        return csv_download(files.history_csv(workspace_id, filters), "intake-files.csv")

    @get("/files/{file_id:int}")
    async def file(self, workspace_id: int, file_id: int) -> Template:
        return Template(FILE, context={**section_context("analytics", "data-imports"),
                                       "file": await files.get_file(workspace_id, file_id)})

    @get("/sources/new")
    async def new_source(self) -> Template:
        return Template(SOURCE_FORM, context={**section_context("analytics", "data-imports"), "source": None,
                                              "form": NEW_SOURCE, "errors": {}})

    @post("/sources", opt=MANAGE)
    async def create_source(self, request: Request, workspace_id: int, redis: Redis) -> Redirect:
        form = await submitted(request, SOURCE_FORM, {**section_context("analytics", "data-imports"), "source": None})
        async with audit.change(redis, workspace_id, actor_of(request)) as change:
            source = await sources.create_source(workspace_id, form)
            change.note("intake_source.created", "intake_source", source["id"], {"name": source["name"]})
        flash(request, f"Source “{source['name']}” added. Add a file rule so its files are taken in.", "success")
        return Redirect(f"{BASE}/sources/{source['id']}", status_code=303)

    @get("/sources/{source_id:int}")
    async def edit_source(self, viewer: Viewer, workspace_id: int, source_id: int) -> Template:
        source = await sources.get_source(workspace_id, source_id)
        return Template(SOURCE_FORM, context={
            **section_context("analytics", "data-imports"), "source": source, "form": sources.form_of(source),
            "errors": {}, "rules": await rules.rules_of(workspace_id, source_id), "kinds": rules.KINDS,
            "health": sources.health(source, now()), "can": permitted(viewer, CHANGE, "delivery.manage")})

    @post("/sources/{source_id:int}", opt=MANAGE)
    async def update_source(self, request: Request, workspace_id: int, source_id: int, redis: Redis) -> Redirect:
        source = await sources.get_source(workspace_id, source_id)
        form = await submitted(request, SOURCE_FORM, {**section_context("analytics", "data-imports"),
                                                      "source": source, "rules": []})
        async with audit.change(redis, workspace_id, actor_of(request)) as change:
            await sources.update_source(workspace_id, source_id, form)
            change.note("intake_source.updated", "intake_source", source_id, {"name": source["name"]})
        # Its state is the last poll's until the next one: a failing source's new settings are tried by polling.
        flash(request, "Source saved. Poll now to try the new settings." if source["last_error"] else "Source saved.",
              "success")
        return Redirect(f"{BASE}/sources/{source_id}", status_code=303)

    @post("/sources/{source_id:int}/delete", opt=MANAGE)
    async def delete_source(self, request: Request, workspace_id: int, source_id: int, redis: Redis) -> Redirect:
        async with audit.change(redis, workspace_id, actor_of(request)) as change:
            deleted = await sources.delete_source(workspace_id, source_id)
            change.note("intake_source.deleted", "intake_source", source_id, {"name": deleted["name"]})
        flash(request, f"Source “{deleted['name']}” removed. Its imports and the files in the bucket stay.", "info")
        return Redirect(BASE, status_code=303)

    @post("/sources/{source_id:int}/poll")
    async def poll_now(self, request: Request, workspace_id: int, source_id: int) -> Redirect:
        source = await sources.get_source(workspace_id, source_id)
        poll_source.send(workspace_id, source_id)
        flash(request, f"“{source['name']}” is polled now; its files show below as they are taken in.", "info")
        return Redirect(BASE, status_code=303)

    @get("/sources/{source_id:int}/rules/new")
    async def new_rule(self, workspace_id: int, source_id: int) -> Template:
        source = await sources.get_source(workspace_id, source_id)
        return Template(RULE_FORM, context={**await _rule_context(workspace_id, source, None), "form": NEW_RULE,
                                            "errors": {}})

    @post("/sources/{source_id:int}/rules")
    async def create_rule(self, request: Request, workspace_id: int, source_id: int, redis: Redis) -> Redirect:
        source = await sources.get_source(workspace_id, source_id)
        form = await submitted(request, RULE_FORM, await _rule_context(workspace_id, source, None))
        async with audit.change(redis, workspace_id, actor_of(request)) as change:
            rule = await rules.create_rule(workspace_id, source_id, form)
            change.note("intake_rule.created", "intake_source", source_id,
                        {"name": source["name"], "pattern": rule["pattern"]})
        flash(request, "File rule added.", "success")
        return Redirect(f"{BASE}/sources/{source_id}", status_code=303)

    @get("/rules/{file_rule_id:int}")
    async def edit_rule(self, workspace_id: int, file_rule_id: int) -> Template:
        rule = await rules.get_rule(workspace_id, file_rule_id)
        source = await sources.get_source(workspace_id, rule["source_id"])
        return Template(RULE_FORM, context={**await _rule_context(workspace_id, source, rule),
                                            "form": rules.form_of(rule), "errors": {}})

    @post("/rules/{file_rule_id:int}")
    async def update_rule(self, request: Request, workspace_id: int, file_rule_id: int, redis: Redis) -> Redirect:
        rule = await rules.get_rule(workspace_id, file_rule_id)
        source = await sources.get_source(workspace_id, rule["source_id"])
        form = await submitted(request, RULE_FORM, await _rule_context(workspace_id, source, rule))
        async with audit.change(redis, workspace_id, actor_of(request)) as change:
            await rules.update_rule(workspace_id, file_rule_id, form)
            change.note("intake_rule.updated", "intake_source", source["id"], {"name": source["name"]})
        flash(request, "File rule saved.", "success")
        return Redirect(f"{BASE}/sources/{source['id']}", status_code=303)

    @post("/rules/{file_rule_id:int}/delete")
    async def delete_rule(self, request: Request, workspace_id: int, file_rule_id: int, redis: Redis) -> Redirect:
        async with audit.change(redis, workspace_id, actor_of(request)) as change:
            deleted = await rules.delete_rule(workspace_id, file_rule_id)
            change.note("intake_rule.deleted", "intake_source", deleted["source_id"], {"pattern": deleted["pattern"]})
        flash(request, "File rule removed.", "info")
        return Redirect(f"{BASE}/sources/{deleted['source_id']}", status_code=303)
