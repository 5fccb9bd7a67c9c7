"""End-to-end: the real web server (granian) on a free port, driven by Chromium through Playwright."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator

import pytest

from app.embedded import free_port

CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


def _wait_until_serving(url: str, process: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"web server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/login", timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("web server did not start")


@pytest.fixture(scope="session")
def base_url() -> str:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "PORT": str(port), "BASE_URL": url, "WEB_WORKERS": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "granian", "--interface", "asgi", "--factory", "app.main:create_server",
         "--host", "127.0.0.1", "--port", str(port), "--workers", "1", "--no-access-log"],
        env=env,
    )
    try:
        _wait_until_serving(url, process)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)


def _chromium_path() -> str | None:
    return shutil.which("chromium") or (os.path.exists("/usr/bin/chromium") and "/usr/bin/chromium") or None


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator:
    from playwright.async_api import async_playwright

    playwright = await async_playwright().start()
    chromium = await playwright.chromium.launch(executable_path=_chromium_path(), args=CHROMIUM_ARGS, headless=True)
    yield chromium
    await chromium.close()
    await playwright.stop()


@pytest.fixture
async def page(browser, base_url):
    context = await browser.new_context(base_url=base_url)
    context.set_default_timeout(15_000)
    tab = await context.new_page()
    yield tab
    await context.close()
