"""Campaigns: the list, the wizard (saved step by step), the live detail page with its send log, the lifecycle
buttons, and the workspace's kill switch."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

from litestar import Controller, Request, get, post
from litestar.plugins.flash import flash
from litestar.response import Redirect, ServerSentEvent, ServerSentEventMessage, Template
from redis.asyncio import Redis

from app.routes.campaign_pages import (
    AB_RESULTS,
    DETAIL,
    FINISHED,
    HEAD,
    LIVE,
    LOG_ROWS,
    STEPS,
    chosen_of_form,
    detail_context,
    index_context,
    live_context,
    log_context,
    step_context,
    step_input,
)
from app.services import audit, campaigns, kill_switch
from app.services.accounts import Viewer
from app.services.campaigns import variants, wizard
from app.services.campaigns.pace import PaceMeter, done_of
from app.tasks.sending import QUEUE
from app.web.auth import safe_next, signed_in
from app.web.pages import actor_of, is_htmx, on_form_error, submitted

SSE_HEADERS = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
LIVE_INTERVAL_SECONDS = 1.0
AB_INTERVAL_SECONDS = 5.0
# A scheduled or paused campaign changes when someone acts or its time comes: looked at less often.
IDLE_INTERVAL_SECONDS = 5.0
# A quiet stream still says something this often, so proxies keep it open.
KEEP_ALIVE_SECONDS = 15.0
SEND = {"action": "campaigns.send"}
STOP = {"action": "sending.stop"}
STEPS_TEMPLATE = {name: f"mailing/campaigns/{name}.html" for name, _ in STEPS}
# How each step is saved; the Review step only shows.
SAVERS = {"setup": campaigns.update_draft, "audience": campaigns.update_draft, "content": variants.save_content,
          "delivery": campaigns.update_draft}


def _step_url(campaign_id: int, step: str) -> str:
    return f"/mailing/campaigns/{campaign_id}/{step}"


def _after(step: str, form: Mapping[str, str]) -> str:
    """The step to show after saving `step`: the one before it for Back, else the next."""
    names = [name for name, _ in STEPS]
    index = names.index(step)
    return names[max(index - 1, 0)] if form.get("go") == "back" else names[min(index + 1, len(names) - 1)]


def _back_to(request_form: Mapping[str, Any], campaign_id: int) -> str:
    return safe_next(str(request_form.get("next", "")), f"/mailing/campaigns/{campaign_id}")


class CampaignController(Controller):
    path = "/mailing/campaigns"
    guards = [signed_in]
    include_in_schema = False

    @get("/", name="campaigns")
    async def index(self, viewer: Viewer, workspace_id: int, before: int | None = None) -> Template:
        return Template("mailing/campaigns/index.html", context=await index_context(viewer, workspace_id, before))

    @get("/new", name="campaign_new")
    async def new(self, viewer: Viewer, workspace_id: int) -> Template:
        return Template(STEPS_TEMPLATE["setup"], context=await step_context(viewer, workspace_id, None, "setup"))

    @post("/")
    async def create(self, request: Request, viewer: Viewer, workspace_id: int, redis: Redis) -> Redirect:
        form = await request.form()
        await submitted(request, STEPS_TEMPLATE["setup"],
                        lambda: step_context(viewer, workspace_id, None, "setup", chosen_of_form(form)))
        async with audit.change(redis, workspace_id, actor_of(request)) as change:
            created = await campaigns.create_draft(workspace_id, step_input(form, "setup"), viewer.user_id)
            change.note("campaign.created", "campaign", created["id"], {"name": created["name"]})
        return Redirect(_step_url(created["id"], "audience"), status_code=303)

    @get("/{campaign_id:int}/{step:str}", name="campaign_step")
    async def step(self, viewer: Viewer, workspace_id: int, campaign_id: int, step: str) -> Template | Redirect:
        campaign = await campaigns.get_campaign(workspace_id, campaign_id)
        if step not in STEPS_TEMPLATE:
            raise LookupError(step)
        if campaign["status"] != "draft":
            return Redirect(f"/mailing/campaigns/{campaign_id}", status_code=303)
        return Template(STEPS_TEMPLATE[step], context=await step_context(viewer, workspace_id, campaign, step))

    @post("/{campaign_id:int}/{step:str}")
    async def save_step(self, request: Request, viewer: Viewer, workspace_id: int, campaign_id: int, step: str,
                        redis: Redis) -> Redirect:
        campaign = await campaigns.get_campaign(workspace_id, campaign_id)
        if step not in SAVERS:
            raise LookupError(step)
        form = await request.form()
        await submitted(request, STEPS_TEMPLATE[step],
                        lambda: step_context(viewer, workspace_id, campaign, step, chosen_of_form(form)))
        async with audit.change(redis, workspace_id, actor_of(request)) as change:
            await SAVERS[step](workspace_id, campaign_id, step_input(form, step))
            change.note("campaign.updated", "campaign", campaign_id, {"step": step})
        return Redirect(_step_url(campaign_id, _after(step, form)), status_code=303)

    @post("/{campaign_id:int}/recipients", opt={"action": "self"})
    async def recipients(self, request: Request, workspace_id: int, campaign_id: int) -> Template:
        """The live count beside the Audience step's choices, before they are saved."""
        await campaigns.get_campaign(workspace_id, campaign_id)
        form = await request.form()
        raw = step_input(form, "audience")
        on_form_error(request, "mailing/campaigns/partials/recipient_count.html",
                      {"count": None, "campaign_id": campaign_id}, {})
        return Template("mailing/campaigns/partials/recipient_count.html", context={
            "count": await wizard.live_count(workspace_id, raw), "errors": {}, "campaign_id": campaign_id})

    @post("/{campaign_id:int}/ab-test", opt={"action": "self"})
    async def ab_test(self, request: Request, viewer: Viewer, workspace_id: int, campaign_id: int) -> Template:
        """The Content step's A/B fields again, for the dimension just chosen (nothing is saved)."""
        campaign = await campaigns.get_campaign(workspace_id, campaign_id)
        form = await request.form()
        context = await step_context(viewer, workspace_id, campaign, "content")
        # What was typed wins; what the form did not show yet (the test's share and wait) keeps its saved value.
        typed = {key: str(value) for key, value in form.items()}
        return Template("mailing/campaigns/partials/ab_test.html", context={**context, "form": {**context["form"],
                                                                                               **typed}})

    @post("/{campaign_id:int}/launch", opt=SEND)
    async def launch(self, request: Request, viewer: Viewer, workspace_id: int, campaign_id: int,
                     redis: Redis) -> Redirect:
        campaign = await campaigns.get_campaign(workspace_id, campaign_id)
        on_form_error(request, STEPS_TEMPLATE["review"],
                      lambda: step_context(viewer, workspace_id, campaign, "review"), {})
        launched = await campaigns.launch(redis, QUEUE, workspace_id, campaign_id, actor_of(request))
        if launched["status"] == "scheduled":
            flash(request, f"“{launched['name']}” is scheduled.", "success")
        else:
            flash(request, f"“{launched['name']}” is sending.", "success")
        return Redirect(f"/mailing/campaigns/{campaign_id}", status_code=303)

    @post("/{campaign_id:int}/pause", opt=SEND)
    async def pause(self, request: Request, workspace_id: int, campaign_id: int, redis: Redis) -> Redirect:
        paused = await campaigns.pause(redis, workspace_id, campaign_id, actor_of(request))
        flash(request, f"“{paused['name']}” is paused: nothing more is sent until you resume it.", "info")
        return Redirect(_back_to(await request.form(), campaign_id), status_code=303)

    @post("/{campaign_id:int}/resume", opt=SEND)
    async def resume(self, request: Request, workspace_id: int, campaign_id: int, redis: Redis) -> Redirect:
        resumed = await campaigns.resume(redis, QUEUE, workspace_id, campaign_id, actor_of(request))
        flash(request, f"“{resumed['name']}” is sending again.", "success")
        return Redirect(_back_to(await request.form(), campaign_id), status_code=303)

    @post("/{campaign_id:int}/cancel", opt=SEND)
    async def cancel(self, request: Request, workspace_id: int, campaign_id: int, redis: Redis) -> Redirect:
        cancelled = await campaigns.cancel(redis, workspace_id, campaign_id, actor_of(request))
        flash(request, f"“{cancelled['name']}” is cancelled: no more of its messages will be sent.", "info")
        return Redirect(_back_to(await request.form(), campaign_id), status_code=303)

    @post("/{campaign_id:int}/unschedule", opt=SEND)
    async def unschedule(self, request: Request, workspace_id: int, campaign_id: int, redis: Redis) -> Redirect:
        # The service answers "not scheduled" for any id; a campaign of another workspace must be a 404.
        await campaigns.get_campaign(workspace_id, campaign_id)
        await campaigns.unschedule(redis, workspace_id, campaign_id, actor_of(request))
        flash(request, "Back to draft: change what you need and launch it again.", "info")
        return Redirect(_step_url(campaign_id, "setup"), status_code=303)

    @post("/{campaign_id:int}/duplicate")
    async def duplicate(self, request: Request, viewer: Viewer, workspace_id: int, campaign_id: int,
                        redis: Redis) -> Redirect:
        async with audit.change(redis, workspace_id, actor_of(request)) as change:
            copy = await campaigns.duplicate(workspace_id, campaign_id, viewer.user_id)
            change.note("campaign.duplicated", "campaign", copy["id"], {"from": campaign_id})
        flash(request, f"“{copy['name']}” is a new draft with the same choices: check each step and launch it.",
              "success")
        return Redirect(_step_url(copy["id"], "setup"), status_code=303)

    @get("/{campaign_id:int}", name="campaign_detail")
    async def show(self, viewer: Viewer, workspace_id: int, campaign_id: int, redis: Redis) -> Template:
        return Template(DETAIL, context=await detail_context(viewer, workspace_id, campaign_id, redis))

    @get("/{campaign_id:int}/log", name="campaign_log")
    async def log(self, request: Request, viewer: Viewer, workspace_id: int, campaign_id: int, redis: Redis,
                  email: str = "", before: int | None = None) -> Template:
        """The send log: a search by address, older pages appended below (the whole page without HTMX)."""
        found = await log_context(workspace_id, campaign_id, email, before)
        if is_htmx(request):
            return Template(LOG_ROWS, context=found)
        return Template(DETAIL, context={**await detail_context(viewer, workspace_id, campaign_id, redis), **found})

    @get("/{campaign_id:int}/events", name="campaign_events")
    async def events(self, request: Request, viewer: Viewer, workspace_id: int, campaign_id: int,
                     redis: Redis) -> ServerSentEvent:
        """Figures every second while the campaign may still change, its head when its status does; then done."""
        await campaigns.get_campaign(workspace_id, campaign_id)
        engine = request.app.template_engine
        live, head, ab = engine.get_template(LIVE), engine.get_template(HEAD), engine.get_template(AB_RESULTS)

        async def stream() -> AsyncIterator[ServerSentEventMessage]:
            meter, shown_status, shown_live, quiet_since = PaceMeter(), None, None, time.monotonic()
            shown_ab, ab_checked = None, 0.0
            while True:
                campaign = await campaigns.get_campaign(workspace_id, campaign_id)
                # The request gives the partials what a page response would: csrf_token() for their forms.
                context = {**await live_context(redis, viewer, campaign, meter), "request": request}
                meter.add(time.monotonic(), done_of(context["figures"]))
                if campaign["status"] != shown_status:
                    shown_status, ab_checked = campaign["status"], 0.0
                    yield ServerSentEventMessage(event="status", data=head.render(**context))
                # A test's figures cost a grouped read of its deliveries: every few seconds is fresh enough.
                if campaign["ab_dimension"] and time.monotonic() - ab_checked >= AB_INTERVAL_SECONDS:
                    ab_checked = time.monotonic()
                    results = await variants.ab_results(workspace_id, campaign_id)
                    rendered_ab = ab.render(campaign=campaign, ab_results=results)
                    if rendered_ab != shown_ab:
                        shown_ab = rendered_ab
                        yield ServerSentEventMessage(event="ab", data=rendered_ab)
                rendered = live.render(**context)
                if rendered != shown_live:
                    shown_live, quiet_since = rendered, time.monotonic()
                    yield ServerSentEventMessage(event="figures", data=rendered)
                elif time.monotonic() - quiet_since > KEEP_ALIVE_SECONDS:
                    quiet_since = time.monotonic()
                    yield ServerSentEventMessage(comment="keep-alive")
                if campaign["status"] in FINISHED:
                    yield ServerSentEventMessage(event="done", data="finished")
                    return
                await asyncio.sleep(LIVE_INTERVAL_SECONDS if campaign["status"] == "sending" else IDLE_INTERVAL_SECONDS)

        return ServerSentEvent(stream(), headers=SSE_HEADERS)

    @post("/stop", opt=STOP)
    async def stop_sending(self, request: Request, viewer: Viewer, workspace_id: int, redis: Redis) -> Redirect:
        form = await submitted(request, "mailing/campaigns/index.html",
                               lambda: index_context(viewer, workspace_id, None))
        stop = await kill_switch.stop_workspace(redis, workspace_id, actor_of(request), form.get("reason", ""))
        flash(request, f"Every send of this workspace is stopped: “{stop.reason}”. Campaigns that were sending are "
                       "paused until you restart sending.", "info")
        return Redirect("/mailing/campaigns", status_code=303)

    @post("/restart", opt=STOP)
    async def restart_sending(self, request: Request, workspace_id: int, redis: Redis) -> Redirect:
        resumed = await kill_switch.restart_workspace(redis, workspace_id, actor_of(request), QUEUE)
        flash(request, "Sending is allowed again" + (
            "." if not resumed else "; the campaign the stop paused is sending again." if len(resumed) == 1
            else f"; the {len(resumed)} campaigns the stop paused are sending again."), "success")
        return Redirect("/mailing/campaigns", status_code=303)
