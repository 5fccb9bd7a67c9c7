"""The task board: columns and cards kept in order however moves interleave, forms that refuse bad input next
to the field, each card's trail, analysts read-only, other workspaces' things never reachable, and every open
board told of each change."""

from __future__ import annotations

import asyncio
import json
import random
from datetime import date

from app.db.task_board import TaskCard
from app.routes.task_board import board_messages
from app.services import lists, task_board
from app.services.audit import Actor
from tests.factories import login, make_user, make_workspace, post_form

ANA = Actor(user_id=None, email="ana@example.com")


async def _board_of(workspace_id: int) -> dict[str, list[str]]:
    return {column["name"]: [card["title"] for card in column["cards"]]
            for column in await task_board.board(workspace_id)}


async def _columns(workspace_id: int, *names: str) -> list[dict]:
    return [await task_board.add_column(workspace_id, {"name": name}) for name in names]


async def _card(workspace_id: int, column: dict, title: str, **fields: str) -> dict:
    return await task_board.create_card(workspace_id, {"column_id": str(column["id"]), "title": title, **fields}, ANA)


async def test_a_marketer_builds_a_board_and_bad_input_is_refused_next_to_the_field(client):
    workspace = await make_workspace()
    user = await make_user(workspace, "marketer")
    other = await make_workspace()
    theirs = await lists.create_list(other["id"], {"name": "Not yours"})
    ours = await lists.create_list(workspace["id"], {"name": "Customers"})
    await login(client, user["email"])

    empty = await client.get("/analytics/tasks")
    assert 'data-testid="empty-state"' in empty.text
    refused = await post_form(client, "/analytics/tasks/columns", {"name": "  "})
    assert refused.status_code == 422
    assert 'data-testid="error-name"' in refused.text
    for name in ("To do", "Doing", "Done"):
        assert (await post_form(client, "/analytics/tasks/columns", {"name": name})).status_code == 303
    todo, doing, done = await task_board.columns(workspace["id"])

    bad = {"column_id": str(todo["id"]), "title": "Warm up the new IPs", "due_on": "next week"}
    answer = await post_form(client, "/analytics/tasks/cards", bad)
    assert answer.status_code == 422
    assert "Enter the due date as YYYY-MM-DD" in answer.text
    assert 'value="Warm up the new IPs"' in answer.text
    foreign = {**bad, "due_on": "2026-12-24", "list_id": str(theirs["id"])}
    answer = await post_form(client, "/analytics/tasks/cards", foreign)
    assert answer.status_code == 422
    assert "No such list in this workspace." in answer.text
    assert await TaskCard.count() == 0

    good = {**foreign, "list_id": str(ours["id"]), "assignee_id": str(user["id"]), "labels": "ops, ops, Q4"}
    assert (await post_form(client, "/analytics/tasks/cards", good)).status_code == 303
    [card] = await TaskCard.select()
    assert (card["column_id"], card["labels"], card["list_id"]) == (todo["id"], ["ops", "Q4"], ours["id"])
    page = (await client.get("/analytics/tasks")).text
    assert "Warm up the new IPs" in page and "List Customers" in page and 'data-move="right"' in page

    held = await post_form(client, f"/analytics/tasks/columns/{todo['id']}/delete")
    assert held.status_code == 422
    assert "still holds 1 card" in held.text
    assert (await post_form(client, f"/analytics/tasks/columns/{done['id']}/delete")).status_code == 303
    await post_form(client, f"/analytics/tasks/columns/{doing['id']}/move", {"direction": "left"})
    await post_form(client, f"/analytics/tasks/columns/{doing['id']}", {"name": "In progress", "renaming": "1"})
    assert await _board_of(workspace["id"]) == {"In progress": [], "To do": ["Warm up the new IPs"]}
    assert [c["name"] for c in await task_board.columns(workspace["id"])] == ["In progress", "To do"]


async def test_keyboard_steps_and_drops_place_cards_and_leave_a_trail(client):
    workspace = await make_workspace()
    user = await make_user(workspace, "marketer")
    await login(client, user["email"])
    todo, doing = await _columns(workspace["id"], "To do", "Doing")
    a, b, c = [await _card(workspace["id"], todo, title) for title in ("A", "B", "C")]

    stepped = await post_form(client, f"/analytics/tasks/cards/{c['id']}/step", {"direction": "up"},
                              headers={"HX-Request": "true"})
    assert stepped.status_code == 200
    assert 'data-announce="Moved “C” in To do, position 2 of 3."' in stepped.text
    assert f'data-focus-card="{c["id"]}"' in stepped.text
    await post_form(client, f"/analytics/tasks/cards/{a['id']}/step", {"direction": "right"})
    assert await _board_of(workspace["id"]) == {"To do": ["C", "B"], "Doing": ["A"]}

    dropped = await post_form(client, f"/analytics/tasks/cards/{b['id']}/move",
                              {"column_id": str(doing["id"]), "before_id": str(a["id"])},
                              headers={"HX-Request": "true"})
    assert dropped.status_code == 200
    await post_form(client, f"/analytics/tasks/cards/{c['id']}/move", {"column_id": str(doing["id"]), "before_id": ""})
    assert await _board_of(workspace["id"]) == {"To do": [], "Doing": ["B", "A", "C"]}
    edge = await post_form(client, f"/analytics/tasks/cards/{c['id']}/step", {"direction": "right"},
                           headers={"HX-Request": "true"})
    assert "“C” stays in Doing, position 3 of 3." in edge.text

    await post_form(client, f"/analytics/tasks/cards/{b['id']}", {"title": "B, renamed", "due_on": "2026-12-31"})
    await post_form(client, f"/analytics/tasks/cards/{b['id']}/comments", {"comment": "Waiting on the ESP."})
    trail = [(entry["actor"], entry["action"]) for entry in await task_board.trail(workspace["id"], b["id"])]
    assert trail == [(user["email"], "commented"), (user["email"], "edited"), (user["email"], "moved"),
                     ("ana@example.com", "created")]
    shown = (await client.get(f"/analytics/tasks/cards/{b['id']}")).text
    assert "Waiting on the ESP." in shown and "moved it from To do to Doing, position 1" in shown
    assert "changed due date, title" in shown


