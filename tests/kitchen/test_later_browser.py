"""An order for later on the kitchen display and the customer board, in a real headless Chromium:
while it is held the kitchen shows it in the "Later" strip with its fire time, not as a ticket to
start, and the board does not list it; at its fire time it becomes an ordinary ticket under
"Received" and the board lists it as preparing (with the time promised), nothing but the clock moving it.

Screenshots are written to artifacts/browser/. Needs Debian's `chromium`; skipped when it is missing.
"""

import math
from datetime import UTC, datetime, timedelta

import pytest
import requests
from django.utils import timezone

from tests.factories import KITCHEN, load_test_menu, menu_copy, staff_with_password
from tests.support import CHROMIUM_ARGS, chromium_path, free_port, in_thread, log_in, start_web

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

FIRE_IN = 10  # s from the order to its fire time: time for the pages to show it held


def test_a_held_order_waits_in_the_later_strip_and_off_the_board_until_its_fire_time(
    processes, relay, start_display, browser_artifacts
):
    executable = chromium_path()
    if executable is None:
        pytest.skip("no chromium executable found (apt-get install chromium; `make test` does it)")
    from playwright.sync_api import expect, sync_playwright

    staff_with_password(KITCHEN, "cook")
    menu = menu_copy()
    menu["kitchen"] = {"time_zone": "UTC", "slot_minutes": 1}
    load_test_menu(menu)
    port = free_port()
    start_display("display", port)
    web = start_web(processes, COOKING_TIME_SCALE="1")
    base = f"http://127.0.0.1:{port}"

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            kitchen = browser.new_page(viewport={"width": 1280, "height": 720})
            log_in(kitchen, base, "/kitchen/", "cook")
            expect(kitchen.locator("#conn")).to_have_class("up", timeout=10_000)
            board = browser.new_page(viewport={"width": 1280, "height": 720})
            board.goto(f"{base}/board/")
            expect(board.locator("#conn")).to_have_class("up", timeout=10_000)

            # The oven's prep time chosen so that a pizza for the next minute's end (at least 30 s
            # away) fires FIRE_IN seconds after it is placed (the web process reads a new menu at once).
            now = timezone.now()
            ready_at = datetime.fromtimestamp(math.ceil((now + timedelta(seconds=30)).timestamp() / 60) * 60, tz=UTC)
            menu["stations"][0] |= {"prep_seconds": int((ready_at - now).total_seconds()) - FIRE_IN}
            in_thread(load_test_menu, menu=menu)
            placed = requests.post(
                f"{web}/orders",
                json={
                    "customer_name": "Later Lee",
                    "order_type": "takeout",
                    "items": [{"sku": "margherita", "quantity": 2, "modifiers": ["medium"]}],
                    "ready_at": ready_at.isoformat(),
                },
                timeout=10,
            )
            assert placed.status_code == 201, placed.text
            number = placed.json()["order_number"]
            held = kitchen.locator(f'#later .held[data-number="{number}"]')
            expect(held).to_be_visible(timeout=5_000)
            expect(held).to_contain_text("2 items")
            expect(held.locator(".fire")).not_to_have_text("")
            assert kitchen.locator(f'.ticket[data-number="{number}"]').count() == 0
            kitchen.screenshot(path=browser_artifacts / "later-strip-held.png")
            board.reload()  # the snapshot holds it too: still not listed
            expect(board.locator("#conn")).to_have_class("up", timeout=10_000)
            assert board.locator(f'#preparing [data-number="{number}"]').count() == 0
            board.screenshot(path=browser_artifacts / "later-board-held.png")

            ticket = kitchen.locator(f'#col-received .ticket[data-number="{number}"]')
            expect(ticket).to_be_visible(timeout=(FIRE_IN + 15) * 1000)
            expect(kitchen.locator("#later")).to_be_empty()
            expect(ticket.locator(".due")).to_contain_text(ready_at.strftime(":%M"))
            expect(board.locator(f'#preparing [data-number="{number}"]')).to_be_visible(timeout=5_000)
            # The board shows the time promised under the number.
            expect(board.locator(f'#preparing [data-number="{number}"] .due')).to_contain_text(ready_at.strftime(":%M"))
            board.screenshot(path=browser_artifacts / "later-board-fired.png")
            kitchen.screenshot(path=browser_artifacts / "later-strip-fired.png")
        finally:
            browser.close()
