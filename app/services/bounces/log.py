"""The bounce log: outcomes newest first, searched and filtered, a page at a time; the report behind one;
and reclassifying an outcome nobody recognised.

Pages go back by keyset on the outcome's id (`before`), so a page deep in a busy log costs what the first
does; each filter has an index that starts with the workspace and ends with the id.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from app.piccolo_conf import DB
from app.redis_client import get_redis
from app.services.bounces import actions, rules, thresholds
from app.services.bounces.matching import DeliveryMatch
from app.services.bounces.model import CATEGORIES, UNKNOWN, Outcome
from app.services.forms import FormError
from app.services.sqlparams import Params, fetch, fetch_positional
from app.services.tenancy import checked_workspace_id

PAGE_SIZE = 50
# The raw report shown on the page; the stored one may be larger (up to intake.MAX_RAW_BYTES).
SHOWN_RAW_BYTES = 200_000
ACTION_WORDS = {actions.SUPPRESSED: "Subscriber marked bounced and blacklisted",
                actions.SOFT_LIMIT: "Soft-bounce limit reached: marked bounced and blacklisted",
                actions.COUNTED: "Counted", actions.COMPLAINED: "Subscriber marked complained and blacklisted",
                actions.STORED: "Stored only", actions.REVIEW: "Kept for review",
                actions.UNMATCHED: "No delivery of this workspace found"}


class ReclassifyError(FormError):
    """A reclassification that cannot be done, by form field name."""


@dataclass(frozen=True)
class LogFilter:
    q: str = ""
    category: str = ""
    server_id: int | None = None
    campaign_id: int | None = None
    rule: str = ""

    @property
    def active(self) -> bool:
        return bool(self.q or self.category or self.server_id or self.campaign_id or self.rule)


def _where(params: Params, workspace_id: int, chosen: LogFilter, before: int | None) -> str:
    clauses = [f"b.workspace_id = {params.add(checked_workspace_id(workspace_id))}"]
    if chosen.q:
        clauses.append(f"b.email LIKE {params.add(_prefix(chosen.q.strip().lower()))}")
    if chosen.category in CATEGORIES:
        clauses.append(f"b.category = {params.add(chosen.category)}")
    if chosen.server_id is not None:
        clauses.append(f"b.server_id = {params.add(chosen.server_id)}")
    if chosen.campaign_id is not None:
        clauses.append(f"b.campaign_id = {params.add(chosen.campaign_id)}")
    if chosen.rule:
        clauses.append(f"b.rule = {params.add(chosen.rule)}")
    if before is not None:
        clauses.append(f"b.id < {params.add(before)}")
    return " AND ".join(clauses)


def _prefix(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


async def log_page(workspace_id: int, chosen: LogFilter, before: int | None = None) -> tuple[list[dict], int | None]:
    """One page of outcomes, newest first, and the cursor of the next page (None on the last)."""
    params = Params()
    where = _where(params, workspace_id, chosen, before)
    rows = await fetch(
        "SELECT b.id, b.report_id, b.delivery_id, b.campaign_id, b.subscriber_id, b.server_id, b.domain_group, "
        "b.email, b.category, b.status, b.reply_code, b.diagnostic, b.remote_mta, b.rule, b.feedback_type, "
        "b.action_taken, b.occurred_at, c.name AS campaign_name, s.name AS server_name, r.source "
        "FROM bounces b LEFT JOIN campaigns c ON c.id = b.campaign_id AND c.workspace_id = b.workspace_id "
        "LEFT JOIN delivery_servers s ON s.id = b.server_id AND s.workspace_id = b.workspace_id "
        "LEFT JOIN bounce_reports r ON r.id = b.report_id "
        f"WHERE {where} ORDER BY b.id DESC LIMIT {PAGE_SIZE + 1}", params)
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    return rows, rows[-1]["id"] if more else None


async def filter_choices(workspace_id: int) -> dict[str, list[dict]]:
    """What the filters offer: the workspace's servers, the campaigns and rules that have bounces."""
    workspace_id = checked_workspace_id(workspace_id)
    servers = await fetch_positional(
        "SELECT id, name FROM delivery_servers WHERE workspace_id = $1 ORDER BY name", [workspace_id])
    campaigns = await fetch_positional(
        "SELECT c.id, c.name FROM campaigns c WHERE c.workspace_id = $1 AND EXISTS "
        "(SELECT 1 FROM bounces b WHERE b.workspace_id = $1 AND b.campaign_id = c.id) ORDER BY c.id DESC LIMIT 200",
        [workspace_id])
    fired = await fetch_positional(
        "SELECT DISTINCT rule FROM bounces WHERE workspace_id = $1 AND rule <> '' ORDER BY rule LIMIT 500",
        [workspace_id])
    return {"servers": servers, "campaigns": campaigns, "rules": [row["rule"] for row in fired]}


