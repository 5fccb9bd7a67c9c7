"""The activity feed in words: "Ana saved the audience step of campaign Spring sale", not
"campaign.updated · campaign 4".

Entries are audit rows and the tracking aggregator's per-campaign summaries (app/services/activity.py).
Each is given a `sentence` and, when its target still exists, a `link`. Targets are named from the
workspace's own rows as they are called now, one query per kind of target on the page.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from piccolo.columns import Column
from piccolo.table import Table
from redis.exceptions import RedisError

from app.db.accounts import Invite, Membership
from app.db.audience import ListField, MailingList, Subscriber
from app.db.automations import Flow
from app.db.campaigns import Campaign
from app.db.content import EmailTemplate, SendingDomain
from app.db.delivery import DeliveryServer, DomainGroup, RoutingRule, WarmupPlan
from app.db.imports import Import
from app.db.segments import Segment
from app.db.suppression import SuppressionList
from app.db.webhooks import WebhookEndpoint
from app.redis_client import get_redis
from app.services import activity
from app.services.activity import ENGAGEMENT
from app.services.audit import recent_entries
from app.services.tenancy import owned_by

# What names each kind of target: its table and column (looked up within the workspace).
NAMED_BY: dict[str, tuple[type[Table], Column]] = {
    "campaign": (Campaign, Campaign.name), "list": (MailingList, MailingList.name),
    "segment": (Segment, Segment.name), "template": (EmailTemplate, EmailTemplate.name),
    "server": (DeliveryServer, DeliveryServer.name), "subscriber": (Subscriber, Subscriber.email),
    "suppression_list": (SuppressionList, SuppressionList.name), "domain": (SendingDomain, SendingDomain.domain),
    "import": (Import, Import.filename), "field": (ListField, ListField.label), "rule": (RoutingRule, RoutingRule.name),
    "group": (DomainGroup, DomainGroup.name), "plan": (WarmupPlan, WarmupPlan.name), "invite": (Invite, Invite.email),
    "webhook_endpoint": (WebhookEndpoint, WebhookEndpoint.url), "flow": (Flow, Flow.name),
}
LINKS = {"campaign": "/mailing/campaigns/{}", "list": "/mailing/lists/{}", "segment": "/mailing/segments/{}",
         "template": "/mailing/templates/{}", "subscriber": "/mailing/subscribers/{}",
         "suppression_list": "/mailing/suppression/{}", "webhook_endpoint": "/settings/webhooks/{}",
         "flow": "/mailing/automations/{}"}
# Each action as what its actor did; {target} is the target's name, other fields come from the details.
PHRASES = {
    "flow.created": "created the automation {target}", "flow.activated": "activated the automation {target}",
    "flow.published": "published version {version} of the automation {target}",
    "flow.paused": "paused the automation {target}", "flow.archived": "archived the automation {target}",
    "flow.deleted": "deleted the automation {target}",
    "marketing_limits.changed": "changed the daily email cap and quiet hours",
    "campaign.created": "created campaign {target}", "campaign.updated": "saved the {step} step of campaign {target}",
    "campaign.duplicated": "duplicated a campaign as {target}", "campaign.started": "started sending campaign {target}",
    "campaign.scheduled": "scheduled campaign {target}", "campaign.unscheduled": "took campaign {target} back to draft",
    "campaign.paused": "paused campaign {target}", "campaign.resumed": "resumed campaign {target}",
    "campaign.cancelled": "cancelled campaign {target}", "campaign.held": "held campaign {target}",
    "campaign.ab_decided": "picked the A/B test winner of campaign {target}",
    "campaign.engagement": "recorded {summary} on campaign {target}",
    "sending.stopped": "stopped all sending of the workspace", "sending.restarted": "restarted sending",
    "list.created": "created list {target}", "list.updated": "changed the settings of list {target}",
    "list.deleted": "deleted list {target}", "list.archived": "archived list {target}",
    "list.unarchived": "brought back list {target}", "list.copied": "copied a list as {target}",
    "list.exported": "exported list {target}",
    "list.mx_check_started": "started checking the MX records of list {target}",
    "field.created": "added field {target}", "field.updated": "changed field {target}",
    "field.deleted": "deleted field {target}",
    "subscriber.created": "added subscriber {target}", "subscriber.updated": "edited subscriber {target}",
    "subscriber.status_changed": "set subscriber {target} from {from} to {to}",
    "subscribers.tag": "tagged {affected} subscribers", "subscribers.untag": "untagged {affected} subscribers",
    "subscribers.copy": "copied {affected} subscribers", "subscribers.move": "moved {affected} subscribers",
    "subscribers.unsubscribe": "unsubscribed {affected} subscribers",
    "subscribers.delete": "deleted {affected} subscribers",
    "privacy.exported": "exported the data of {target}", "privacy.erased": "erased {target}",
    "invite.created": "invited {target} as {role}", "invite.revoked": "took back the invitation of {target}",
    "member.role_changed": "made {target} {to} (was {from})", "member.removed": "removed {target} from the team",
    "member.joined": "joined the team as {role}",
    "server.created": "added delivery server {target}", "server.updated": "changed delivery server {target}",
    "server.status_changed": "set delivery server {target} to {to}",
    "server.deleted": "deleted delivery server {target}",
    "server.pause_lifted": "lifted the pause of delivery server {target} for {domain_group}",
    "bounces.thresholds_changed": "changed the bounce thresholds",
    "bounce_mailbox.created": "added bounce mailbox {target}",
    "bounce_mailbox.updated": "changed bounce mailbox {target}",
    "bounce_mailbox.deleted": "removed bounce mailbox {target}",
    "bounces.rule_created": "added bounce rule {target}", "bounces.rule_changed": "changed bounce rule {target}",
    "bounces.rule_deleted": "deleted bounce rule {target}",
    "bounces.reclassified": "reclassified bounce {target} as {category}",
    "server.tested": "tested delivery server {target}",
    "template.created": "created template {target}", "template.saved": "saved template {target}",
    "template.duplicated": "duplicated a template as {target}", "template.archived": "archived template {target}",
    "template.restored": "restored template {target}", "template.test_sent": "sent a test of template {target}",
    "import.uploaded": "uploaded {target} to import", "import.created": "set up import {target}",
    "import.started": "started importing {target}", "import.discarded": "discarded import {target}",
    "import.cancel": "cancelled import {target}", "import.resume": "resumed import {target}",
    "import.rollback": "rolled back import {target}",
    "suppression_list.created": "created suppression list {target}",
    "suppression_list.renamed": "renamed suppression list {target}",
    "suppression_list.deleted": "deleted suppression list {target}",
    "suppression_list.exported": "exported suppression list {target}",
    "suppression.entries_added": "added addresses to suppression list {target}",
    "suppression.entry_removed": "removed an address from suppression list {target}",
    "domain.added": "added sending domain {target}", "domain.deleted": "deleted sending domain {target}",
    "segment.created": "created segment {target}", "segment.updated": "changed segment {target}",
    "segment.deleted": "deleted segment {target}", "segment.exported": "exported segment {target}",
    "routing.rule_added": "added routing rule {target}", "routing.rule_deleted": "deleted routing rule {target}",
    "routing.group_updated": "changed domain group {target}", "warmup.plan_created": "created warm-up plan {target}",
    "warmup.assigned": "changed the warm-up of delivery server {target}",
    "user.login": "signed in", "user.signed_out_everywhere": "signed out everywhere",
    "user.password_changed": "changed their password",
    "robot_rule.created": "added robot rule {target}", "robot_rule.updated": "changed robot rule {target}",
    "robot_rule.enabled": "turned on robot rule {target}", "robot_rule.disabled": "turned off robot rule {target}",
    "robot_rule.deleted": "deleted robot rule {target}",
    "robot_rule.defaults_restored": "restored the default robot rules",
    "tracking.settings_changed": "changed the tracking settings",
    "tracking.postback_key_rotated": "made a new postback key",
    "api_key.created": "created API key {target}", "api_key.rotated": "rotated API key {target}",
    "api_key.revoked": "revoked API key {target}",
    "webhook_endpoint.failing": "disabled webhook endpoint {target}: its deliveries kept failing",
    "intake.source_failing": "noticed that S3 source {target} is failing: {error}",
    "intake.source_quiet": "noticed that no file has reached S3 source {target} for {hours} h",
    "intake.source_recovered": "noticed that S3 source {target} works again",
    "intake_rule.created": "added a file rule to S3 source {target}",
    "intake_rule.updated": "changed a file rule of S3 source {target}",
    "churn_risk.exported": "exported the subscribers at {min_risk}% churn risk or more",
    "churn_model.retrain_requested": "asked for the churn model to be retrained",
}
STEP_WORDS = {"setup": "setup", "audience": "audience", "content": "content", "delivery": "delivery"}


class _Blank(dict):
    """Details for a phrase: a field the entry lacks reads as nothing rather than failing."""

    def __missing__(self, key: str) -> str:
        return ""


def _details(entry: Mapping[str, Any]) -> dict[str, Any]:
    details = entry.get("details") or {}
    return json.loads(details) if isinstance(details, str) else dict(details)


def _carried_name(entry: Mapping[str, Any]) -> str:
    """The target's name as the entry itself recorded it (deleted things, tracking summaries)."""
    details = _details(entry)
    return str(next((details[key] for key in ("name", "tag", "domain", "file") if details.get(key)), ""))


