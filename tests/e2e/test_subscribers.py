"""A marketer works with subscribers in the browser: bad or taken addresses are refused next to the field, bulk
actions act on the filter typed after a confirm with its count, and a blacklisted address says it is not mailable."""

from playwright.async_api import expect

from app.db.audience import Subscriber
from app.services import suppression
from app.services.custom_fields import add_field
from app.services.subscribers import COUNT_CAP
from tests.e2e.test_portals import sign_in
from tests.factories import make_list, make_subscriber, make_subscribers, make_user, make_workspace


def answer_dialogs(page, questions: list[str], typed: str | None = None) -> None:
    """Accept the next confirm (or answer the next prompt with `typed`), keeping what it asked."""
    async def handle(dialog) -> None:
        questions.append(dialog.message)
        await (dialog.accept(typed) if typed is not None else dialog.accept())

    page.once("dialog", handle)


async def _tagged(tag: str) -> set[str]:
    rows = await Subscriber.raw(
        "SELECT s.email FROM subscriber_tags st JOIN tags t ON t.id = st.tag_id JOIN subscribers s "
        "ON s.id = st.subscriber_id WHERE t.name = {}", tag)
    return {row["email"] for row in rows}


async def _filter(page, text: str, total: str) -> None:
    await page.get_by_test_id("filter-q").press_sequentially(text)
    await expect(page.get_by_test_id("subscriber-total")).to_contain_text(f"{total} subscribers match")


async def test_a_bad_or_taken_address_is_refused_next_to_the_field_and_nothing_is_saved(page):
    workspace = await make_workspace("Adding")
    user = await make_user(workspace, "marketer")
    mailing_list = await make_list(workspace, "Leads")
    await add_field(workspace["id"], mailing_list["id"], {"label": "City", "kind": "text"})
    await make_subscriber(mailing_list, "taken@example.com")

    await sign_in(page, user["email"])
    await page.goto("/mailing/subscribers")
    await page.get_by_test_id("subscriber-new").click()
    await page.get_by_test_id("input-email").fill("ann@example")
    await page.get_by_test_id("input-field_city").fill("Lyon")
    await page.get_by_test_id("subscriber-save").click()
    await expect(page.get_by_test_id("error-email")).to_contain_text("should have a period")
    await expect(page.get_by_test_id("input-email")).to_have_value("ann@example")
    await expect(page.get_by_test_id("input-field_city")).to_have_value("Lyon")

    await page.get_by_test_id("input-email").fill("Taken@Example.com")
    await page.get_by_test_id("subscriber-save").click()
    await expect(page.get_by_test_id("error-email")).to_contain_text("already on the list")
    await expect(page.get_by_test_id("input-email")).to_have_value("Taken@Example.com")
    assert [row["email"] for row in await Subscriber.select(Subscriber.email)] == ["taken@example.com"]


async def test_bulk_tag_acts_on_the_filter_typed_after_a_confirm_with_its_count(page):
    workspace = await make_workspace("Tagging")
    user = await make_user(workspace, "marketer")
    mailing_list = await make_list(workspace, "Everyone")
    await make_subscribers(mailing_list, 7, {"country": "DE"}, prefix="de")
    await make_subscribers(mailing_list, 12, {"country": "FR"}, prefix="fr")

    await sign_in(page, user["email"])
    await page.goto("/mailing/subscribers")
    await expect(page.get_by_test_id("subscriber-total")).to_contain_text("19 subscribers match")
    await _filter(page, "country=DE", "7")
    await expect(page.get_by_test_id("subscriber-row")).to_have_count(7)

    # No tag typed: the message shows next to the tag, and nothing is tagged.
    await page.get_by_test_id("select-all").check()
    await page.get_by_test_id("bulk-apply").click()
    await expect(page.get_by_test_id("error-tag_name")).to_contain_text("Type the tag")
    assert await _tagged("germany") == set()

    await page.get_by_test_id("bulk-tag").fill("germany")
    await page.get_by_test_id("bulk-scope").select_option("filter")
    questions: list[str] = []
    answer_dialogs(page, questions)
    await page.get_by_test_id("bulk-apply").click()
    await expect(page.get_by_test_id("flash")).to_contain_text("Tagged 7 subscriber(s) “germany”")
    assert questions == ["Add tag “germany” to 7 subscribers?"]
    assert await _tagged("germany") == {f"de{i}@example.com" for i in range(1, 8)}


