"""A marketer builds the task board (a nameless column and a bad due date refused next to their field,
nothing saved), drags a card to another column in one browser page and a teammate's page shows it there
at once; the keyboard moves it back, which a screen reader hears and the other page shows too."""

from __future__ import annotations

from playwright.async_api import expect

from app.db.task_board import TaskCard
from app.services import task_board
from app.services.audit import Actor
from tests.e2e.test_portals import sign_in
from tests.factories import make_user, make_workspace


def card_in(tab, column: dict, card: dict):
    """The card as shown inside that column of the board on this page."""
    return tab.get_by_test_id(f"task-column-{column['id']}-cards").get_by_test_id(f"task-card-{card['id']}")


async def test_drag_a_card_in_one_page_and_see_it_move_in_another(page, browser, base_url):
    workspace = await make_workspace("Board Team")
    marketer = await make_user(workspace, "marketer")
    teammate = await make_user(workspace, "analyst")
    await sign_in(page, marketer["email"])

    await page.goto("/analytics/tasks")
    await expect(page.get_by_test_id("empty-state")).to_contain_text("No columns yet.")
    await page.get_by_test_id("task-column-add").click()
    await expect(page.get_by_test_id("error-name")).to_contain_text("Give the column a name")
    assert await task_board.columns(workspace["id"]) == []
    for name in ("To do", "Doing"):
        await page.get_by_test_id("input-name").first.fill(name)
        await page.get_by_test_id("task-column-add").click()
        await expect(page.get_by_test_id("flash")).to_contain_text(f"Column “{name}” added.")
    todo, doing = await task_board.columns(workspace["id"])

    await page.get_by_test_id(f"task-column-{todo['id']}-new-card").click()
    await page.get_by_test_id("input-title").fill("Warm up the new IPs")
    await page.get_by_test_id("input-due_on").fill("next week")
    await page.get_by_test_id("task-card-save").click()
    await expect(page.get_by_test_id("error-due_on")).to_contain_text("YYYY-MM-DD")
    await expect(page.get_by_test_id("input-title")).to_have_value("Warm up the new IPs")
    assert await TaskCard.count() == 0
    await page.get_by_test_id("input-due_on").fill("2026-12-24")
    await page.get_by_test_id("task-card-save").click()
    await expect(page.get_by_test_id("flash")).to_contain_text("Card “Warm up the new IPs” added.")
    [card] = await TaskCard.select()
    card_testid = f"task-card-{card['id']}"
    await expect(card_in(page, todo, card)).to_be_visible()

    other_context = await browser.new_context(base_url=base_url)
    other = await other_context.new_page()
    try:
        await sign_in(other, teammate["email"])
        await other.goto("/analytics/tasks")
        await expect(card_in(other, todo, card)).to_be_visible()
        await expect(other.get_by_test_id(f"{card_testid}-right")).to_have_count(0)

        doing_cards = page.get_by_test_id(f"task-column-{doing['id']}-cards")
        await page.get_by_test_id(f"{card_testid}-open").drag_to(doing_cards)
        await expect(card_in(page, doing, card)).to_be_visible()
        await expect(card_in(other, doing, card)).to_be_visible()
        await expect(card_in(other, todo, card)).to_have_count(0)
        await expect(other.get_by_test_id(f"{card_testid}-right")).to_have_count(0)
        assert (await TaskCard.select(TaskCard.column_id).first())["column_id"] == doing["id"]

        # The board the drop brought back settled, its forms taken over by htmx: a key pressed in between submits
        # the plain form, which reloads the page instead of announcing the move.
        await page.wait_for_function(
            "() => !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling, .htmx-added')")
        await page.get_by_test_id(card_testid).focus()
        await page.keyboard.press("Alt+ArrowLeft")
        await expect(page.get_by_test_id("task-board-status")).to_have_text(
            "Moved “Warm up the new IPs” in To do, position 1 of 1.")
        await expect(page.get_by_test_id(card_testid)).to_be_focused()
        await expect(card_in(other, todo, card)).to_be_visible()
    finally:
        await other_context.close()


async def test_a_teammate_who_edits_sees_moves_live_too(page, browser, base_url):
    """The board an editor's stream sends holds the column forms too: the second editor's page is kept up to date."""
    workspace = await make_workspace("Board Editors")
    marketer, teammate = await make_user(workspace, "marketer"), await make_user(workspace, "marketer")
    todo, doing = [await task_board.add_column(workspace["id"], {"name": name}) for name in ("To do", "Doing")]
    card = await task_board.create_card(workspace["id"], {"column_id": str(todo["id"]), "title": "Sunset 180d"},
                                        Actor(user_id=None, email=marketer["email"]))
    await sign_in(page, marketer["email"])
    await page.goto("/analytics/tasks")
    other_context = await browser.new_context(base_url=base_url)
    other = await other_context.new_page()
    try:
        await sign_in(other, teammate["email"])
        await other.goto("/analytics/tasks")
        await expect(card_in(other, todo, card)).to_be_visible()

        await page.get_by_test_id(f"task-card-{card['id']}-right").click()
        await expect(card_in(page, doing, card)).to_be_visible()
        await expect(card_in(other, doing, card)).to_be_visible()
        await expect(other.get_by_test_id(f"task-card-{card['id']}-left")).to_be_visible()
    finally:
        await other_context.close()
