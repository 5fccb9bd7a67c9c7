"""The team's task board: columns in order, cards in order within them, each card's trail, live for every viewer.

Every change of order (adding, moving or deleting a column, adding or moving a card) takes the workspace's
board lock for its transaction, then renumbers what it touched in one statement: moves made at the same
moment by two people are applied one after the other, each on the board as the other left it, so positions
stay distinct and no move is lost. A card always names a column (the foreign key refuses deleting a column
that still holds one), so no card is lost either. Editing a card's text needs no lock.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from redis.asyncio import Redis

from app.db.accounts import Membership
from app.db.audience import MailingList
from app.db.automations import Flow
from app.db.campaigns import Campaign
from app.db.task_board import TaskCard, TaskCardEvent, TaskColumn
from app.services.audit import Actor
from app.services.forms import FormError
from app.services.live import followed
from app.services.tenancy import checked_workspace_id, fetch_owned, owned_by, row_id

DIRECTIONS = ("left", "right", "up", "down")
MAX_LABELS = 10
TRAIL_LIMIT = 100
_LOCK = "SELECT pg_advisory_xact_lock(hashtext('ignite:task_board'), {})"
# What a card may link to, by form field: the table it names and the word a message uses.
LINKS: dict[str, tuple[type, str]] = {
    "campaign_id": (Campaign, "campaign"), "list_id": (MailingList, "list"), "flow_id": (Flow, "automation"),
}


@dataclass(frozen=True)
class Moved:
    """Where a card is after a move, for saying so to the person who moved it."""

    card_id: int
    title: str
    column: str
    position: int
    count: int
    moved: bool

    def sentence(self) -> str:
        where = f"in {self.column}, position {self.position} of {self.count}"
        return f"Moved “{self.title}” {where}." if self.moved else f"“{self.title}” stays {where}."


def _now() -> datetime:
    return datetime.now(UTC)


# Reading the board.

async def columns(workspace_id: int) -> list[dict]:
    return await TaskColumn.select(TaskColumn.id, TaskColumn.name, TaskColumn.position).where(
        owned_by(TaskColumn, workspace_id)).order_by(TaskColumn.position).order_by(TaskColumn.id)


async def _cards(workspace_id: int, card_id: int | None = None) -> list[dict]:
    one = "AND c.id = {}" if card_id is not None else ""
    return await TaskCard.raw(
        "SELECT c.*, coalesce(nullif(u.name, ''), u.email) AS assignee_name, k.name AS campaign_name, "
        "l.name AS list_name, f.name AS flow_name, t.name AS column_name FROM task_cards c "
        "JOIN task_columns t ON t.id = c.column_id AND t.workspace_id = c.workspace_id "
        "LEFT JOIN users u ON u.id = c.assignee_id "
        "LEFT JOIN campaigns k ON k.id = c.campaign_id AND k.workspace_id = c.workspace_id "
        "LEFT JOIN lists l ON l.id = c.list_id AND l.workspace_id = c.workspace_id "
        "LEFT JOIN flows f ON f.id = c.flow_id AND f.workspace_id = c.workspace_id "
        f"WHERE c.workspace_id = {{}} {one} ORDER BY c.column_id, c.position, c.id",
        *([checked_workspace_id(workspace_id)] + ([card_id] if card_id is not None else [])),
    )


def is_overdue(card: Mapping[str, Any], today: date) -> bool:
    """A card whose due date (a UTC day) has passed."""
    return card["due_on"] is not None and card["due_on"] < today


async def board(workspace_id: int, today: date | None = None) -> list[dict]:
    """The columns in order, each with its cards in order (assignee and linked things named, `overdue` told)."""
    today = today or datetime.now(UTC).date()
    shown = [{**column, "cards": []} for column in await columns(workspace_id)]
    by_id = {column["id"]: column for column in shown}
    for card in await _cards(workspace_id):
        by_id[card["column_id"]]["cards"].append({**card, "overdue": is_overdue(card, today)})
    return shown


async def card(workspace_id: int, card_id: int) -> dict:
    pk = row_id(TaskCard, card_id)
    found = await _cards(workspace_id, pk) if pk is not None else []
    if not found:
        raise LookupError("card")
    return found[0]


async def trail(workspace_id: int, card_id: int) -> list[dict]:
    """What happened to a card, newest first: created, edited, moved, commented."""
    return await TaskCardEvent.select().where(
        owned_by(TaskCardEvent, workspace_id), TaskCardEvent.card_id == card_id,
    ).order_by(TaskCardEvent.id, ascending=False).limit(TRAIL_LIMIT).output(load_json=True)


async def members(workspace_id: int) -> list[tuple[str, str]]:
    """The workspace's people as (user id, name) choices for an assignee."""
    rows = await Membership.select(
        Membership.user_id, Membership.user_id.email.as_alias("email"), Membership.user_id.name.as_alias("name"),
    ).where(owned_by(Membership, workspace_id)).order_by(Membership.user_id.email)
    return [(str(row["user_id"]), row["name"] or row["email"]) for row in rows]


