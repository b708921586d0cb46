"""The customer board and the tracking page's step bar in a real headless Chromium (Playwright),
against a real display process, web process and relay: an order placed with POST /orders appears
under "Preparing", moves under "Ready for pick-up" highlighted, and leaves the board when bumped.

Screenshots go to artifacts/browser/ with the kitchen display's (launch settings from
tests/support.py, as for test_browser.py; skipped without Debian's `chromium`).
"""

import pytest

from kitchen.services import worker_finish_order
from orders.services import order_mark_completed, order_start_cooking
from tests.factories import place_order
from tests.support import (
    CHROMIUM_ARGS,
    board_number,
    chromium_path,
    free_port,
    in_thread,
    on_board,
    open_board,
    start_web,
)

pytestmark = pytest.mark.slow


def test_customer_board_in_a_browser_shows_an_order_preparing_then_ready_then_gone(
    processes, relay, start_display, browser_artifacts
):
    executable = chromium_path()
    if executable is None:
        pytest.skip("no chromium executable found (apt-get install chromium; `make test` does it)")
    from playwright.sync_api import expect, sync_playwright

    port = free_port()
    start_display("display", port)
    web = start_web(processes)
    base = f"http://127.0.0.1:{port}"
    page_errors: list[str] = []

    # Orders that wait in the kitchen while the one under test goes through: the board has some body.
    waiting = [place_order(web, customer_name=f"Waiting {name}") for name in ("Ann", "Bob", "Cy")]
    place_order(web, order_type="delivery", delivery_address="1 Main Street, Springfield")  # not on this board

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            page = None

            def shot(name: str) -> None:
                page.screenshot(path=browser_artifacts / f"30-board-{name}.png", full_page=True)

            try:
                page = open_board(browser, f"{base}/board/", page_errors)
                for number in waiting:
                    expect(on_board(page, number, "preparing")).to_be_visible(timeout=5_000)
                expect(page.locator(".number")).to_have_count(len(waiting))  # no delivery

                first = place_order(web, customer_name="Board Customer")
                expect(on_board(page, first, "preparing")).to_contain_text(board_number(first), timeout=5_000)
                shot("1-preparing")

                in_thread(order_start_cooking, number=waiting[0], changed_by="chef_mario")
                in_thread(worker_finish_order, number=waiting[0], worker_name="chef_mario")
                in_thread(order_start_cooking, number=first, changed_by="chef_mario")
                in_thread(worker_finish_order, number=first, worker_name="chef_mario")
                expect(on_board(page, first, "ready")).to_have_class("number fresh", timeout=10_000)
                # Only the newest ready order is highlighted; the one before it is just ready.
                expect(on_board(page, waiting[0], "ready")).to_have_class("number")
                expect(on_board(page, first, "preparing")).to_have_count(0)
                expect(page.locator("#ready-count")).to_have_text("2")
                shot("2-ready")

                track = browser.new_page(viewport={"width": 800, "height": 600})
                track.on("pageerror", lambda error: page_errors.append(str(error)))
                track.goto(f"{base}/track/{first}/")
                expect(track.locator('#steps li[data-step="ready"]')).to_have_class("current", timeout=10_000)
                expect(track.locator('#steps li[data-step="cooking"]')).to_have_class("done")
                expect(track.locator("#status")).to_have_text("Ready for pick-up")
                expect(track.locator("#board")).to_have_text(f"On the order board: {board_number(first)}")
                expect(track.locator("body")).not_to_contain_text("Board Customer")
                track.screenshot(path=browser_artifacts / "30-board-4-track-ready.png", full_page=True)

                in_thread(order_start_cooking, number=waiting[1], changed_by="chef_mario")
                cooking = browser.new_page(viewport={"width": 800, "height": 600})
                cooking.goto(f"{base}/track/{waiting[1]}/")
                expect(cooking.locator('#steps li[data-step="cooking"]')).to_have_class("current", timeout=10_000)
                expect(cooking.locator("#eta")).to_contain_text("ready around")
                cooking.screenshot(path=browser_artifacts / "30-board-5-track-cooking.png", full_page=True)

                in_thread(order_mark_completed, number=first, changed_by="cashier")
                expect(page.locator(f'.number[data-number="{first}"]')).to_have_count(0, timeout=10_000)
                expect(on_board(page, waiting[0], "ready")).to_be_visible()
                shot("3-bumped")
            except BaseException:
                if page is not None:
                    page.screenshot(path=browser_artifacts / "failure-board.png", full_page=True)
                raise
        finally:
            browser.close()

    assert page_errors == [], page_errors
