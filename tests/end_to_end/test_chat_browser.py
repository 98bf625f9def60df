"""Chapter 9 in a real browser: Debian's headless Chromium opens the room page, sees what a
cell-side client says, and what is typed into the page reaches that client.

Skips without /usr/bin/chromium, unless LAB_REQUIRE_BROWSER=1 (CI), where it fails instead
(the rule lives in conftest.py). Playwright drives the system browser; it never downloads one.
"""

from __future__ import annotations

import uuid

import pytest
from django.test import override_settings
from playwright.async_api import async_playwright, expect

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PATIENCE_MS = 15_000


@pytest.fixture
async def page(tmp_path):
    async with async_playwright() as playwright:
        context = await playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"),  # a fresh profile: no cookies or cache from earlier runs
            executable_path=CHROMIUM,
            args=CHROMIUM_ARGS,
            headless=True,
        )
        try:
            yield context.pages[0] if context.pages else await context.new_page()
        finally:
            await context.close()


@pytest.fixture
def room() -> str:
    return f"b{uuid.uuid4().hex[:12]}"


async def test_the_room_page_and_a_cell_client_talk_both_ways(lab_server, page, room):
    async with lab_server.chat(room, user="cell") as cell:
        await page.goto(lab_server.url + f"chat/{room}/?name=webuser")
        await expect(page.locator("#status")).to_have_text("connected as webuser", timeout=PATIENCE_MS)
        await cell.wait_for("webuser joined", kind="join", timeout=15)

        await cell.send("hello, browser")
        await expect(page.locator("#log li.message").last).to_have_text("cell: hello, browser", timeout=PATIENCE_MS)

        await page.locator("#text").fill("hello, cell")
        await page.locator("#text").press("Enter")
        heard = await cell.wait_for("hello, cell", timeout=15)
        assert heard["user"] == "webuser"


async def test_the_page_replays_history_and_shows_text_as_text(lab_server, page, room):
    async with lab_server.chat(room, user="cell") as cell:
        await cell.send("<b>not bold</b>")
        await cell.wait_for("<b>not bold</b>", timeout=15)
    await page.goto(lab_server.url + f"chat/{room}/?name=late")
    line = page.locator("#log li.history")
    await expect(line).to_have_text("cell: <b>not bold</b>", timeout=PATIENCE_MS)
    assert await page.locator("#log b").count() == 0  # shown, never parsed as HTML


async def test_the_page_shows_why_the_server_closed_it(lab_server, page, room):
    with override_settings(CHAT_ALLOW_ANONYMOUS=False):
        await page.goto(lab_server.url + f"chat/{room}/")
        status = page.locator("#status")
        await expect(status).to_have_attribute("data-state", "closed", timeout=PATIENCE_MS)
    assert "4403" in await status.text_content()
    assert await page.locator("#text").is_disabled()
