"""A marketer imports a messy CSV into a list, maps its columns, watches the progress bar fill, exports the list;
and a file that is no list, a mapping without an email column, a header-only file and an abandoned upload
each get their message on the page.

The first import runs in a real Dramatiq worker process, started only once the
progress page shows the import waiting: so the page must be updated live,
over Server-Sent Events, to see it finish.
"""

from __future__ import annotations

import asyncio
import csv
import io
import os
import subprocess
import sys

import pytest
from playwright.async_api import expect

from app.db.audience import Subscriber
from app.redis_client import get_redis
from app.services import custom_fields, imports, lists
from app.services.shared_files import shared_files
from tests.e2e.test_portals import sign_in
from tests.factories import make_user, make_workspace

ROWS = "E-mail;Prénom;Ville\n" + "".join(f"client{i}@example.com;Zoë {i};Zürich\n" for i in range(300)) + \
    "pas-une-adresse;X;Y\n\nCLIENT7@example.com;Dup;Dup\n"


@pytest.fixture
def start_worker():
    processes: list[subprocess.Popen] = []

    def start() -> None:
        processes.append(subprocess.Popen(
            [sys.executable, "-m", "dramatiq", "app.tasks", "--processes", "1", "--threads", "1",
             "--queues", "imports"], env=os.environ.copy(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))

    yield start
    for process in processes:
        process.terminate()
        process.wait(timeout=30)


async def test_import_with_mapping_live_progress_summary_and_export(page, tmp_path, start_worker):
    workspace = await make_workspace("Importers")
    user = await make_user(workspace, "owner")
    mailing_list = await lists.create_list(workspace["id"], {"name": "Newsletter"})
    await custom_fields.add_field(workspace["id"], mailing_list["id"], {"label": "First name", "kind": "text"})
    await custom_fields.add_field(workspace["id"], mailing_list["id"], {"label": "City", "kind": "text"})
    source = tmp_path / "clients.csv"
    source.write_bytes(ROWS.encode("cp1252"))

    await sign_in(page, user["email"])
    await page.goto(f"/mailing/lists/{mailing_list['id']}/imports/new")
    await page.get_by_test_id("import-file").set_input_files(source)
    await page.get_by_test_id("import-upload").click()

    await expect(page.get_by_test_id("import-preview")).to_contain_text("Zürich")
    await expect(page.get_by_test_id("preview-row")).to_have_count(10)
    await expect(page.get_by_test_id("map-column-0")).to_have_value("email")
    await page.get_by_test_id("map-column-1").select_option("field:first_name")
    await page.get_by_test_id("map-column-2").select_option("field:city")
    await page.get_by_test_id("import-start").click()

    await expect(page.get_by_test_id("import-status")).to_have_attribute("data-status", "pending")
    await page.evaluate("window.__notReloaded = true")
    start_worker()
    await expect(page.get_by_test_id("import-status")).to_have_attribute("data-status", "completed", timeout=30_000)
    await expect(page.get_by_test_id("import-progress")).to_have_attribute("value", "100")
    await expect(page.get_by_test_id("count-inserted")).to_contain_text("300")
    await expect(page.get_by_test_id("count-invalid")).to_contain_text("1")
    await expect(page.get_by_test_id("count-skipped_duplicate")).to_contain_text("1")
    assert await page.evaluate("window.__notReloaded === true")

    async with page.expect_download() as rejected:
        await page.get_by_test_id("import-rejects-download").click()
    rejects = list(csv.DictReader(io.StringIO((await (await rejected.value).path()).read_text())))
    assert [r["email"] for r in rejects] == ["pas-une-adresse"] and rejects[0]["reason"].startswith("invalid email")

    await page.get_by_test_id("import-history-link").click()
    await page.get_by_test_id("list-export").click()
    await page.get_by_test_id("export-field-city").uncheck()
    async with page.expect_download() as exported:
        await page.get_by_test_id("export-download").click()
    rows = list(csv.reader(io.StringIO((await (await exported.value).path()).read_text(encoding="utf-8"))))
    assert rows[0] == ["email", "status", "subscribed_at", "first_name"]
    assert len(rows) == 301 and ["client0@example.com", "confirmed"] == rows[1][:2] and rows[1][3] == "Zoë 0"


async def _import_page(page, name: str = "Bad files"):
    """A signed-in owner on the upload page of a fresh list; returns the workspace and the list."""
    workspace = await make_workspace(name)
    user = await make_user(workspace, "owner")
    mailing_list = await lists.create_list(workspace["id"], {"name": "Newsletter"})
    await sign_in(page, user["email"])
    await page.goto(f"/mailing/lists/{mailing_list['id']}/imports/new")
    return workspace, mailing_list


async def _uploaded(page, path) -> int:
    """Upload a file through the form; returns the import the mapping page is for."""
    await page.get_by_test_id("import-file").set_input_files(path)
    await page.get_by_test_id("import-upload").click()
    await expect(page.get_by_test_id("import-reading-form")).to_be_visible()
    return int(page.url.split("/imports/")[1].split("/")[0])


@pytest.mark.parametrize(("name", "body", "message"), [
    ("empty.csv", b"", "is empty (0 bytes)"),
    ("scan.csv", b"%PDF-1.7\n" + bytes(range(256)) * 4, "a PDF document"),
    ("photo.png", b"\x89PNG\r\n\x1a\n" + bytes(64), "Upload a .csv"),
], ids=["empty", "pdf", "png"])
async def test_a_file_that_is_no_list_is_refused_next_to_the_file_field(page, tmp_path, name, body, message):
    workspace, _ = await _import_page(page)
    source = tmp_path / name
    source.write_bytes(body)

    await page.get_by_test_id("import-file").set_input_files(source)
    await page.get_by_test_id("import-upload").click()

    await expect(page.get_by_test_id("error-file")).to_contain_text(message)
    await expect(page.get_by_test_id("import-upload-form")).to_be_visible()
    assert await imports.history(workspace["id"]) == []


async def test_starting_without_an_email_column_shows_the_message_by_the_columns(page, tmp_path):
    workspace, mailing_list = await _import_page(page, "No email")
    source = tmp_path / "names.csv"
    source.write_text("name,phone\nAnn,123\nBob,456\n")
    import_id = await _uploaded(page, source)
    await expect(page.get_by_test_id("import-no-email")).to_be_visible()

    await page.get_by_test_id("mode-unsubscribe").check()
    await page.get_by_test_id("import-start").click()

    await expect(page.get_by_test_id("error-mapping")).to_contain_text("the column that holds the email addresses")
    await expect(page.get_by_test_id("mode-unsubscribe")).to_be_checked()
    row = await imports.get_import(workspace["id"], import_id)
    assert (row["status"], row["mapping"]) == ("pending", {})
    assert await Subscriber.count().where(Subscriber.list_id == mailing_list["id"]) == 0


async def test_a_header_only_file_is_flagged_before_and_after_the_import(page, tmp_path):
    workspace, _ = await _import_page(page, "Header only")
    source = tmp_path / "header.csv"
    source.write_text("email,first name\n")
    import_id = await _uploaded(page, source)
    await expect(page.get_by_test_id("import-no-rows")).to_contain_text("no data rows")

    await page.get_by_test_id("import-start").click()
    await expect(page.get_by_test_id("import-status")).to_have_attribute("data-status", "pending")
    await imports.run_import(workspace["id"], import_id, get_redis())  # what the worker would do

    await expect(page.get_by_test_id("import-status")).to_have_attribute("data-status", "completed")
    await expect(page.get_by_test_id("import-no-rows")).to_contain_text("no data rows")


async def test_an_unmapped_import_is_discarded_after_a_confirm(page, tmp_path):
    workspace, mailing_list = await _import_page(page, "Discarding")
    source = tmp_path / "wrong.csv"
    source.write_text("name,phone\nAnn,123\n")
    import_id = await _uploaded(page, source)
    stored = shared_files().path((await imports.get_import(workspace["id"], import_id))["location"])
    assert stored.exists()

    questions = []
    page.once("dialog", lambda dialog: (questions.append(dialog.message), asyncio.ensure_future(dialog.accept())))
    await page.get_by_test_id("import-discard").click()

    await expect(page.get_by_test_id("flash")).to_contain_text("discarded")
    assert "wrong.csv" in questions[0]
    await expect(page.get_by_test_id("empty-state")).to_contain_text("No imports yet")
    assert await imports.get_import(workspace["id"], import_id) is None and not stored.exists()
    assert page.url.endswith(f"/mailing/lists/{mailing_list['id']}/imports")


async def test_the_upload_form_shows_progress_and_refuses_a_file_over_the_limit(page, tmp_path):
    workspace, _ = await _import_page(page, "Uploading")
    source = tmp_path / "big.csv"
    source.write_text("email\n" + "".join(f"person{i}@example.com\n" for i in range(60_000)))
    await page.evaluate("""() => {
        window.__barShown = false;
        document.addEventListener("htmx:xhr:progress", () => {
            window.__barShown = window.__barShown || !document.querySelector("[data-upload-progress]").hidden;
        });
    }""")

    await page.get_by_test_id("import-upload-form").evaluate("form => form.dataset.maxBytes = '1000'")
    await page.get_by_test_id("import-file").set_input_files(source)
    await page.get_by_test_id("import-upload").click()
    await expect(page.get_by_test_id("upload-too-big")).to_be_visible()
    assert await imports.history(workspace["id"]) == []

    await page.get_by_test_id("import-upload-form").evaluate("form => form.dataset.maxBytes = String(1 << 29)")
    await page.get_by_test_id("import-upload").click()
    await expect(page.get_by_test_id("import-reading-form")).to_be_visible()
    assert await page.evaluate("window.__barShown")
    assert len(await imports.history(workspace["id"])) == 1
