"""The landing page with its two portals, each portal's overview and sections, and the workspace switcher."""

from __future__ import annotations

from dataclasses import dataclass

from litestar import Controller, Request, get, post
from litestar.exceptions import NotFoundException
from litestar.plugins.flash import flash
from litestar.response import Redirect, Template
from redis.asyncio import Redis

from app.services import accounts, activity_feed, data_imports, overview
from app.services.accounts import Viewer
from app.services.analytics import performance, pnl
from app.services.analytics.periods import last_days
from app.services.tracking.offers import workspace_settings
from app.web.auth import safe_next, signed_in
from app.web.charts import two_way_bars
from app.web.permissions import CHANGE, MINIMUM_ROLE


@dataclass(frozen=True)
class Section:
    """A portal section: its address under the portal, its name in the navigation and what it is for."""

    slug: str
    title: str
    summary: str


PORTALS: dict[str, dict] = {
    "mailing": {
        "title": "Mailing",
        "tagline": "Lists, campaigns and delivery across all your ESPs",
        "sections": [
            Section("lists", "Lists", "Lists, their custom fields, subscribe forms and imports."),
            Section("subscribers", "Subscribers", "Find, add, edit, tag and move subscribers."),
            Section("segments", "Segments", "Audiences built from field, engagement and list conditions."),
            Section("templates", "Templates", "Email designs with preview and test sends."),
            Section("campaigns", "Campaigns", "Send a template to lists and segments: A/B tests, schedules, "
                    "live progress."),
            Section("automations", "Automations", "Welcome series, drips, autoresponders and re-engagement "
                    "flows, with each step's figures."),
            Section("delivery", "Delivery", "Delivery servers, routing, warm-up and sending domains."),
            Section("bounces", "Bounces", "Bounces and complaints from mailboxes, the inbound MX and ESP webhooks: "
                    "classified, acted on and logged."),
            Section("suppression", "Suppression", "The blacklist and suppression lists every send honours."),
            Section("transactional", "Transactional", "Receipts, password and other one-to-one mail sent through "
                    "the API: a searchable log with each message's events."),
        ],
    },
    "analytics": {
        "title": "Analytics",
        "tagline": "Revenue, P&L and ESP performance for every send",
        "sections": [
            Section("esp-performance", "ESP performance", "Delivery, opens and clicks per ESP."),
            Section("revenue", "Revenue", "Conversions attributed to campaigns, subscribers and ESPs."),
            Section("pnl", "P&L", "Revenue against sending cost per send."),
            Section("intelligence", "Intelligence", "Insights from campaign results."),
            Section("volume-planner", "Volume planner", "How much you can send across your ESPs."),
            Section("data-imports", "Data imports", "Every subscriber and suppression file imported, with its health."),
            Section("tasks", "Tasks", "A simple board for the team's work."),
        ],
    },
}


def _portal(name: str) -> dict:
    portal = PORTALS.get(name)
    if portal is None:
        raise NotFoundException()
    return portal


def section_context(portal: str, slug: str) -> dict:
    """Template context that puts a page inside a portal's navigation shell, its section highlighted."""
    details = _portal(portal)
    section = next(s for s in details["sections"] if s.slug == slug)
    return {"portal": portal, "details": details, "section": section}


def ordered_portals(last_portal: str) -> list[tuple[str, dict]]:
    """Both portals, the one used last first."""
    names = sorted(PORTALS, key=lambda name: name != last_portal)
    return [(name, PORTALS[name]) for name in names]


def permitted(viewer: Viewer, *actions: str) -> dict[str, bool]:
    """Which of the permission table's actions the viewer may take, for showing only the buttons that work."""
    return {action: viewer.has_role(MINIMUM_ROLE[action]) for action in actions}


async def entering(viewer: Viewer, portal: str) -> None:
    if viewer.last_portal != portal:
        await accounts.remember_portal(viewer.user_id, portal)


class PortalController(Controller):
    guards = [signed_in]
    include_in_schema = False

    @get("/", name="landing")
    async def landing(self, viewer: Viewer, workspace_id: int) -> Template:
        return Template("portal/landing.html", context={
            "portals": ordered_portals(viewer.last_portal), "last_portal": viewer.last_portal,
            "entries": await activity_feed.recent(workspace_id, limit=10),
        })

    @get("/mailing", name="mailing_home")
    async def mailing_home(self, viewer: Viewer, workspace_id: int, redis: Redis) -> Template:
        await entering(viewer, "mailing")
        growth = await overview.growth(workspace_id)
        return Template("portal/mailing_home.html", context={
            "portal": "mailing", "details": PORTALS["mailing"], "section": None,
            "can": permitted(viewer, CHANGE, "delivery.manage"),
            "audience": await overview.audience(workspace_id),
            "growth": growth, "growth_chart": two_way_bars([(p.day.isoformat(), p.joined, p.left) for p in growth]),
            "imports": (await data_imports.import_page(workspace_id, limit=5)).imports,
            "servers": await overview.servers(redis, workspace_id),
            "entries": await activity_feed.recent(workspace_id, limit=10),
        })

    @get("/analytics", name="analytics_home")
    async def analytics_home(self, viewer: Viewer, workspace_id: int) -> Template:
        await entering(viewer, "analytics")
        return Template("portal/home.html", context={
            "portal": "analytics", "details": PORTALS["analytics"], "section": None, "can": permitted(viewer, CHANGE),
            "summary": await pnl.today_summary(workspace_id),
            "currency": (await workspace_settings(workspace_id))["currency"],
            "week_servers": sorted(await performance.matrix(workspace_id, last_days(7)),
                                   key=lambda row: -(row.figures.ecpm or 0)),
            "imports": (await data_imports.import_page(workspace_id, limit=5)).imports,
            "entries": await activity_feed.recent(workspace_id, limit=20),
        })

    @post("/workspaces/switch", opt={"action": "self"})
    async def switch_workspace(self, request: Request, viewer: Viewer) -> Redirect:
        form = await request.form()
        try:
            workspace_id = int(str(form.get("workspace_id", "")))
        except ValueError:
            workspace_id = 0
        choice = next((w for w in viewer.workspaces if w.id == workspace_id), None)
        if choice is None:
            raise NotFoundException("No such workspace.")
        request.session["workspace_id"] = choice.id
        await accounts.remember_workspace(viewer.user_id, choice.id)
        flash(request, f"Switched to {choice.name}.", category="info")
        return Redirect(safe_next(str(form.get("next", "/"))), status_code=303)
