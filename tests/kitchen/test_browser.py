"""The kitchen display in a real headless Chromium (Playwright): log in through the admin login form,
watch a ticket go received → cooking → ready through the real relay, worker and display process,
bump it, then kill the display process and see the page show the outage, reconnect to a new process
on the same port and render the board again from its snapshot. And a phone order taken with the
admin's menu picker, marked on the oven and bar station screens and bumped on expo, while the public
customer board shows its number under "Preparing", then "Ready for pick-up", then no more.

Screenshots of the board at each step are written to artifacts/browser/ (the path is printed in the
terminal summary). Needs Debian's `chromium` (`make test` installs it); skipped when it is missing.
"""

import signal
import time

import pytest

from tests.factories import KITCHEN, MANAGER, load_test_menu, place_order, staff_user
from tests.support import CHROMIUM_ARGS, board_number, chromium_path, free_port, on_board, open_board, start_web

pytestmark = pytest.mark.slow

PASSWORD = "browser-test-password"
RED, GREEN = "rgb(198, 40, 40)", "rgb(46, 125, 50)"  # #conn and #conn.up in display.html


def test_kitchen_display_in_a_browser_follows_an_order_and_survives_a_display_restart(
    processes, relay, start_worker, start_display, browser_artifacts
):
    executable = chromium_path()
    if executable is None:
        pytest.skip("no chromium executable found (apt-get install chromium; `make test` does it)")
    from playwright.sync_api import expect, sync_playwright

    # Database work first: Django's ORM refuses to run while Playwright's event loop is running.
    user = staff_user(KITCHEN, "cook")
    user.set_password(PASSWORD)
    user.save()

    port = free_port()
    display = start_display("display", port)
    web = start_web(processes)
    board_url = f"http://127.0.0.1:{port}/kitchen/"
    page_errors: list[str] = []
    shots = iter(range(1, 100))

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 720})
            page.on("pageerror", lambda error: page_errors.append(str(error)))

            def shot(name: str) -> None:
                page.screenshot(path=browser_artifacts / f"{next(shots):02d}-{name}.png", full_page=True)

            def ticket(number: str, column: str | None = None):
                scope = f"#col-{column} " if column else ""
                return page.locator(f'{scope}.ticket[data-number="{number}"]')

            conn = page.locator("#conn")

            try:
                # /kitchen/ sends an anonymous visitor to the admin login form, which brings it back.
                page.goto(board_url)
                expect(page).to_have_url(f"http://127.0.0.1:{port}/admin/login/?next=/kitchen/")
                page.fill("#id_username", "cook")
                page.fill("#id_password", PASSWORD)
                shot("login")
                page.click("input[type=submit]")
                expect(page).to_have_url(board_url)
                expect(conn).to_have_class("up", timeout=10_000)
                expect(conn).to_have_css("background-color", GREEN)
                shot("connected-empty")

                first = place_order(web, customer_name="Browser One")
                expect(ticket(first, "received")).to_be_visible(timeout=2_000)
                expect(ticket(first)).to_contain_text("Margherita Pizza × 1")
                shot("received")

                worker = start_worker("chef_browser", COOKING_TIME_SCALE="0.3")  # takeout: 10 s × 0.3
                expect(ticket(first, "cooking")).to_be_visible(timeout=10_000)
                expect(ticket(first, "cooking")).to_contain_text("chef_browser")
                shot("cooking")
                expect(ticket(first, "ready")).to_be_visible(timeout=15_000)
                shot("ready")

                ticket(first, "ready").get_by_role("button", name="Bump").click()
                expect(ticket(first)).to_have_count(0, timeout=5_000)
                expect(page.locator("#recalls")).to_contain_text(f"Recall {first}")
                shot("bumped")

                # Idle, the worker would cook the next order while the display is down: stop it, so
                # that order is still `received` when the board comes back.
                worker.send(signal.SIGTERM)
                assert worker.wait(20) == 0, worker.output()

                display.send(signal.SIGKILL)
                display.wait(5)
                killed_at = time.monotonic()
                expect(conn).not_to_have_class("up", timeout=5_000)
                expect(conn).to_have_css("background-color", RED)
                shot("display-killed")

                second = place_order(web, customer_name="Browser Two")  # while no display is up
                start_display("display-restarted", port)
                # The page retries with a capped exponential back-off (0.5 s, 1 s, 2 s, 4 s, 8 s, …).
                expect(conn).to_have_class("up", timeout=25_000)
                reconnected_after = time.monotonic() - killed_at
                expect(ticket(second, "received")).to_be_visible(timeout=5_000)  # from the new snapshot
                expect(ticket(first)).to_have_count(0)
                expect(page.locator(".ticket")).to_have_count(1)
                shot("reconnected")

                # Live updates flow again, through the new process's own bridge.
                start_worker("chef_browser", COOKING_TIME_SCALE="0.3")
                expect(ticket(second, "ready")).to_be_visible(timeout=20_000)
                shot("after-restart-ready")
                print(f"display reconnected {reconnected_after:.1f} s after the kill")
            except BaseException:
                page.screenshot(path=browser_artifacts / "failure.png", full_page=True)
                raise
        finally:
            browser.close()

    assert page_errors == [], page_errors
    print(f"browser screenshots: {browser_artifacts}")


