"""Analytics → Tasks: the team's board of cards, moved by drag and drop or keyboard, live for every viewer.

Analysts see the board read-only (every POST here is a change: marketers and above). Each change is
announced on the workspace's board channel, and every open board's stream sends the board as it now stands.
The stream renders it rather than asking the page to fetch it: a fetch would be a second request in the
same session racing the mover's own page, and could write back a flash message that page had just shown.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

from litestar import Controller, Request, get, post
from litestar.plugins.flash import flash
from litestar.response import Redirect, ServerSentEvent, ServerSentEventMessage, Template
from redis.asyncio import Redis

from app.routes.portals import entering, permitted, section_context
from app.services import task_board
from app.services.accounts import Viewer
from app.web.auth import signed_in
from app.web.pages import actor_of, is_htmx, submitted
from app.web.permissions import CHANGE

BOARD_PAGE = "analytics/tasks/index.html"
BOARD = "analytics/tasks/partials/board.html"
CARD_PAGE = "analytics/tasks/card.html"
NEW_CARD_PAGE = "analytics/tasks/new_card.html"
HOME = "/analytics/tasks"
SSE_HEADERS = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
# A move's answer swaps the board found when it arrives: one a stream swapped in meanwhile replaced the old one.
MOVED_HEADERS = {"HX-Retarget": "global #task-board"}


def _can_edit(viewer: Viewer) -> bool:
    return permitted(viewer, CHANGE)[CHANGE]


async def _board_context(viewer: Viewer, workspace_id: int, moved: task_board.Moved | None = None) -> dict[str, Any]:
    return {**section_context("analytics", "tasks"), "columns": await task_board.board(workspace_id),
            "can_edit": _can_edit(viewer), "form": {}, "errors": {},
            "announce": moved.sentence() if moved else "", "focus_card": moved.card_id if moved else None}


async def _card_context(viewer: Viewer, workspace_id: int, card_id: int) -> dict[str, Any]:
    card = await task_board.card(workspace_id, card_id)
    form = {**card, "labels": ", ".join(card["labels"]), "due_on": card["due_on"].isoformat() if card["due_on"] else ""}
    return {**await _choices(workspace_id), "card": card, "trail": await task_board.trail(workspace_id, card["id"]),
            "can_edit": _can_edit(viewer), "form": {name: "" if value is None else str(value)
                                                    for name, value in form.items()}, "errors": {}}


async def _choices(workspace_id: int) -> dict[str, Any]:
    """What a card form offers: columns, members and the workspace's campaigns, lists and automations."""
    return {**section_context("analytics", "tasks"),
            "column_choices": [(str(c["id"]), c["name"]) for c in await task_board.columns(workspace_id)],
            "members": await task_board.members(workspace_id), "links": await task_board.link_choices(workspace_id)}


async def board_messages(redis: Redis, workspace_id: int, render: Callable[[list[dict]], str], page: str = "",
                         idle_seconds: float = 15.0) -> AsyncIterator[ServerSentEventMessage]:
    """The board, rendered, each time someone changes it (`page`'s own moves aside: their answer brought it the
    board already, and a second copy arriving later would race its next move); a keep-alive comment after each
    quiet spell."""
    async for change in task_board.follow(redis, workspace_id, idle_seconds):
        if change is None:
            yield ServerSentEventMessage(comment="keep-alive")
        elif not page or change.get("origin") != page:
            yield ServerSentEventMessage(event="board", data=render(await task_board.board(workspace_id)))


async def _moved(request: Request, viewer: Viewer, workspace_id: int, redis: Redis, moved: task_board.Moved,
                 form: Mapping[str, Any]) -> Template | Redirect:
    """The board with the move said aloud and the card focused again; a plain form goes back to the board."""
    if moved.moved:
        origin = str(form.get("board_page", ""))[:64]
        await task_board.announce(redis, workspace_id, "card.moved", moved.card_id, origin)
    if is_htmx(request):
        return Template(BOARD, context=await _board_context(viewer, workspace_id, moved), headers=MOVED_HEADERS)
    flash(request, moved.sentence(), "info")
    return Redirect(HOME, status_code=303)


