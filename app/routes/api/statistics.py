"""Statistics through the API (`stats:read`): per campaign, per delivery server, per day, from the counters and
rollups the engine keeps (`app/services/statistics.py`), never a scan of deliveries."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from litestar import get
from litestar.params import Parameter
from msgspec import Struct
from redis.asyncio import Redis

from app.routes.api.common import shaped
from app.services import campaigns, statistics
from app.services.accounts import now
from app.web.api_auth import ApiCaller, ApiController, error_responses
from app.web.errors import ApiError

SCOPE = {"scope": "stats:read"}
RANGE = (f"Days are UTC days; `since` and `until` are included, by default the last "
         f"{statistics.DEFAULT_RANGE_DAYS} days, at most {statistics.LONGEST_RANGE_DAYS} days at once.")

Since = Annotated[date | None, Parameter(description="The first day (YYYY-MM-DD).")]
Until = Annotated[date | None, Parameter(description="The last day (YYYY-MM-DD).")]


class CampaignStatistics(Struct):
    campaign_id: int
    status: str
    recipients: int
    sent: int
    failed: int
    skipped: int
    deferred: int
    # Not yet sent, failed or skipped.
    waiting: int
    # Sent and not reported back as a bounce since.
    delivered: int
    bounces: int
    hard_bounces: int
    soft_bounces: int
    blocks: int
    complaints: int
    opens: int
    unique_opens: int
    clicks: int
    unique_clicks: int
    machine_opens: int
    bot_clicks: int
    web_views: int
    unsubscribes: int
    conversions: int
    # Decimal, as text, in the workspace's postback currency.
    revenue: str
    # Per delivery server id: messages sent and failed through it.
    by_server: dict[str, dict[str, int]]


class ServerStatistics(Struct):
    # 0: messages or reports whose server is not known.
    server_id: int
    name: str
    sent: int
    hard: int
    soft: int
    block: int
    complaint: int


class DayStatistics(Struct):
    day: date
    sent: int
    hard: int
    soft: int
    block: int
    complaint: int
    # Subscriber rows added to and removed from the workspace's lists that day.
    joined_lists: int
    left_lists: int


class StatisticsRange(Struct):
    since: date
    until: date


class ServerStatisticsPage(Struct):
    range: StatisticsRange
    data: list[ServerStatistics]


class DayStatisticsPage(Struct):
    range: StatisticsRange
    data: list[DayStatistics]


def _range(since: date | None, until: date | None) -> tuple[date, date]:
    try:
        return statistics.day_range(since, until, now().date())
    except statistics.RangeError as exc:
        raise ApiError(400, "invalid_range", str(exc), {"since": str(exc)}) from exc


async def campaign_statistics(redis: Redis, workspace_id: int, campaign_id: int) -> CampaignStatistics:
    """A campaign's figures (404 for a campaign of another workspace); the campaigns API answers it too."""
    campaign = await campaigns.get_campaign(workspace_id, campaign_id)
    return shaped(await statistics.campaign_statistics(redis, campaign), CampaignStatistics)


class StatisticsApi(ApiController):
    path = "/api/v1/statistics"
    tags = ["statistics"]

    @get("/campaigns/{campaign_id:int}", opt=SCOPE, operation_id="campaignStatistics",
         summary="Statistics of a campaign",
         description="Scope `stats:read`. Sent, delivered, bounces, complaints, opens, clicks, unsubscribes, "
                     "conversions and revenue, as they stand now.", responses=error_responses(403, 404))
    async def campaign(self, caller: ApiCaller, campaign_id: int, redis: Redis) -> CampaignStatistics:
        return await campaign_statistics(redis, caller.workspace_id, campaign_id)

    @get("/servers", opt=SCOPE, operation_id="serverStatistics", summary="Statistics per delivery server",
         description=f"Scope `stats:read`. Messages sent through each server and the bounces and complaints "
                     f"matched to them. {RANGE}", responses=error_responses(400, 403))
    async def servers(self, caller: ApiCaller,
                      since: Since = None, until: Until = None) -> ServerStatisticsPage:
        first, last = _range(since, until)
        rows = await statistics.server_statistics(caller.workspace_id, first, last)
        return ServerStatisticsPage(range=StatisticsRange(first, last),
                                    data=[shaped(row, ServerStatistics) for row in rows])

    @get("/days", opt=SCOPE, operation_id="dailyStatistics", summary="Statistics per day",
         description=f"Scope `stats:read`. Every day of the range, oldest first: messages sent, the bounces and "
                     f"complaints matched to them, subscribers added to and removed from lists. {RANGE}",
         responses=error_responses(400, 403))
    async def days(self, caller: ApiCaller,
                   since: Since = None, until: Until = None) -> DayStatisticsPage:
        first, last = _range(since, until)
        rows = await statistics.daily_statistics(caller.workspace_id, first, last)
        return DayStatisticsPage(range=StatisticsRange(first, last), data=[shaped(row, DayStatistics) for row in rows])


CONTROLLERS = [StatisticsApi]
