"""create_app(): the only place that lists routes, plugins, middleware and lifespan hooks."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from litestar import Litestar
from litestar.contrib.jinja import JinjaTemplateEngine
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from litestar.plugins.flash import FlashConfig, FlashPlugin
from litestar.static_files import create_static_files_router
from litestar.stores.redis import RedisStore
from litestar.template import TemplateConfig
from litestar.types import ASGIApp

from app.db.migrating import ensure_migrated
from app.heap import freeze_startup_objects
from app.logs import configure_logging, get_logger
from app.piccolo_conf import DB
from app.redis_client import get_redis
from app.routes import api_keys, transactional, webhook_endpoints
from app.routes.activity import ActivityController
from app.routes.api import API_CONTROLLERS
from app.routes.auth import AuthController
from app.routes.automations import AutomationController
from app.routes.bounce_mailboxes import BounceMailboxController
from app.routes.bounce_settings import BounceSettingsController
from app.routes.bounce_webhooks import BounceWebhookController, ServerWebhookController
from app.routes.bounces import BounceLogController
from app.routes.campaign_engagement import CampaignEngagementController
from app.routes.campaigns import CampaignController
from app.routes.data_imports import DataImportsController
from app.routes.delivery import DeliveryController
from app.routes.esp_performance import EspPerformanceController
from app.routes.everflow import EverflowController
from app.routes.forms import PublicFormController
from app.routes.imports import ImportController
from app.routes.inbox import InboxController
from app.routes.intelligence import IntelligenceController
from app.routes.lists import ListController
from app.routes.ops import OpsController
from app.routes.pnl import PnlController
from app.routes.portals import PORTALS, PortalController
from app.routes.postback import PostbackController
from app.routes.revenue import RevenueController
from app.routes.robot_rules import RobotRulesController
from app.routes.routing import RoutingController
from app.routes.segments import SegmentController
from app.routes.sending_domains import SendingDomainController
from app.routes.subscribers import SubscriberController
from app.routes.suppression import SuppressionController
from app.routes.task_board import TaskBoardController
from app.routes.team import TeamController
from app.routes.templates import TemplateController
from app.routes.tracking import TrackingController, tracking_fast_path
from app.routes.tracking_settings import TrackingSettingsController
from app.routes.volume_planner import VolumePlannerController
from app.services import statements
from app.services.system_mail import warn_without_platform_sender
from app.services.tracking.events import close_appender
from app.settings import PROJECT_ROOT, get_settings
from app.web.api_auth import api_middleware
from app.web.auth import current_viewer, current_workspace_id
from app.web.csrf import CsrfConfig, csrf_middleware
from app.web.errors import EXCEPTION_HANDLERS
from app.web.observability import observability_middleware
from app.web.params import checked_parameters
from app.web.rate_limits import RATE_LIMIT_HANDLERS
from app.web.security import security_headers_middleware
from app.web.sessions import SESSION_COOKIE, RotatingSessionConfig

TEMPLATES = PROJECT_ROOT / "app" / "templates"
STATIC = PROJECT_ROOT / "static"
# Paths that carry no browser session state, or authenticate otherwise: prefixes, matched from the start only.
NO_SESSION = ("/api/", "/health", "/metrics", "/static/", "/postback", "/u/", "/v/", "/o/", "/c/", "/webhooks/")
# Also posted from other sites (embedded subscribe forms, RFC 8058 one-click unsubscribe),
# where a signed token in the URL stands in for the CSRF token.
NO_CSRF = (*NO_SESSION, "/s/", "/u/")


@asynccontextmanager
async def database_pool(_: Litestar) -> AsyncIterator[None]:
    settings = get_settings()
    await ensure_migrated(settings.database.url)
    await DB.start_connection_pool(min_size=settings.database.pool_min, max_size=settings.database.pool_max)
    async with DB.pool.acquire() as connection:
        await statements.check_all(connection)
    try:
        yield
    finally:
        await DB.close_connection_pool()
        await get_redis().aclose()


def in_zone(moment: datetime, zone: str) -> str:
    """A moment as read in a time zone, named: "2026-12-02 09:30 America/New_York"."""
    try:
        return f"{moment.astimezone(ZoneInfo(zone)):%Y-%m-%d %H:%M} {zone}"
    except (ZoneInfoNotFoundError, ValueError):
        return f"{moment:%Y-%m-%d %H:%M} UTC"


def _template_config() -> TemplateConfig:
    def add_globals(engine: JinjaTemplateEngine) -> None:
        engine.engine.globals.update(PORTALS=PORTALS, app_name="Ignite")
        engine.engine.filters["in_zone"] = in_zone

    return TemplateConfig(directory=TEMPLATES, engine=JinjaTemplateEngine, engine_callback=add_globals)


def create_app() -> Litestar:
    settings = get_settings()
    configure_logging(settings.log_level, process="web")
    get_logger().info("starting", environment=settings.environment, base_url=settings.base_url)
    warn_without_platform_sender(settings)
    template_config = _template_config()
    sessions = RotatingSessionConfig(
        key=SESSION_COOKIE,
        max_age=settings.security.session_max_age,
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
        # Litestar matches these as regular expressions anywhere in the path: anchor them.
        exclude=[f"^{re.escape(prefix)}" for prefix in NO_SESSION],
    )
    swagger = "/static/vendor/swagger-ui"
    return Litestar(
        route_handlers=[
            AuthController,
            PortalController,
            TeamController,
            RobotRulesController,
            InboxController,
            ListController,
            SubscriberController,
            ImportController,
            SegmentController,
            CampaignController,
            CampaignEngagementController,
            AutomationController,
            SuppressionController,
            PublicFormController,
            TemplateController,
            SendingDomainController,
            DeliveryController,
            RoutingController,
            ActivityController,
            OpsController,
            DataImportsController,
            EspPerformanceController,
            RevenueController,
            EverflowController,
            PnlController,
            IntelligenceController,
            VolumePlannerController,
            TaskBoardController,
            *API_CONTROLLERS,
            *api_keys.CONTROLLERS,
            *transactional.CONTROLLERS,
            *webhook_endpoints.CONTROLLERS,
            TrackingController,
            PostbackController,
            BounceMailboxController,
            BounceSettingsController,
            BounceLogController,
            BounceWebhookController,
            ServerWebhookController,
            TrackingSettingsController,
            create_static_files_router(path="/static", directories=[STATIC], include_in_schema=False),
        ],
        lifespan=[database_pool],
        # Events queued for Redis are appended before the process exits.
        on_shutdown=[close_appender],
        # Handlers behind the `signed_in` guard take what they need by name.
        dependencies={
            "viewer": Provide(current_viewer, sync_to_thread=False),
            "workspace_id": Provide(current_workspace_id, sync_to_thread=False),
            "redis": Provide(get_redis, sync_to_thread=False),
        },
        middleware=[observability_middleware, security_headers_middleware, api_middleware, sessions.middleware,
                    csrf_middleware(CsrfConfig(settings.security.secret_key, NO_CSRF, settings.secure_cookies))],
        stores={"sessions": RedisStore(get_redis(), namespace="ignite:sessions")},
        template_config=template_config,
        plugins=[FlashPlugin(config=FlashConfig(template_config=template_config))],
        openapi_config=OpenAPIConfig(
            title="Ignite API",
            version="1.0.0",
            # The developer's guide, with curl and Python examples, opens the docs page above the endpoints.
            description=(TEMPLATES / "api" / "guide.md").read_text(),
            path="/api/v1/docs",
            # Every endpoint takes the key as a Bearer token; the docs page's Authorize button sends it.
            components=Components(security_schemes={"ApiKey": SecurityScheme(
                type="http", scheme="bearer", bearer_format="ig_live_… or ig_test_…")}),
            security=[{"ApiKey": []}],
            render_plugins=[
                SwaggerRenderPlugin(
                    path="/",
                    js_url=f"{swagger}/swagger-ui-bundle.js",
                    css_url=f"{swagger}/swagger-ui.css",
                    standalone_preset_js_url=f"{swagger}/swagger-ui-standalone-preset.js",
                )
            ],
        ),
        exception_handlers={**EXCEPTION_HANDLERS, **RATE_LIMIT_HANDLERS},
        # Ids out of their column's range, NUL characters: refused before any handler runs.
        before_request=checked_parameters,
        request_max_body_size=settings.security.max_form_bytes,
        debug=False,
    )


def create_server() -> ASGIApp:
    """What the web server serves: the app, with opens and clicks answered in front of it."""
    server = tracking_fast_path(create_app())
    freeze_startup_objects()
    return server