class TaskBoardController(Controller):
    path = HOME
    guards = [signed_in]
    include_in_schema = False

    @get("/", name="task_board")
    async def index(self, viewer: Viewer, workspace_id: int) -> Template:
        await entering(viewer, "analytics")
        # Names this open board, so that its stream leaves out the moves it made itself.
        return Template(BOARD_PAGE, context={**await _board_context(viewer, workspace_id),
                                             "board_page": secrets.token_urlsafe(12)})

    @get("/events", name="task_board_events")
    async def events(self, request: Request, viewer: Viewer, workspace_id: int, redis: Redis,
                     page: str = "") -> ServerSentEvent:
        board, can_edit = request.app.template_engine.get_template(BOARD), _can_edit(viewer)

        def render(columns: list[dict]) -> str:
            # The request lets the board's forms carry this session's CSRF token; an editor's board holds the
            # column forms, which read `form` and `errors` (empty here: nobody is typing into this copy).
            return board.render(request=request, columns=columns, can_edit=can_edit, form={}, errors={})

        return ServerSentEvent(board_messages(redis, workspace_id, render, page), headers=SSE_HEADERS)

    # Columns.

    @post("/columns")
    async def add_column(self, request: Request, viewer: Viewer, workspace_id: int, redis: Redis) -> Redirect:
        form = await submitted(request, BOARD_PAGE, lambda: _board_context(viewer, workspace_id))
        column = await task_board.add_column(workspace_id, form)
        await task_board.announce(redis, workspace_id, "column.added")
        flash(request, f"Column “{column['name']}” added.", "success")
        return Redirect(HOME, status_code=303)

    @post("/columns/{column_id:int}")
    async def rename_column(self, request: Request, viewer: Viewer, workspace_id: int, redis: Redis,
                            column_id: int) -> Redirect:
        form = await submitted(request, BOARD_PAGE, lambda: _board_context(viewer, workspace_id))
        await task_board.rename_column(workspace_id, column_id, form)
        await task_board.announce(redis, workspace_id, "column.renamed")
        return Redirect(HOME, status_code=303)

    @post("/columns/{column_id:int}/move")
    async def move_column(self, request: Request, viewer: Viewer, workspace_id: int, redis: Redis,
                          column_id: int) -> Redirect:
        form = await submitted(request, BOARD_PAGE, lambda: _board_context(viewer, workspace_id))
        await task_board.move_column(workspace_id, column_id, form.get("direction", ""))
        await task_board.announce(redis, workspace_id, "column.moved")
        return Redirect(HOME, status_code=303)

    @post("/columns/{column_id:int}/delete")
    async def delete_column(self, request: Request, viewer: Viewer, workspace_id: int, redis: Redis,
                            column_id: int) -> Redirect:
        await submitted(request, BOARD_PAGE, lambda: _board_context(viewer, workspace_id))
        column = await task_board.delete_column(workspace_id, column_id)
        await task_board.announce(redis, workspace_id, "column.deleted")
        flash(request, f"Column “{column['name']}” deleted.", "info")
        return Redirect(HOME, status_code=303)

    # Cards.

    @get("/cards/new", name="task_card_new")
    async def new_card(self, workspace_id: int, column: int | None = None) -> Template:
        return Template(NEW_CARD_PAGE, context={**await _choices(workspace_id), "errors": {},
                                                "form": {"column_id": str(column or "")}})

    @post("/cards")
    async def create_card(self, request: Request, workspace_id: int, redis: Redis) -> Redirect:
        form = await submitted(request, NEW_CARD_PAGE, lambda: _choices(workspace_id))
        card = await task_board.create_card(workspace_id, form, actor_of(request))
        await task_board.announce(redis, workspace_id, "card.created", card["id"])
        flash(request, f"Card “{card['title']}” added.", "success")
        return Redirect(HOME, status_code=303)

    @get("/cards/{card_id:int}", name="task_card")
    async def show_card(self, viewer: Viewer, workspace_id: int, card_id: int) -> Template:
        return Template(CARD_PAGE, context=await _card_context(viewer, workspace_id, card_id))

    @post("/cards/{card_id:int}")
    async def update_card(self, request: Request, viewer: Viewer, workspace_id: int, redis: Redis,
                          card_id: int) -> Redirect:
        form = await submitted(request, CARD_PAGE, lambda: _card_context(viewer, workspace_id, card_id))
        await task_board.update_card(workspace_id, card_id, form, actor_of(request))
        await task_board.announce(redis, workspace_id, "card.edited", card_id)
        flash(request, "Card saved.", "success")
        return Redirect(f"{HOME}/cards/{card_id}", status_code=303)

    @post("/cards/{card_id:int}/comments")
    async def comment(self, request: Request, viewer: Viewer, workspace_id: int, card_id: int) -> Redirect:
        form = await submitted(request, CARD_PAGE, lambda: _card_context(viewer, workspace_id, card_id))
        await task_board.comment(workspace_id, card_id, form, actor_of(request))
        return Redirect(f"{HOME}/cards/{card_id}", status_code=303)

    @post("/cards/{card_id:int}/delete")
    async def delete_card(self, request: Request, workspace_id: int, redis: Redis, card_id: int) -> Redirect:
        card = await task_board.delete_card(workspace_id, card_id)
        await task_board.announce(redis, workspace_id, "card.deleted", card_id)
        flash(request, f"Card “{card['title']}” deleted.", "info")
        return Redirect(HOME, status_code=303)

    @post("/cards/{card_id:int}/move")
    async def move_card(self, request: Request, viewer: Viewer, workspace_id: int, redis: Redis,
                        card_id: int) -> Template | Redirect:
        """A drop: the column and the card it landed above (none: the bottom)."""
        form = await request.form()
        moved = await task_board.move_card(workspace_id, card_id, form.get("column_id"), form.get("before_id"),
                                           actor_of(request))
        return await _moved(request, viewer, workspace_id, redis, moved, form)

    @post("/cards/{card_id:int}/step")
    async def step_card(self, request: Request, viewer: Viewer, workspace_id: int, redis: Redis,
                        card_id: int) -> Template | Redirect:
        """The keyboard's move: one step left, right, up or down."""
        form = await request.form()
        moved = await task_board.step_card(workspace_id, card_id, str(form.get("direction", "")), actor_of(request))
        return await _moved(request, viewer, workspace_id, redis, moved, form)
