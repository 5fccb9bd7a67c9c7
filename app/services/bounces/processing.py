"""Stored reports turned into outcomes, matched to their deliveries and acted on, each exactly once.

A report is processed in one transaction that first locks its row (`FOR UPDATE SKIP LOCKED`, only while
`processed_at` is empty) and ends by setting `processed_at`: two workers given the same report (a task
and the sweep, a retried task) never both act on it, and a crash before the commit leaves it for the
next try. A report that cannot be read has its error recorded and is tried again by the sweep, a few
times, then left in the log with its error.

The workspace comes from the source (a workspace's mailbox or webhook) or else from the delivery the
report names (the inbound MX, through the signed VERP address). The workspace's own rules are used
as soon as the workspace is known.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from redis.asyncio import Redis

from app.logs import get_logger
from app.piccolo_conf import DB
from app.services import statements
from app.services.bounces import actions, matching, thresholds
from app.services.bounces.model import UNKNOWN, FeedbackSettings, Outcome, Report, Rule
from app.services.bounces.provider_reports import PROVIDERS, provider_report
from app.services.bounces.reports import parse_report

log = get_logger("ignite.bounces")

MAX_ATTEMPTS = 5
# The sweep leaves fresh reports to the task that `accept`'s caller queued for them.
SWEEP_AFTER_SECONDS = 60
SWEEP_BATCH = 1000
MAX_ERROR_CHARS = 500


class UnreadableReport(ValueError):
    """A report in a format nothing here reads."""


@dataclass(frozen=True)
class Processed:
    report_id: int
    workspace_id: int | None
    applied: actions.Applied


@dataclass
class Known:
    """Each workspace's rules and thresholds, read once per batch of reports: a change applies to the next."""

    rules: dict[int, list[Rule]] = field(default_factory=dict)
    settings: dict[int, FeedbackSettings] = field(default_factory=dict)

    async def rules_of(self, workspace_id: int) -> list[Rule]:
        if workspace_id not in self.rules:
            self.rules[workspace_id] = await workspace_rules(workspace_id)
        return self.rules[workspace_id]

    async def settings_of(self, workspace_id: int) -> FeedbackSettings:
        if workspace_id not in self.settings:
            self.settings[workspace_id] = await thresholds.feedback_settings(workspace_id)
        return self.settings[workspace_id]


async def workspace_rules(workspace_id: int) -> list[Rule]:
    """The workspace's enabled rules in their order, named by id (an outcome's rule is `workspace-rule:<id>`)."""
    rows = await statements.run("bounces.enabled-rules", workspace_id)
    return [Rule(str(row["id"]), row["pattern"], row["category"], row["status"]) for row in rows]


def read_report(report_format: str, raw: bytes, rules: Sequence[Rule]) -> Report:
    """The report a stored one says, with at least one outcome (an unreadable one is kept for review)."""
    if report_format == "email":
        report = parse_report(raw, rules)
    elif report_format in PROVIDERS:
        report = provider_report(report_format, raw)
    else:
        raise UnreadableReport(f"No reader for reports in the {report_format!r} format")
    if report.outcomes:
        return report
    return replace(report, outcomes=(Outcome(recipient="", category=UNKNOWN, rule="no-recipient"),))


async def _matches(workspace_id: int | None, report: Report) -> list[matching.DeliveryMatch | None]:
    return [await matching.delivery_for(workspace_id, report, outcome) for outcome in report.outcomes]


def _workspace_of(given: int | None, matches: Sequence[matching.DeliveryMatch | None]) -> int | None:
    if given is not None:
        return given
    return next((match.workspace_id for match in matches if match is not None), None)


async def _processed(row: dict, known: Known) -> Processed:
    """Read, match and act on one claimed report (inside its transaction)."""
    given = row["workspace_id"]
    rules = await known.rules_of(given) if given is not None else []
    report = read_report(row["format"], bytes(row["raw"]), rules)
    matches = await _matches(given, report)
    workspace_id = _workspace_of(given, matches)
    if workspace_id is None:
        await statements.run("bounces.finish-report", row["id"], None, "Names no delivery of any workspace")
        return Processed(row["id"], None, actions.Applied([], []))
    if given is None and (rules := await known.rules_of(workspace_id)):
        report = read_report(row["format"], bytes(row["raw"]), rules)
    items = [actions.Feedback(outcome, match if match and match.workspace_id == workspace_id else None,
                              row["id"], position)
             for position, (outcome, match) in enumerate(zip(report.outcomes, matches, strict=True))]
    applied = await actions.apply(workspace_id, items, await known.settings_of(workspace_id))
    await statements.run("bounces.finish-report", row["id"], workspace_id, "")
    return Processed(row["id"], workspace_id, applied)


async def process_report(report_id: int, known: Known | None = None) -> Processed | None:
    """Process one report in its own transaction; None when it is already processed or being processed."""
    async with DB.transaction():
        rows = await statements.run("bounces.claim-report", report_id)
        if not rows:
            return None
        return await _processed(rows[0], known or Known())


async def _failed(report_id: int, error: Exception) -> None:
    log.warning("bounce_report_failed", report_id=report_id, error=repr(error))
    await statements.run("bounces.report-failed", report_id, f"{type(error).__name__}: {error}"[:MAX_ERROR_CHARS])


async def process_reports(redis: Redis, report_ids: Sequence[int]) -> list[Processed]:
    """Process each report; one that fails is recorded and left to the sweep, the others go on. What follows
    the commits (opt-outs announced, rates judged, AIMD fed) is done once per workspace for the whole batch."""
    done, known = [], Known()
    for report_id in report_ids:
        try:
            processed = await process_report(report_id, known)
        except Exception as error:
            # Whatever one report does to the parser, the others still get processed; when the database
            # itself fails, recording the error fails too and the task is retried.
            await _failed(report_id, error)
            continue
        if processed is not None:
            done.append(processed)
    for workspace_id, applied in _by_workspace(done).items():
        await actions.after_commit(redis, workspace_id, applied)
        await actions.feed_blocks(redis, applied)
    return done


def _by_workspace(done: Sequence[Processed]) -> dict[int, actions.Applied]:
    merged: dict[int, actions.Applied] = {}
    for processed in done:
        if processed.workspace_id is None:
            continue
        before = merged.get(processed.workspace_id, actions.Applied([], []))
        merged[processed.workspace_id] = actions.Applied(before.counts + processed.applied.counts,
                                                         before.opted_out + processed.applied.opted_out)
    return merged


async def sweep(redis: Redis) -> list[Processed]:
    """Process the reports that were stored but not processed a while later (their task was lost)."""
    rows = await statements.run("bounces.unprocessed", MAX_ATTEMPTS, SWEEP_AFTER_SECONDS, SWEEP_BATCH)
    return await process_reports(redis, [row["id"] for row in rows])
