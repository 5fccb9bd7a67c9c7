"""Everflow connections and a reconciliation scenario for the integration and browser tests."""

from __future__ import annotations

from datetime import timedelta

from app.services.accounts import now
from app.services.analytics import everflow
from app.services.tracking.conversions import record_postback, rotate_postback_secret
from app.services.webhooks.endpoints import allow_private_targets
from tests.integration.analytics.everflow_server import LocalEverflow, everflow_record
from tests.integration.tracking.helpers import SentCampaign, sent_campaign


async def connect(workspace_id: int, server: LocalEverflow, enabled: bool = True) -> None:
    """The local Everflow listens on loopback: the workspace allows private targets, as webhook tests do."""
    await allow_private_targets(workspace_id, True)
    await everflow.save_connection(workspace_id, {"base_url": server.base_url, "api_key": server.api_key,
                                                  "timezone_id": "67", "enabled": "on" if enabled else ""})


async def _postback(redis, key: str, transaction_id: str, delivery: dict, payout: str) -> None:
    await record_postback(redis, {"key": key, "transaction_id": transaction_id, "sub3": str(delivery["id"]),
                                  "payout": payout}, "10.0.0.1")


async def reconciliation_scenario(redis, server: LocalEverflow) -> SentCampaign:
    """Postbacks and Everflow records that agree, and one of each way they can disagree."""
    sent = await sent_campaign(recipients=6)
    key = await rotate_postback_secret(sent.workspace["id"])
    d = sent.deliveries
    for tx, delivery, payout in (("tx-agree", d[0], "5"), ("tx-ignite-only", d[1], "5"), ("tx-scrub", d[2], "5"),
                                 ("tx-repriced", d[3], "5"), ("tx-rejected", d[4], "5")):
        await _postback(redis, key, tx, delivery, payout)
    at = now() - timedelta(hours=2)
    server.records = [
        everflow_record("1", "tx-agree", at, "5", sub3=str(d[0]["id"])),
        everflow_record("2", "tx-everflow-only", at, "7.5", sub3=str(d[5]["id"])),
        everflow_record("3", "tx-scrub", at, "5", is_scrub=True, status="rejected", sub3=str(d[2]["id"])),
        everflow_record("4", "tx-repriced", at, "4.25", sub3=str(d[3]["id"])),
        everflow_record("5", "tx-rejected", at, "5", status="rejected", sub3=str(d[4]["id"])),
        # Rejected and never posted back: nothing to reconcile.
        everflow_record("6", "tx-never", at, "5", status="rejected"),
    ]
    await connect(sent.workspace["id"], server)
    return sent


