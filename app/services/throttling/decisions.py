"""Throttling decisions per server (rate cuts and recoveries, circuit changes), newest first, capped."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from redis.asyncio import Redis

# Enough history for the Delivery page; older decisions fall off the end of the list.
KEEP_DECISIONS = 200


@dataclass(frozen=True)
class Decision:
    at: float
    server_id: int
    kind: str
    subject: str
    old: str
    new: str
    reason: str

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, raw: str | bytes) -> Decision:
        data = json.loads(raw)
        return cls(
            at=float(data["at"]), server_id=int(data["server_id"]), kind=data["kind"], subject=data["subject"],
            old=str(data["old"]), new=str(data["new"]), reason=data["reason"],
        )


def decisions_key(server_id: int) -> str:
    return f"throttle:decisions:{server_id}"


async def recent_decisions(redis: Redis, server_id: int, limit: int = 20) -> list[Decision]:
    raw = await redis.lrange(decisions_key(server_id), 0, limit - 1)
    return [Decision.from_json(item) for item in raw]