def _target_id(entry: Mapping[str, Any]) -> int | None:
    text = str(entry.get("target_id") or "")
    return int(text) if text.isdigit() else None


async def _names(workspace_id: int, entries: list[Mapping[str, Any]]) -> dict[tuple[str, int], str]:
    """The current name of each target the entries point at, one query per kind of target."""
    wanted: dict[str, set[int]] = {}
    for entry in entries:
        kind, target = str(entry.get("target_type") or ""), _target_id(entry)
        if target is not None and (kind in NAMED_BY or kind == "user"):
            wanted.setdefault(kind, set()).add(target)
    names: dict[tuple[str, int], str] = {}
    for kind, ids in wanted.items():
        if kind == "user":
            rows = await Membership.select(Membership.user_id.as_alias("id"), Membership.user_id.email.as_alias(
                "name")).where(owned_by(Membership, workspace_id), Membership.user_id.is_in(list(ids)))
        else:
            table, column = NAMED_BY[kind]
            rows = await table.select(table._meta.primary_key.as_alias("id"), column.as_alias("name")).where(
                owned_by(table, workspace_id), table._meta.primary_key.is_in(list(ids)))
        names.update({(kind, row["id"]): str(row["name"]) for row in rows})
    return names


def _sentence(entry: Mapping[str, Any], target: str) -> str:
    action = str(entry.get("action") or "")
    details = _details(entry)
    phrase = PHRASES.get(action)
    if phrase is None:
        noun, _, verb = action.partition(".")
        phrase = f"{verb.replace('_', ' ') or noun} {noun.replace('_', ' ')} {{target}}".strip()
    values = _Blank({**{key: str(value) for key, value in details.items()}, "target": target,
                     "step": STEP_WORDS.get(str(details.get("step")), str(details.get("step") or ""))})
    said = phrase.format_map(values).replace("  ", " ").strip()
    return f"{entry.get('actor') or 'Someone'} {said}"