async def bounce_of(workspace_id: int, bounce_id: int) -> dict:
    rows = await fetch_positional("SELECT * FROM bounces WHERE workspace_id = $1 AND id = $2",
                                  [checked_workspace_id(workspace_id), bounce_id])
    if not rows:
        raise LookupError(bounce_id)
    return rows[0]


async def report_text(workspace_id: int, bounce_id: int) -> dict[str, Any]:
    """The report behind an outcome as text (escaped by the template), cut to what a page can show."""
    bounce = await bounce_of(workspace_id, bounce_id)
    rows = await fetch_positional(
        "SELECT id, source, source_ref, format, raw, raw_size, received_at, processed_at, error "
        "FROM bounce_reports WHERE id = $1 AND workspace_id = $2", [bounce["report_id"], workspace_id])
    if not rows:
        return {"bounce": bounce, "report": None, "text": "", "cut": False}
    report = rows[0]
    raw = bytes(report["raw"])
    return {"bounce": bounce, "report": report, "text": raw[:SHOWN_RAW_BYTES].decode("utf-8", "replace"),
            "cut": report["raw_size"] > SHOWN_RAW_BYTES}


async def reclassify(workspace_id: int, bounce_id: int, form: Mapping[str, Any]) -> dict:
    """Give an unknown outcome its category and act on it as if the classifier had decided; optionally save a
    workspace rule (name and pattern from the form) so the next such report is classified by itself."""
    bounce = await bounce_of(workspace_id, bounce_id)
    if bounce["category"] != UNKNOWN:
        raise ReclassifyError("Only bounces nobody recognised can be reclassified.", field="category")
    category = str(form.get("category") or "")
    if category not in CATEGORIES or category == UNKNOWN:
        raise ReclassifyError({"category": "Choose what this bounce is."})
    save_rule = str(form.get("save_rule") or "") in ("1", "on", "true")
    async with DB.transaction():
        rule_name = ""
        if save_rule:
            saved = await rules.create_rule(workspace_id, {**form, "category": category})
            rule_name = f"workspace-rule:{saved['id']}"
        feedback = actions.Feedback(_outcome(bounce, category, rule_name or "reclassified"), _match(bounce))
        applied = await actions.reclassified(workspace_id, bounce_id, feedback,
                                             await thresholds.feedback_settings(workspace_id))
    await actions.after_commit(get_redis(), workspace_id, applied)
    return await bounce_of(workspace_id, bounce_id)


def _match(bounce: Mapping[str, Any]) -> DeliveryMatch | None:
    if bounce["delivery_id"] is None:
        return None
    return DeliveryMatch(bounce["delivery_id"], bounce["workspace_id"], bounce["campaign_id"], bounce["subscriber_id"],
                         bounce["server_id"], bounce["domain_group"], bounce["email"])


def _outcome(bounce: Mapping[str, Any], category: str, rule: str) -> Outcome:
    return Outcome(recipient=bounce["email"], category=category, status=bounce["status"],
                   reply_code=bounce["reply_code"], diagnostic=bounce["diagnostic"], remote_mta=bounce["remote_mta"],
                   rule=rule, feedback_type=bounce["feedback_type"])
