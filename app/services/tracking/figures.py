"""A campaign's engagement figures for its page: a Redis hash that only grows, mirroring `campaign_engagement`.

Several writers keep the figures, each its own columns of `campaign_engagement`, in the transaction that
records the event: the aggregator (opens, clicks, machine opens, bot clicks, web views), the unsubscribe
path (unsubscribes) and the postback (conversions, revenue). After committing, a writer raises the hash's
fields to the values its statement returned; raising (never setting) means a slower writer never puts an
older figure over a newer one. When Redis has lost the hash, the page reads the table.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from app.services import statements

PREFIX = "ignite:tracking:campaign:"
COUNTS = ("opens", "unique_opens", "clicks", "unique_clicks", "machine_opens", "bot_clicks", "web_views",
            "unsubscribes", "conversions")
MONEY = ("revenue",)
_RAISE = """
for i = 1, #ARGV, 2 do
    local current = tonumber(redis.call('HGET', KEYS[1], ARGV[i]) or '-1')
    if tonumber(ARGV[i + 1]) > current then redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
end
return 1
"""


def figures_key(workspace_id: int, campaign_id: int) -> str:
    return f"{PREFIX}{workspace_id}:{campaign_id}"


def raise_figures(pipeline: Pipeline | Redis, workspace_id: int, campaign_id: int,
                  figures: Mapping[str, int | Decimal]) -> None:
    """Queues (on a pipeline) the raise of each named figure to at least the given value."""
    arguments = [value for name, figure in figures.items() if name in COUNTS or name in MONEY
                 for value in (name, str(figure))]
    if arguments:
        pipeline.eval(_RAISE, 1, figures_key(workspace_id, campaign_id), *arguments)


def _figures(values: Mapping[str, object]) -> dict[str, int | Decimal]:
    figures: dict[str, int | Decimal] = {name: int(str(values.get(name) or 0)) for name in COUNTS}
    figures.update({name: Decimal(str(values.get(name) or 0)) for name in MONEY})
    return figures


async def campaign_figures(redis: Redis, workspace_id: int, campaign_id: int) -> dict[str, int | Decimal]:
    """Every engagement figure of the campaign (0 for none yet): Redis, else the table it mirrors."""
    cached = await redis.hgetall(figures_key(workspace_id, campaign_id))
    if cached:
        return _figures(cached)
    rows = await statements.run("tracking.campaign-figures", workspace_id, campaign_id)
    return _figures(rows[0] if rows else {})
