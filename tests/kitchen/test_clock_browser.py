"""The screens' clocks in a real headless Chromium (Playwright) against a real display process: a
tablet set to another zone (Tokyo) shows the restaurant's time (New York, its menu's kitchen) on the
board's clock, also on a board set up wrong, and in the kitchen display's ETA.

Screenshots go to artifacts/browser/6x-*.png (launch settings as in test_browser.py; skipped without
Debian's `chromium`).
"""

from datetime import UTC, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from orders.models import Order, OrderStatus
from tests.factories import KITCHEN, create_order, load_test_menu, menu_copy, staff_user
from tests.support import chromium, free_port

pytestmark = pytest.mark.slow

NEW_YORK = ZoneInfo("America/New_York")
PASSWORD = "clock-test-password"


def test_the_screens_show_the_restaurants_time_on_a_tablet_in_another_zone(processes, start_display, browser_artifacts):
    from playwright.sync_api import expect

    load_test_menu(menu_copy() | {"kitchen": {"time_zone": "America/New_York"}})
    cook = staff_user(KITCHEN, "cook")
    cook.set_password(PASSWORD)
    cook.save()
    # The browser's clock is held at `moment` (on the minute, so no minute turns during the test; a
    # minute or two after the order is received, so its age reads as one).
    moment = (timezone.now() + timedelta(minutes=2)).astimezone(UTC).replace(second=0, microsecond=0)
    eta = moment + timedelta(minutes=12)
    order = create_order(status=OrderStatus.COOKING)
    Order.objects.filter(pk=order.pk).update(estimated_completion=eta)
    port = free_port()
    start_display("display", port)
    base = f"http://127.0.0.1:{port}"

    def in_new_york(at) -> str:
        return at.astimezone(NEW_YORK).strftime("%H:%M")

    with chromium() as browser:
        context = browser.new_context(timezone_id="Asia/Tokyo", locale="en-GB", viewport={"width": 1280, "height": 800})
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.clock.set_fixed_time(moment)
        assert page.evaluate("Intl.DateTimeFormat().resolvedOptions().timeZone") == "Asia/Tokyo"

        page.goto(f"{base}/board/")
        expect(page.locator("#clock")).to_have_text(in_new_york(moment))
        page.screenshot(path=browser_artifacts / "60-board-clock-new-york.png")
        page.goto(f"{base}/board/?types=nonsense")  # no socket, but the clock
        expect(page.locator("#clock")).to_have_text(in_new_york(moment))

        page.goto(f"{base}/admin/login/?next=/kitchen/")
        page.fill("#id_username", "cook")
        page.fill("#id_password", PASSWORD)
        page.click("input[type=submit]")
        ticket = page.locator(f'.ticket[data-number="{order.number}"]')
        expect(ticket.locator(".meta")).to_contain_text(f"ETA {in_new_york(eta)}", timeout=10_000)
        page.screenshot(path=browser_artifacts / "61-kitchen-eta-new-york.png")
        context.close()
    assert in_new_york(moment) != moment.astimezone(ZoneInfo("Asia/Tokyo")).strftime("%H:%M")
    assert errors == [], errors
