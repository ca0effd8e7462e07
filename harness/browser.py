"""Debian's headless Chromium for browser tests (Playwright's sync API)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def launched_chromium(executable: str, args: list[str]) -> Iterator[Any]:
    """Launch a headless Chromium for the block (one per test module is enough)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=args, timeout=60_000)
        try:
            yield browser
        finally:
            browser.close()