async def link_choices(workspace_id: int, limit: int = 200) -> dict[str, list[tuple[str, str]]]:
    """The newest campaigns, lists and automations a card may link to, as (id, name) choices."""
    choices = {}
    for name, (table, _word) in LINKS.items():
        rows = await table.select(table.id, table.name).where(owned_by(table, workspace_id)).order_by(
            table.id, ascending=False).limit(limit)
        choices[name] = [(str(row["id"]), row["name"]) for row in rows]
    return choices


# Columns.

def _column_name(form: Mapping[str, str]) -> str:
    name = str(form.get("name", "")).strip()
    if not name:
        raise FormError("Give the column a name, e.g. “Doing”.", field="name")
    if len(name) > 80:
        raise FormError("Keep the name under 80 characters.", field="name")
    return name


async def _owned_column(workspace_id: int, column_id: object) -> dict:
    column = await fetch_owned(TaskColumn, workspace_id, column_id)
    if column is None:
        raise LookupError("column")
    return column


async def add_column(workspace_id: int, form: Mapping[str, str]) -> dict:
    name = _column_name(form)
    async with TaskColumn._meta.db.transaction():
        await TaskColumn.raw(_LOCK, checked_workspace_id(workspace_id))
        [row] = await TaskColumn.raw(
            "INSERT INTO task_columns (workspace_id, name, position) SELECT {}, {}, coalesce(max(position), 0) + 1 "
            "FROM task_columns WHERE workspace_id = {} RETURNING *", workspace_id, name, workspace_id)
    return row


async def rename_column(workspace_id: int, column_id: int, form: Mapping[str, str]) -> dict:
    column = await _owned_column(workspace_id, column_id)
    await TaskColumn.update({TaskColumn.name: _column_name(form)}).where(
        owned_by(TaskColumn, workspace_id), TaskColumn.id == column["id"])
    return column


async def move_column(workspace_id: int, column_id: int, direction: str) -> None:
    """One place left or right; the whole order renumbered in one statement."""
    async with TaskColumn._meta.db.transaction():
        await TaskColumn.raw(_LOCK, checked_workspace_id(workspace_id))
        ids = [column["id"] for column in await columns(workspace_id)]
        if column_id not in ids:
            raise LookupError("column")
        if direction not in ("left", "right"):
            raise FormError("A column moves left or right.", field="direction")
        at = ids.index(column_id)
        to = max(0, min(len(ids) - 1, at + (1 if direction == "right" else -1)))
        ids.insert(to, ids.pop(at))
        await _renumber_columns(workspace_id, ids)


async def _renumber_columns(workspace_id: int, ids: list[int]) -> None:
    await TaskColumn.raw(
        "UPDATE task_columns t SET position = o.n FROM unnest({}::int[]) WITH ORDINALITY AS o(id, n) "
        "WHERE t.workspace_id = {} AND t.id = o.id", ids, workspace_id)


async def delete_column(workspace_id: int, column_id: int) -> dict:
    """Only an empty column goes: its cards must be moved or deleted first."""
    async with TaskColumn._meta.db.transaction():
        await TaskColumn.raw(_LOCK, checked_workspace_id(workspace_id))
        column = await _owned_column(workspace_id, column_id)
        held = await TaskCard.count().where(owned_by(TaskCard, workspace_id), TaskCard.column_id == column["id"])
        if held:
            raise FormError(f"“{column['name']}” still holds {held} card{'s' if held != 1 else ''}: move or "
                            "delete them first.")
        await TaskColumn.delete().where(owned_by(TaskColumn, workspace_id), TaskColumn.id == column["id"])
    return column


# Cards.

def _optional_id(form: Mapping[str, str], name: str) -> int | None:
    value = str(form.get(name, "")).strip()
    if not value:
        return None
    if not value.isdigit():
        raise FormError("Choose one from the list.", field=name)
    return int(value)


def _title(form: Mapping[str, str]) -> str:
    title = str(form.get("title", "")).strip()
    if not title:
        raise FormError("Give the card a title.", field="title")
    if len(title) > 200:
        raise FormError("Keep the title under 200 characters.", field="title")
    return title


def _description(form: Mapping[str, str]) -> str:
    description = str(form.get("description", "")).strip()
    if len(description) > 10_000:
        raise FormError("Keep the description under 10,000 characters.", field="description")
    return description


def _due_on(form: Mapping[str, str]) -> date | None:
    value = str(form.get("due_on", "")).strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise FormError("Enter the due date as YYYY-MM-DD, e.g. 2026-12-24.", field="due_on") from None


