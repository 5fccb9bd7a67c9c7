"""Bulk actions on the subscribers ticked on screen or on everyone matching the filter on screen.

`apply` is the one entry point: it checks what the bulk form asked, chooses the targets once, refuses a
whole-filter action whose count changed since the person confirmed it, and runs one named statement
(app/services/sql/subscribers.sql) in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from app.db.audience import Subscriber, Tag
from app.services import statements
from app.services.automations import triggers as flow_triggers
from app.services.forms import FORM_WIDE
from app.services.lists import get_list
from app.services.subscribers import SubscriberError, SubscriberFilter, choose_targets, ensure_tag
from app.services.tenancy import owned_by
from app.services.webhooks import producers as webhook_events

SCOPES = ("selection", "filter")


@dataclass(frozen=True)
class BulkOrder:
    """What the bulk form asked: an action, on the ticked rows (`ids`) or on everyone `chosen` matches."""

    action: str
    scope: str
    chosen: SubscriberFilter
    ids: list[int] = field(default_factory=list)
    tag_name: str = ""
    target_list: int | None = None
    # The count the person confirmed for a whole-filter action (the browser asks before sending).
    confirmed_count: int | None = None

    @property
    def targets(self) -> SubscriberFilter:
        return self.chosen if self.scope == "filter" else SubscriberFilter(ids=self.ids)


@dataclass(frozen=True)
class BulkOutcome:
    action: str
    affected: int
    message: str


Target = dict  # the tag ({"id", "name"}) or list an action puts subscribers on; empty for the others


@dataclass(frozen=True)
class _Action:
    needs: str  # the form field it cannot run without: "tag_name", "target_list" or ""
    statements: tuple[str, ...]  # run in order over the targets; the last one's count is what the flash says
    done: str  # the flash, with {n} and {target}


ACTIONS: dict[str, _Action] = {
    "tag": _Action("tag_name", ("subscribers.tag",), "Tagged {n} subscriber(s) “{target}”."),
    "untag": _Action("tag_name", ("subscribers.untag",), "Removed tag “{target}” from {n} subscriber(s)."),
    "copy": _Action("target_list", ("subscribers.copy",), "Copied {n} subscriber(s) to “{target}”."),
    "move": _Action("target_list", ("subscribers.copy", "subscribers.remove-moved"),
                    "Moved {n} subscriber(s) to “{target}”."),
    "unsubscribe": _Action("", ("subscribers.change-status",), "Unsubscribed {n} subscriber(s)."),
    "delete": _Action("", ("subscribers.delete",), "Deleted {n} subscriber(s)."),
}


def _problems(order: BulkOrder) -> dict[str, str]:
    """Every reason the form cannot be acted on, by field."""
    action = ACTIONS.get(order.action)
    if action is None:
        return {"action": "Choose an action."}
    problems = {}
    if action.needs == "tag_name" and not order.tag_name.strip():
        problems["tag_name"] = "Type the tag's name."
    if action.needs == "target_list" and not order.target_list:
        problems["target_list"] = "Choose the list to put them on."
    if order.scope not in SCOPES:
        problems["scope"] = "Choose whom the action applies to."
    elif order.scope == "selection" and not order.ids:
        problems["scope"] = "Tick at least one subscriber, or apply the action to everyone matching the filter."
    elif order.scope == "filter" and order.action == "delete" and order.confirmed_count is None:
        problems[FORM_WIDE] = "Confirm how many subscribers to delete: nothing was deleted."
    return problems


async def _target(workspace_id: int, order: BulkOrder) -> Target:
    """The tag or list the action needs, checked against the workspace."""
    if ACTIONS[order.action].needs == "target_list":
        found = await get_list(workspace_id, order.target_list)
        if found is None:
            raise LookupError("list")
        return found
    name = order.tag_name.strip()[:64]
    if order.action == "tag":
        return {"id": await ensure_tag(workspace_id, name), "name": name}
    if order.action == "untag":
        tag = await Tag.select(Tag.id, Tag.name).where(owned_by(Tag, workspace_id), Tag.name == name).first()
        if tag is None:
            raise SubscriberError({"tag_name": f"No tag is named “{name}”."})
        return tag
    return {}


def _arguments(order: BulkOrder, target: Target) -> tuple[object, ...]:
    """What the action's statements take after the workspace."""
    if order.action == "unsubscribe":
        return ("unsubscribed", "bulk-action")
    return (target["id"],) if target else ()


async def apply(workspace_id: int, order: BulkOrder) -> BulkOutcome:
    """Run the bulk action `order` asks for, all of it or nothing (FormError says what to correct)."""
    problems = _problems(order)
    if problems:
        raise SubscriberError(problems)
    action = ACTIONS[order.action]
    target = await _target(workspace_id, order)
    async with Subscriber._meta.db.transaction():
        chosen = await choose_targets(workspace_id, order.targets)
        if order.scope == "filter" and order.confirmed_count is not None and chosen != order.confirmed_count:
            raise SubscriberError(
                f"The filter now matches {chosen:,} subscriber(s), not the {order.confirmed_count:,} you confirmed: "
                "nothing was changed. Check the rows and apply the action again.")
        if order.action == "tag":
            await flow_triggers.tagging(workspace_id, target["id"], target["name"])
        for name in action.statements:
            rows = await statements.run(name, workspace_id, *_arguments(order, target))
        if order.action == "unsubscribe":
            await webhook_events.status_changed(workspace_id, "unsubscribed")
    affected = int(rows[0]["n"])
    return BulkOutcome(order.action, affected, action.done.format(n=f"{affected:,}", target=target.get("name", "")))