async def test_interleaved_moves_lose_no_card_and_keep_positions_distinct():
    workspace = await make_workspace()
    board = await _columns(workspace["id"], "One", "Two", "Three")
    cards = [await _card(workspace["id"], board[i % 3], f"Card {i}") for i in range(12)]
    chance = random.Random(7)

    async def move(card: dict) -> None:
        if chance.random() < 0.5:
            await task_board.step_card(workspace["id"], card["id"], chance.choice(task_board.DIRECTIONS), ANA)
        else:
            before = chance.choice([*cards, None])
            await task_board.move_card(workspace["id"], card["id"], chance.choice(board)["id"],
                                       before["id"] if before else None, ANA)

    await asyncio.gather(*(move(chance.choice(cards)) for _ in range(60)))

    rows = await TaskCard.select(TaskCard.id, TaskCard.column_id, TaskCard.position)
    assert sorted(row["id"] for row in rows) == sorted(card["id"] for card in cards)
    for column in board:
        positions = sorted(row["position"] for row in rows if row["column_id"] == column["id"])
        assert len(positions) == len(set(positions))


async def test_analysts_see_the_board_read_only(client):
    workspace = await make_workspace()
    analyst = await make_user(workspace, "analyst")
    [todo, doing] = await _columns(workspace["id"], "To do", "Doing")
    card = await _card(workspace["id"], todo, "Plan Q1")
    await login(client, analyst["email"])

    page = (await client.get("/analytics/tasks")).text
    assert "Plan Q1" in page and 'data-editable="false"' in page
    assert "data-move=" not in page and "task-column-form" not in page
    assert 'data-testid="task-card-form"' not in (await client.get(f"/analytics/tasks/cards/{card['id']}")).text
    refused = await post_form(client, f"/analytics/tasks/cards/{card['id']}/move",
                              {"column_id": str(doing["id"]), "before_id": ""})
    assert refused.status_code == 403
    assert (await post_form(client, "/analytics/tasks/columns", {"name": "Mine"})).status_code == 403
    assert await _board_of(workspace["id"]) == {"To do": ["Plan Q1"], "Doing": []}


async def test_another_workspaces_cards_and_columns_are_not_found(client):
    workspace = await make_workspace()
    user = await make_user(workspace, "owner")
    other = await make_workspace()
    [mine] = await _columns(workspace["id"], "Mine")
    [theirs] = await _columns(other["id"], "Theirs")
    their_card = await _card(other["id"], theirs, "Secret")
    my_card = await _card(workspace["id"], mine, "Mine")
    await login(client, user["email"])

    assert (await client.get(f"/analytics/tasks/cards/{their_card['id']}")).status_code == 404
    for path, data in ((f"/cards/{their_card['id']}/move", {"column_id": str(mine["id"])}),
                       (f"/cards/{their_card['id']}/step", {"direction": "up"}),
                       (f"/cards/{their_card['id']}", {"title": "Taken"}),
                       (f"/cards/{their_card['id']}/delete", {}),
                       (f"/cards/{my_card['id']}/move", {"column_id": str(theirs["id"])}),
                       (f"/columns/{theirs['id']}", {"name": "Taken"}),
                       (f"/columns/{theirs['id']}/delete", {})):
        assert (await post_form(client, f"/analytics/tasks{path}", data)).status_code == 404, path
    misplaced = await post_form(client, "/analytics/tasks/cards", {"column_id": str(theirs["id"]), "title": "X"})
    assert misplaced.status_code == 422
    assert await _board_of(other["id"]) == {"Theirs": ["Secret"]}
    assert await _board_of(workspace["id"]) == {"Mine": ["Mine"]}