async def test_a_whole_filter_past_the_shown_total_is_confirmed_with_its_exact_count(page):
    workspace = await make_workspace("Counting")
    user = await make_user(workspace, "marketer")
    mailing_list = await make_list(workspace, "Everyone")
    await make_subscribers(mailing_list, COUNT_CAP + 3, prefix="many")

    await sign_in(page, user["email"])
    await page.goto("/mailing/subscribers")
    await _filter(page, "many", f"{COUNT_CAP:,}+")
    await page.get_by_test_id("bulk-tag").fill("all")
    await page.get_by_test_id("bulk-scope").select_option("filter")
    await expect(page.get_by_test_id("bulk-summary")).to_have_text(f"Applies to {COUNT_CAP + 3:,} subscribers.")
    questions: list[str] = []
    answer_dialogs(page, questions)
    await page.get_by_test_id("bulk-apply").click()
    await expect(page.get_by_test_id("flash")).to_contain_text(f"Tagged {COUNT_CAP + 3:,} subscriber(s)")
    assert questions == [f"Add tag “all” to {COUNT_CAP + 3:,} subscribers?"]


async def test_deleting_a_whole_filter_asks_for_its_count_to_be_typed(page):
    workspace = await make_workspace("Deleting")
    user = await make_user(workspace, "marketer")
    mailing_list = await make_list(workspace, "Everyone")
    await make_subscribers(mailing_list, 5, prefix="old")
    await make_subscribers(mailing_list, 3, prefix="keep")

    await sign_in(page, user["email"])
    await page.goto("/mailing/subscribers")
    await _filter(page, "old", "5")
    await page.get_by_test_id("bulk-action").select_option("delete")
    await page.get_by_test_id("bulk-scope").select_option("filter")

    questions: list[str] = []
    answer_dialogs(page, questions, typed="8")
    await page.get_by_test_id("bulk-apply").click()
    await expect(page.get_by_test_id("subscriber-row")).to_have_count(5)
    assert len(questions) == 1 and questions[0].startswith("Delete 5 subscribers?")
    assert "Type 5 to confirm" in questions[0]
    assert await Subscriber.count() == 8

    answer_dialogs(page, questions, typed="5")
    await page.get_by_test_id("bulk-apply").click()
    await expect(page.get_by_test_id("flash")).to_contain_text("Deleted 5 subscriber(s)")
    assert sorted(row["email"] for row in await Subscriber.select(Subscriber.email)) == [
        "keep1@example.com", "keep2@example.com", "keep3@example.com"]


async def test_a_blacklisted_subscriber_says_it_is_not_mailable(page):
    workspace = await make_workspace("Suppressing")
    user = await make_user(workspace, "marketer")
    mailing_list = await make_list(workspace, "Everyone")
    blocked = await make_subscriber(mailing_list, "blocked@example.com", status="confirmed")
    await make_subscriber(mailing_list, "fine@example.com", status="confirmed")
    blacklist = await suppression.blacklist(workspace["id"])
    await suppression.add_pasted(workspace["id"], blacklist["id"], "blocked@example.com")

    await sign_in(page, user["email"])
    await page.goto(f"/mailing/lists/{mailing_list['id']}")
    await expect(page.get_by_test_id("stat-blacklisted")).to_contain_text("1")
    await page.goto("/mailing/subscribers")
    await expect(page.get_by_test_id(f"not-mailable-{blocked['id']}")).to_have_text(
        "not mailable: blacklisted (rule: email address)")
    await page.get_by_test_id(f"subscriber-open-{blocked['id']}").click()
    await expect(page.get_by_test_id("not-mailable-label")).to_have_text(
        "not mailable: blacklisted (rule: email address)")


async def test_rows_ticked_after_a_search_stay_ticked(page):
    workspace = await make_workspace("Ticking")
    user = await make_user(workspace, "marketer")
    mailing_list = await make_list(workspace, "Everyone")
    await make_subscribers(mailing_list, 3, prefix="kept", domain="example3.com")
    await make_subscribers(mailing_list, 5, prefix="other")

    await sign_in(page, user["email"])
    await page.goto("/mailing/subscribers")
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url) if "/mailing/subscribers?" in request.url else None)
    await _filter(page, "@example3.com", "3")
    searches = len(requests)
    # Leaving the search box (ticking a row) must not redraw the rows and untick them.
    await page.get_by_test_id("select-all").check()
    await page.wait_for_load_state("networkidle")
    assert len(requests) == searches
    await expect(page.locator("input[name=ids]:checked")).to_have_count(3)
