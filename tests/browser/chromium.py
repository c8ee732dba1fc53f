"""Helpers of the browser tests: the real app under uvicorn, Debian's Chromium, no internet.

The app runs in a thread with its own event loop and pool, on a free loopback port
that uvicorn picks itself. Chromium is Debian's (``scripts/system-packages.sh test``
installs it), driven by Playwright without its own browsers. Pages are gated: every
request that does not go to the service is aborted and recorded, so a test can assert
that a page needs nothing from outside.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from playwright.async_api import Browser, BrowserContext, Page, Route, async_playwright

from tests.fixtures import FIXTURES_DIR

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


@asynccontextmanager
async def serve(app: Any) -> AsyncIterator[str]:
    """Serve ``app`` with uvicorn in a thread; yields its base URL (no trailing slash)."""
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(400):
        if server.started or not thread.is_alive():
            break
        await asyncio.sleep(0.05)
    assert server.started, "uvicorn did not start"
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.to_thread(thread.join, 10)


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()


@dataclass
class Watch:
    """What a page did that a test may complain about."""

    errors: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)

    def console(self, message: Any) -> None:
        if message.type == "error":
            where = message.location.get("url", "") if message.location else ""
            self.errors.append(f"{message.text} ({where})" if where else message.text)

    def page_error(self, error: Any) -> None:
        self.errors.append(f"uncaught: {error}")

    def unexpected_errors(self, *allowed: str) -> list[str]:
        """Errors that match none of the ``allowed`` patterns (e.g. an expected 409's log line)."""
        return [e for e in self.errors if not any(re.search(a, e) for a in allowed)]


async def gate(target: Page | BrowserContext, allowed_prefix: str, watch: Watch) -> None:
    """Abort every request outside ``allowed_prefix`` (and record it in ``watch``)."""

    async def route(r: Route) -> None:
        if r.request.url.startswith(allowed_prefix):
            await r.continue_()
        else:
            watch.blocked.append(r.request.url)
            await r.abort()

    await target.route("**/*", route)


def watch_page(page: Page, watch: Watch) -> Page:
    page.on("console", watch.console)
    page.on("pageerror", watch.page_error)
    return page


_SCREEN_CHECKS = (FIXTURES_DIR / "browser" / "screen_checks.js").read_text(encoding="utf-8")


async def check_screen(page: Page) -> dict[str, Any]:
    """Lighthouse-style basics of what is on screen now (see screen_checks.js).

    Every control has an accessible name, every visible text a contrast ratio of at
    least 4.5 against its background, every visible control a 44×44 px touch target.
    """
    found: dict[str, Any] = await page.evaluate(_SCREEN_CHECKS)
    assert found["controls"] > 0 and found["unnamed"] == [], found["unnamed"]
    assert found["texts"] > 3 and found["contrast"] == [], found["contrast"]
    assert found["small"] == [], found["small"]
    return found


VIEWPORTS = {"phone": {"width": 360, "height": 740}, "desk": {"width": 1366, "height": 768}}
"""The two screens every page is looked at on: a small phone and an office desk."""


async def open_page(
    browser: Browser, base: str, watch: Watch, viewport: str, **options: Any
) -> tuple[BrowserContext, Page]:
    """A Chinese-locale context on ``viewport`` (service workers blocked, so every load
    is a real one) and its page, watched and gated to the service at ``base``."""
    context = await browser.new_context(
        viewport=VIEWPORTS[viewport],
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
        service_workers="block",
        **options,
    )
    page = watch_page(await context.new_page(), watch)
    await gate(page, base + "/", watch)
    return context, page