def test_a_phone_order_taken_with_the_menu_picker_goes_through_two_stations_and_expo_and_over_the_customer_board(
    processes, relay, start_display, browser_artifacts
):
    executable = chromium_path()
    if executable is None:
        pytest.skip("no chromium executable found (apt-get install chromium; `make test` does it)")
    from playwright.sync_api import expect, sync_playwright

    load_test_menu()
    user = staff_user(MANAGER, "host")
    user.set_password(PASSWORD)
    user.save()
    port = free_port()
    start_display("display", port)
    base = f"http://127.0.0.1:{port}"
    page_errors: list[str] = []

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("pageerror", lambda error: page_errors.append(str(error)))
            board = None
            try:
                # The customer board, open the whole run beside the staff's screens.
                board = open_board(browser, f"{base}/board/", page_errors)
                page.goto(f"{base}/admin/orders/order/add/")
                page.fill("#id_username", "host")
                page.fill("#id_password", PASSWORD)
                page.click("input[type=submit]")
                page.fill("#id_customer_name", "Phone Caller")
                page.select_option("#id_order_type", "takeout")
                page.click("button.pick[data-sku=margherita]")
                line = page.locator("#lines .line[data-sku=margherita]")
                line.get_by_label("Large +3.00").check()
                line.get_by_label("Extra cheese +1.50").check()
                line.get_by_label("notes").fill("no onions please")
                expect(page.locator("#total")).to_have_text("17.00")  # 12.50 + 3.00 + 1.50
                page.click("button.pick[data-sku=cola]")
                expect(page.locator("#total")).to_have_text("20.00")  # and a cola, 3.00
                expect(page.locator("button.pick[data-sku=tiramisu]")).to_be_disabled()  # sold out
                page.screenshot(path=browser_artifacts / "20-menu-picker.png", full_page=True)
                page.click("input[name=_save]")
                expect(page.locator(".messagelist")).to_contain_text("received: total 20.00")
                page.screenshot(path=browser_artifacts / "21-picked-order-placed.png", full_page=True)

                page.goto(f"{base}/kitchen/")
                ticket = page.locator(".ticket", has_text="Margherita Pizza × 1")
                expect(ticket).to_be_visible(timeout=10_000)
                expect(ticket).to_contain_text("Large, Extra cheese")
                expect(ticket.locator(".note.alert")).to_have_text("no onions please")
                page.screenshot(path=browser_artifacts / "22-picked-order-on-the-display.png", full_page=True)
                number = ticket.get_attribute("data-number")
                expect(on_board(board, number, "preparing")).to_contain_text(board_number(number))

                # Station screens: each shows its own items of the order and the stations it also waits on.
                page.goto(f"{base}/kitchen/?station=oven")
                oven = page.locator(".ticket")
                expect(oven).to_contain_text("Margherita Pizza × 1", timeout=10_000)
                expect(oven).not_to_contain_text("Cola")
                expect(oven.locator(".elsewhere")).to_have_text("Also on: bar")
                page.screenshot(path=browser_artifacts / "23-oven-station.png", full_page=True)
                # The oven starts the order and marks its pizza; the bar's cola, marked last, readies it.
                oven.get_by_role("button", name="Start").click()
                expect(page.locator("#col-cooking .ticket")).to_have_count(1, timeout=10_000)
                page.locator("#col-cooking li", has_text="Margherita Pizza × 1").click()
                expect(page.locator("#col-cooking li.prepared")).to_have_count(1, timeout=10_000)
                page.screenshot(path=browser_artifacts / "24-oven-item-marked.png", full_page=True)
                # Cooking, half marked: still under "Preparing" once the board has heard it is cooking
                # (`orders`: the board script's map of what its socket told it).
                board.wait_for_function("number => orders.get(number)?.status === 'cooking'", arg=number)
                expect(on_board(board, number, "preparing")).to_contain_text(board_number(number))
                expect(board.locator("#ready .number")).to_have_count(0)
                page.goto(f"{base}/kitchen/?station=bar")
                bar = page.locator(".ticket")
                expect(bar).to_contain_text("Cola × 1", timeout=10_000)
                expect(bar).not_to_contain_text("Margherita")
                expect(bar.locator(".elsewhere")).to_have_text("Also on: oven")
                page.locator("#col-cooking li", has_text="Cola × 1").click()
                expect(page.locator("#col-ready .ticket")).to_have_count(1, timeout=10_000)
                page.screenshot(path=browser_artifacts / "25-bar-item-marked-order-ready.png", full_page=True)
                # The last mark readied the order: the board moves it under "Ready for pick-up", highlighted.
                expect(on_board(board, number, "ready")).to_have_class("number fresh", timeout=10_000)
                expect(on_board(board, number, "ready")).to_have_text(board_number(number))
                expect(board.locator("#preparing .number")).to_have_count(0)
                board.screenshot(path=browser_artifacts / "26-board-ready.png", full_page=True)

                # Expo: the whole order, each station's progress, ready to run; bumped from there.
                page.goto(f"{base}/kitchen/expo/")
                expo = page.locator("#col-ready .ticket")
                expect(expo).to_contain_text("Margherita Pizza × 1", timeout=10_000)
                expect(expo).to_contain_text("Cola × 1")
                expect(expo.locator(".progress[data-station=oven]")).to_contain_text("oven 1/1")
                expect(expo.locator(".progress[data-station=bar]")).to_contain_text("bar 1/1")
                page.screenshot(path=browser_artifacts / "27-expo-ready-to-run.png", full_page=True)
                expo.get_by_role("button", name="Bump").click()
                expect(page.locator(".ticket")).to_have_count(0, timeout=10_000)
                # Bumped on expo, picked up: gone from the board.
                expect(board.locator(f'.number[data-number="{number}"]')).to_have_count(0, timeout=10_000)
                expect(board.locator(".number")).to_have_count(0)
                board.screenshot(path=browser_artifacts / "28-board-bumped.png", full_page=True)
            except BaseException:
                page.screenshot(path=browser_artifacts / "failure-picker.png", full_page=True)
                if board is not None:
                    board.screenshot(path=browser_artifacts / "failure-picker-board.png", full_page=True)
                raise
        finally:
            browser.close()
    assert page_errors == [], page_errors