def _labels(form: Mapping[str, str]) -> list[str]:
    labels = list(dict.fromkeys(part.strip() for part in str(form.get("labels", "")).split(",") if part.strip()))
    if len(labels) > MAX_LABELS:
        raise FormError(f"At most {MAX_LABELS} labels.", field="labels")
    if any(len(label) > 40 for label in labels):
        raise FormError("Keep each label under 40 characters.", field="labels")
    return labels


async def _assignee(workspace_id: int, form: Mapping[str, str]) -> int | None:
    assignee = _optional_id(form, "assignee_id")
    if assignee is not None and not await Membership.exists().where(
            owned_by(Membership, workspace_id), Membership.user_id == assignee):
        raise FormError("Choose a member of this workspace.", field="assignee_id")
    return assignee


async def _linked(workspace_id: int, form: Mapping[str, str], name: str) -> int | None:
    """The campaign, list or automation the field names, one of this workspace's."""
    table, word = LINKS[name]
    linked = _optional_id(form, name)
    if linked is not None and await fetch_owned(table, workspace_id, linked) is None:
        raise FormError(f"No such {word} in this workspace.", field=name)
    return linked


async def _fields(workspace_id: int, form: Mapping[str, str], errors: dict[str, str]) -> dict[str, Any]:
    """A card's fields from a form; each wrong one's message added to `errors`, so the form names them all."""
    values: dict[str, Any] = {}
    for name, read in (("title", _title), ("description", _description), ("due_on", _due_on), ("labels", _labels)):
        try:
            values[name] = read(form)
        except FormError as exc:
            errors.update(exc.errors)
    for name in ("assignee_id", *LINKS):
        try:
            values[name] = await (_assignee(workspace_id, form) if name == "assignee_id"
                                  else _linked(workspace_id, form, name))
        except FormError as exc:
            errors.update(exc.errors)
    return values


async def card_values(workspace_id: int, form: Mapping[str, str]) -> dict[str, Any]:
    """A card's fields from a form, or FormError naming every field that is wrong."""
    errors: dict[str, str] = {}
    values = await _fields(workspace_id, form, errors)
    if errors:
        raise FormError(errors)
    return values


async def create_card(workspace_id: int, form: Mapping[str, str], actor: Actor) -> dict:
    """A new card at the bottom of the column the form names."""
    errors: dict[str, str] = {}
    column = await fetch_owned(TaskColumn, workspace_id, str(form.get("column_id", "")).strip())
    if column is None:
        errors["column_id"] = "Choose a column."
    values = await _fields(workspace_id, form, errors)
    if column is None or errors:
        raise FormError(errors)
    async with TaskCard._meta.db.transaction():
        await TaskCard.raw(_LOCK, checked_workspace_id(workspace_id))
        last = await TaskCard.raw("SELECT coalesce(max(position), 0) AS last FROM task_cards "
                                  "WHERE workspace_id = {} AND column_id = {}", workspace_id, column["id"])
        [row] = await TaskCard.insert(TaskCard(
            workspace_id=workspace_id, column_id=column["id"], position=last[0]["last"] + 1, created_at=_now(),
            updated_at=_now(), **values)).returning(*TaskCard.all_columns())
        await _note(workspace_id, row["id"], actor, "created", {"title": row["title"]})
    return row


async def update_card(workspace_id: int, card_id: int, form: Mapping[str, str], actor: Actor) -> dict:
    before = await card(workspace_id, card_id)
    values = await card_values(workspace_id, form)
    changed = sorted(name for name, value in values.items() if before[name] != value)
    async with TaskCard._meta.db.transaction():
        await TaskCard.update({**{getattr(TaskCard, name): value for name, value in values.items()},
                               TaskCard.updated_at: _now()}).where(
            owned_by(TaskCard, workspace_id), TaskCard.id == before["id"])
        if changed:
            await _note(workspace_id, before["id"], actor, "edited", {"fields": changed})
    return before


async def delete_card(workspace_id: int, card_id: int) -> dict:
    found = await card(workspace_id, card_id)
    await TaskCard.delete().where(owned_by(TaskCard, workspace_id), TaskCard.id == found["id"])
    return found


async def comment(workspace_id: int, card_id: int, form: Mapping[str, str], actor: Actor) -> None:
    found = await card(workspace_id, card_id)
    text = str(form.get("comment", "")).strip()
    if not text:
        raise FormError("Write a comment first.", field="comment")
    if len(text) > 5000:
        raise FormError("Keep a comment under 5,000 characters.", field="comment")
    await _note(workspace_id, found["id"], actor, "commented", {"text": text})


