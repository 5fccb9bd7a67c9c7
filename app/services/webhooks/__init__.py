"""Outbound webhooks: events a workspace's endpoints hear about, queued for signed delivery.

`publish`/`publish_many` (events.py) are what producers call; endpoints.py keeps the endpoints and the
private-targets setting, delivery.py posts, retries and gives up, log.py shows and replays deliveries.
"""

from app.services.webhooks.events import KINDS, PING, publish, publish_many, wake_with

__all__ = ["KINDS", "PING", "publish", "publish_many", "wake_with"]
