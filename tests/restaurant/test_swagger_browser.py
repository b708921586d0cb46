"""Swagger UI works under the Content-Security-Policy (its script a file of its own): in a real
headless Chromium against a real web process, the operations of the schema are listed."""

import pytest

from tests.support import CHROMIUM_ARGS, chromium_path, start_web

pytestmark = pytest.mark.slow


def test_swagger_ui_lists_the_api_under_the_content_security_policy(processes, browser_artifacts):
    from playwright.sync_api import expect, sync_playwright

    executable = chromium_path()
    if executable is None:
        pytest.skip("no chromium executable found (apt-get install chromium; `make test` does it)")
    url = start_web(processes)
    refused: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
            page.goto(f"{url}/api/docs/")
            expect(page.locator(".opblock-summary-path").first).to_be_visible(timeout=15_000)
            assert page.locator(".opblock-summary-path", has_text="/orders").count() >= 1
            page.screenshot(path=browser_artifacts / "48-swagger-ui.png")
        finally:
            browser.close()
    assert refused == []