async def _note(workspace_id: int, card_id: int, actor: Actor, action: str, details: dict[str, Any]) -> None:
    await TaskCardEvent.insert(TaskCardEvent(
        workspace_id=workspace_id, card_id=card_id, user_id=actor.user_id, actor=actor.email, action=action,
        details=details, created_at=_now()))


# Moving cards.

async def move_card(workspace_id: int, card_id: int, column_id: object, before_id: object, actor: Actor) -> Moved:
    """Put a card in a column just above `before_id` (a card of that column), or at its bottom without one:
    what a drop says, which still means the same after someone else's move."""
    async with TaskCard._meta.db.transaction():
        await TaskCard.raw(_LOCK, checked_workspace_id(workspace_id))
        moving = await card(workspace_id, card_id)
        target = await _owned_column(workspace_id, column_id)
        others = await _column_card_ids(workspace_id, target["id"], moving["id"])
        before = row_id(TaskCard, before_id)
        index = others.index(before) if before in others else len(others)
        return await _placed(workspace_id, moving, target, others, index, actor)


async def step_card(workspace_id: int, card_id: int, direction: str, actor: Actor) -> Moved:
    """One step left or right (to the neighbouring column, same height) or up or down: the keyboard's move."""
    async with TaskCard._meta.db.transaction():
        await TaskCard.raw(_LOCK, checked_workspace_id(workspace_id))
        moving = await card(workspace_id, card_id)
        if direction not in DIRECTIONS:
            raise FormError("A card moves left, right, up or down.", field="direction")
        ordered = await columns(workspace_id)
        at = next(i for i, column in enumerate(ordered) if column["id"] == moving["column_id"])
        here = await _column_card_ids(workspace_id, moving["column_id"], moving["id"])
        index = await _height(workspace_id, moving)
        if direction in ("up", "down"):
            target, others = ordered[at], here
            index = max(0, min(len(here), index + (1 if direction == "down" else -1)))
        else:
            target = ordered[max(0, min(len(ordered) - 1, at + (1 if direction == "right" else -1)))]
            others = here if target["id"] == moving["column_id"] else await _column_card_ids(
                workspace_id, target["id"], moving["id"])
        return await _placed(workspace_id, moving, target, others, index, actor)


async def _height(workspace_id: int, moving: dict) -> int:
    """How many cards are above this one in its column."""
    rows = await TaskCard.raw(
        "SELECT count(*) AS above FROM task_cards WHERE workspace_id = {} AND column_id = {} AND id <> {} "
        "AND (position, id) < ({}, {})", workspace_id, moving["column_id"], moving["id"], moving["position"],
        moving["id"])
    return int(rows[0]["above"])


async def _column_card_ids(workspace_id: int, column_id: int, leaving_out: int) -> list[int]:
    rows = await TaskCard.raw("SELECT id FROM task_cards WHERE workspace_id = {} AND column_id = {} AND id <> {} "
                              "ORDER BY position, id", workspace_id, column_id, leaving_out)
    return [row["id"] for row in rows]


async def _placed(workspace_id: int, moving: dict, target: dict, others: list[int], index: int,
                  actor: Actor) -> Moved:
    """The card at `index` among `others` in `target`; the column renumbered in one statement. Called under
    the board lock, so `others` is the column as it stands."""
    index = max(0, min(len(others), index))
    ordered = [*others[:index], moving["id"], *others[index:]]
    was = await _height(workspace_id, moving)
    moved = target["id"] != moving["column_id"] or index != was
    if moved:
        await TaskCard.raw(
            "UPDATE task_cards c SET column_id = {}, position = o.n FROM unnest({}::int[]) WITH ORDINALITY AS "
            "o(id, n) WHERE c.workspace_id = {} AND c.id = o.id", target["id"], ordered, workspace_id)
        await _note(workspace_id, moving["id"], actor, "moved",
                    {"from_column_id": moving["column_id"], "from_column": moving["column_name"],
                     "to_column": target["name"], "position": index + 1})
    return Moved(moving["id"], moving["title"], target["name"], index + 1, len(ordered), moved)


# Live: other viewers hear of every change.

def channel(workspace_id: int) -> str:
    return f"task_board:{checked_workspace_id(workspace_id)}"


async def announce(redis: Redis, workspace_id: int, what: str, card_id: int | None = None, origin: str = "") -> None:
    """`origin` names the open board that made the change (it has the board already), or "" for none."""
    await redis.publish(channel(workspace_id), json.dumps({"what": what, "card_id": card_id, "origin": origin}))


async def follow(redis: Redis, workspace_id: int, idle_seconds: float = 15.0) -> AsyncIterator[dict | None]:
    """Each change as it is announced; None after each quiet spell so callers can send a keep-alive."""
    async for message in followed(redis, channel(workspace_id), idle_seconds):
        yield json.loads(message) if message else None
