"""A marketer imports a messy CSV into a list, maps its columns, watches the progress bar fill, exports the list.

The import runs in a real Dramatiq worker process, started only once the
progress page shows the import waiting: so the page must be updated live,
over Server-Sent Events, to see it finish.
"""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys

import pytest
from playwright.async_api import expect

from app.services import custom_fields, lists
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