async def test_every_open_board_hears_of_a_move(redis):
    workspace = await make_workspace()
    other = await make_workspace()
    [column] = await _columns(workspace["id"], "Doing")
    await _card(workspace["id"], column, "Moved here")
    stream = board_messages(redis, workspace["id"], lambda columns: repr(columns[0]["cards"][0]["title"]))
    first = asyncio.ensure_future(anext(stream))
    # The stream hears only what is published once it has subscribed.
    for _ in range(500):
        if (await redis.pubsub_numsub(task_board.channel(workspace["id"])))[0][1]:
            break
        await asyncio.sleep(0.01)

    await task_board.announce(redis, other["id"], "card.moved", 1)
    await task_board.announce(redis, workspace["id"], "card.moved", 42)
    message = await first
    while not message.event:  # keep-alive comments may come first
        message = await anext(stream)
    await stream.aclose()

    assert (message.event, message.data) == ("board", "'Moved here'")



async def test_a_board_is_not_sent_its_own_move_back(redis, client):
    """A move names the page that made it; that page's stream sends only the others' changes (its own answer
    brought it the board), and the move's answer swaps whichever board the page shows when it arrives."""
    workspace = await make_workspace()
    user = await make_user(workspace, "marketer")
    doing, done = await _columns(workspace["id"], "Doing", "Done")
    card = await _card(workspace["id"], doing, "Mine")
    await login(client, user["email"])
    listener = redis.pubsub(ignore_subscribe_messages=True)
    await listener.subscribe(task_board.channel(workspace["id"]))
    answer = await post_form(client, f"/analytics/tasks/cards/{card['id']}/move",
                             {"column_id": str(done["id"]), "board_page": "page-a"}, headers={"HX-Request": "true"})
    assert answer.status_code == 200
    assert answer.headers["HX-Retarget"] == "global #task-board"
    published = None
    for _ in range(10):  # the subscription's confirmation is read (as None) first
        published = published or await listener.get_message(timeout=2)
    await listener.aclose()
    assert json.loads(published["data"])["origin"] == "page-a"

    renders = []
    stream = board_messages(redis, workspace["id"], lambda columns: str(renders.append(1) or len(renders)),
                            page="page-a", idle_seconds=1)
    first = asyncio.ensure_future(anext(stream))
    for _ in range(500):
        if (await redis.pubsub_numsub(task_board.channel(workspace["id"])))[0][1]:
            break
        await asyncio.sleep(0.01)
    await task_board.announce(redis, workspace["id"], "card.moved", card["id"], "page-a")
    await task_board.announce(redis, workspace["id"], "card.moved", card["id"], "page-b")
    events = [await first]
    while events[-1].event or len(events) == 1:  # both are sent before the first quiet spell ends the list
        events.append(await anext(stream))
    await stream.aclose()

    assert [message.data for message in events if message.event] == ["1"]


async def test_a_card_form_names_every_wrong_field_at_once(client):
    workspace = await make_workspace()
    user = await make_user(workspace, "marketer")
    other = await make_workspace()
    theirs = await lists.create_list(other["id"], {"name": "Not yours"})
    await _columns(workspace["id"], "To do")
    [their_column] = await _columns(other["id"], "Theirs")
    await login(client, user["email"])

    answer = await post_form(client, "/analytics/tasks/cards", {
        "column_id": str(their_column["id"]), "title": " ", "due_on": "31/12/2026",
        "labels": ",".join(f"l{n}" for n in range(11)), "list_id": str(theirs["id"])})
    assert answer.status_code == 422
    for field in ("column_id", "title", "due_on", "labels", "list_id"):
        assert f'data-testid="error-{field}"' in answer.text, field
    assert await TaskCard.count() == 0


async def test_an_editor_opening_a_card_reaches_what_it_links_to(client):
    workspace = await make_workspace()
    user = await make_user(workspace, "marketer")
    customers = await lists.create_list(workspace["id"], {"name": "Customers"})
    [review] = await _columns(workspace["id"], "Review")
    card = await _card(workspace["id"], review, "Sunset 180d", list_id=str(customers["id"]))
    await login(client, user["email"])

    shown = (await client.get(f"/analytics/tasks/cards/{card['id']}")).text

    assert 'data-testid="task-card-form"' in shown
    assert f'<a href="/mailing/lists/{customers["id"]}" data-testid="task-card-list-link">Customers</a>' in shown
    assert '<strong data-testid="task-card-column">Review</strong>' in shown


async def test_cards_past_their_due_day_are_marked_overdue(client):
    workspace = await make_workspace()
    user = await make_user(workspace, "marketer")
    [todo] = await _columns(workspace["id"], "To do")
    late = await _card(workspace["id"], todo, "Renew the IP pool", due_on="2026-11-30")
    await _card(workspace["id"], todo, "Send the newsletter", due_on="2026-12-01")
    undated = await _card(workspace["id"], todo, "Someday")

    [column] = await task_board.board(workspace["id"], today=date(2026, 12, 1))
    assert {card["title"]: card["overdue"] for card in column["cards"]} == {
        "Renew the IP pool": True, "Send the newsletter": False, "Someday": False}

    await login(client, user["email"])
    page = (await client.get("/analytics/tasks")).text
    assert f'data-testid="task-card-{late["id"]}-overdue"' in page
    assert f'data-testid="task-card-{undated["id"]}-overdue"' not in page
