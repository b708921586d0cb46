"""The tables' QR sheet as a Manager sees and prints it: a headless Chromium against a real web
process, each code drawn and sized to scan (a screenshot, and the print layout without the admin's
chrome)."""

import pytest

from orders.models import Table
from tests.factories import staff_user
from tests.support import CHROMIUM_ARGS, chromium_path, start_web

pytestmark = pytest.mark.slow

PASSWORD = "a long enough passphrase 42"


def test_the_qr_sheet_shows_a_code_per_table_and_prints_without_the_admin(processes, browser_artifacts):
    from playwright.sync_api import expect, sync_playwright

    executable = chromium_path()
    if executable is None:
        pytest.skip("no chromium executable found (apt-get install chromium; `make test` does it)")
    manager = staff_user("Manager", "maria")
    manager.set_password(PASSWORD)
    manager.save()
    for number, label in ((1, "Window"), (2, ""), (3, "Terrace")):
        Table.objects.create(number=number, label=label)
    url = start_web(processes)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(f"{url}/admin/login/?next=/admin/orders/table/qr-sheet/")
            page.fill("#id_username", "maria")
            page.fill("#id_password", PASSWORD)
            page.click("input[type=submit]")
            codes = page.locator("figure.code")
            expect(codes).to_have_count(3, timeout=15_000)
            for index in range(3):
                box = codes.nth(index).locator("svg").bounding_box()
                frame = codes.nth(index).bounding_box()
                assert box["width"] >= 150 and abs(box["width"] - box["height"]) < 2  # ~5 cm, square
                # Whole inside its card (a code cut by its neighbour does not scan).
                assert frame["x"] < box["x"] and box["x"] + box["width"] < frame["x"] + frame["width"]
            page.screenshot(path=browser_artifacts / "60-tables-qr-sheet.png", full_page=True)
            page.emulate_media(media="print")
            assert not page.locator("#header").is_visible() and not page.locator(".breadcrumbs").is_visible()
            page.screenshot(path=browser_artifacts / "61-tables-qr-sheet-print.png", full_page=True)
        finally:
            browser.close()
