"""Fixtures for the browser tests: one real headless Chromium per session, a fresh page per test.

Every test in tests/browser/ is marked `slow` (a real JupyterLab, real kernels, a real browser).
Without /usr/bin/chromium the tests are skipped on a developer's machine, with the reason; under
CI=true a missing Chromium is a failure, so CI can never pass by silently skipping them.
"""
import os

import pytest

from lab import CHROMIUM, launch_chromium

HERE = os.path.dirname(os.path.abspath(__file__))
VIEWPORT = {"width": 1400, "height": 1000}


def pytest_collection_modifyitems(config, items):
    """Mark every test collected from this folder `slow`."""
    for item in items:
        if str(item.path).startswith(HERE + os.sep):
            item.add_marker(pytest.mark.slow)


def in_ci():
    """True on the CI machine (CI=true, as GitHub Actions and most CI services set it)."""
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


@pytest.fixture(scope="session")
def browser():
    """A headless Debian Chromium driven by Playwright, shared by all browser tests."""
    if not os.path.exists(CHROMIUM):
        message = f"{CHROMIUM} not found: install Debian's chromium (apt-get install chromium)"
        if in_ci():
            pytest.fail(message + " -- the browser tests must run in CI")
        pytest.skip(message)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("playwright is not installed: .venv/bin/pip install -r requirements.txt")
    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser):
    """A fresh 1400x1000 page (own context: no cookies or storage shared between tests)."""
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()
