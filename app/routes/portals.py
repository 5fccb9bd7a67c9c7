"""The landing page with its two portals, each portal's navigation shell, and the workspace switcher."""

from __future__ import annotations

from dataclasses import dataclass

from litestar import Controller, Request, get, post
from litestar.exceptions import NotFoundException
from litestar.plugins.flash import flash
from litestar.response import Redirect, Template

from app.services import accounts
from app.services.audit import recent_entries
from app.web.auth import safe_next, signed_in


@dataclass(frozen=True)
class Section:
    slug: str
    title: str
    empty: str
    next_step: str
    links: tuple[tuple[str, str], ...] = ()


PORTALS: dict[str, dict] = {
    "mailing": {
        "title": "Mailing",
        "tagline": "Lists, campaigns and delivery across all your ESPs",
        "sections": [
            Section("lists", "Lists", "No lists yet.", "Create a list, give it custom fields, then import subscribers."),
            Section("subscribers", "Subscribers", "No subscribers yet.", "Import a CSV into a list or add one by hand."),
            Section("segments", "Segments", "No segments yet.", "Build a segment from field, engagement and list conditions."),
            Section("templates", "Templates", "No templates yet.", "Start from a gallery layout or paste your own HTML."),
            Section("campaigns", "Campaigns", "No campaigns yet.", "Create a campaign from a template and a segment."),
            Section("automations", "Automations", "No automations yet.", "Set up a welcome series or a re-engagement flow."),
            Section("delivery", "Delivery", "No delivery servers yet.", "Add an SMTP, SES or API server; until then mail goes to the inbox below.",
                    (("Sending domains and DKIM", "/mailing/delivery/domains"), ("Development inbox", "/mailing/inbox"))),
            Section("bounces", "Bounces", "No bounces processed yet.", "Connect a bounce mailbox or an ESP webhook."),
            Section("suppression", "Suppression", "No suppression lists yet.", "Upload a suppression file (plain, MD5 or SHA-256)."),
            Section("api-keys", "API keys", "No API keys yet.", "Create a key to use the JSON API under /api/v1."),
        ],
    },
    "analytics": {
        "title": "Analytics",
        "tagline": "Revenue, P&L and ESP performance for every send",
        "sections": [
            Section("esp-performance", "ESP performance", "No sends to measure yet.", "Send a campaign to see delivery, opens and clicks per ESP."),
            Section("revenue", "Revenue", "No conversions yet.", "Point your affiliate network's postback at Ignite to attribute revenue."),
            Section("pnl", "P&L", "No revenue or cost yet.", "Set a cost per 1,000 on each delivery server to see profit per send."),
            Section("intelligence", "Intelligence", "Not enough data yet.", "Insights appear once campaigns have a few days of results."),
            Section("volume-planner", "Volume planner", "No plan yet.", "Simulate how much you can send across your ESPs and warm-up plans."),
            Section("data-imports", "Data imports", "No imports yet.", "Imports of subscribers and suppression files show here with their health."),
            Section("tasks", "Tasks", "No tasks yet.", "Track the team's work on a simple board."),
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


class PortalController(Controller):
    guards = [signed_in]
    include_in_schema = False

    @get("/", name="landing")
    async def landing(self, request: Request) -> Template:
        viewer = request.state.viewer
        return Template("portal/landing.html", context={
            "portals": ordered_portals(viewer.last_portal), "last_portal": viewer.last_portal,
            "entries": await recent_entries(viewer.workspace_id, limit=10),
        })

    @get(["/mailing", "/analytics"], name="portal_home")
    async def portal_home(self, request: Request) -> Template:
        portal = request.url.path.strip("/")
        details = _portal(portal)
        viewer = request.state.viewer
        if viewer.last_portal != portal:
            await accounts.remember_portal(viewer.user_id, portal)
        return Template("portal/home.html", context={
            "portal": portal, "details": details, "section": None,
            "entries": await recent_entries(viewer.workspace_id, limit=20),
        })

    @get(["/mailing/{section:str}", "/analytics/{section:str}"], name="portal_section")
    async def portal_section(self, request: Request, section: str) -> Template:
        return await self._section(request, section)

    async def _section(self, request: Request, section: str) -> Template:
        portal = request.url.path.strip("/").split("/")[0]
        details = _portal(portal)
        current = next((s for s in details["sections"] if s.slug == section), None)
        if current is None:
            raise NotFoundException()
        viewer = request.state.viewer
        if viewer.last_portal != portal:
            await accounts.remember_portal(viewer.user_id, portal)
        return Template("portal/section.html", context={"portal": portal, "details": details, "section": current})

    @post("/workspaces/switch", opt={"action": "self"})
    async def switch_workspace(self, request: Request) -> Redirect:
        form = await request.form()
        viewer = request.state.viewer
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