def described(entries: list[Mapping[str, Any]], names: Mapping[tuple[str, int], str]) -> list[dict[str, Any]]:
    """The entries with a `sentence` in words and the `link` to their target while it exists."""
    shown = []
    for entry in entries:
        kind, target_id = str(entry.get("target_type") or ""), _target_id(entry)
        current = names.get((kind, target_id)) if target_id is not None else None
        target = current or _carried_name(entry) or (f"#{target_id}" if target_id is not None
                                                     else str(entry.get("target_id") or ""))
        exists = current is not None or entry.get("action") == ENGAGEMENT
        link = LINKS[kind].format(target_id) if exists and kind in LINKS else ""
        shown.append({**entry, "sentence": _sentence(entry, f"“{target}”" if target else ""), "link": link})
    return shown


async def in_words(workspace_id: int, entries: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """`described`, with each target named as it is now called (as the entry recorded it once deleted).

    A tracking summary names its campaign itself: those come several times a second while a campaign is
    read, and need no query."""
    looked_up = [entry for entry in entries if entry.get("action") != ENGAGEMENT]
    return described(entries, await _names(workspace_id, looked_up) if looked_up else {})


def _moment(entry: Mapping[str, Any]) -> datetime:
    at = entry.get("created_at")
    return at if isinstance(at, datetime) else datetime.fromisoformat(str(at))


async def recent(workspace_id: int, limit: int = 10) -> list[dict[str, Any]]:
    """The newest entries of the workspace's feed, in words: audit rows and the tracking summaries kept."""
    entries = await recent_entries(workspace_id, limit=limit)
    try:
        summaries = await activity.kept(get_redis(), workspace_id)
    except RedisError:
        summaries = []
    newest = sorted([*entries, *summaries], key=_moment, reverse=True)[:limit]
    return await in_words(workspace_id, newest)
