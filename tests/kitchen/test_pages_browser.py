"""The live screens' pages in a real headless Chromium (Playwright) against a real display process:
page bugs that must not come back. The staff order entry's total counts the "items not on the menu"
rows; the kitchen display fits a wall screen with many orders (no page wider or taller than the
screen: the all-day strip wraps, each column scrolls inside itself) with the short number big; the
tracking page and the board fit a 390 px phone.

Screenshots go to artifacts/browser/4x-*.png (launch settings as in test_browser.py; skipped without
Debian's `chromium`).
"""

import pytest
from django.core.management import call_command

from tests.factories import KITCHEN, MANAGER, create_order, load_test_menu, staff_with_password
from tests.support import chromium, free_port, log_in

pytestmark = pytest.mark.slow

WALL, DESKTOP, PHONE = {"width": 1920, "height": 1080}, {"width": 1280, "height": 800}, {"width": 390, "height": 844}
# A busy evening: eight orders of the demo menu, with options and notes, in every column.
BUSY = [
    ("received", [("margherita", 2, ["large", "extra_cheese"], "well done"), ("cola", 2, [], "")]),
    (
        "received",
        [("diavola", 1, ["medium", "chili"], "nut allergy"), ("fries", 1, ["large"], ""), ("beer", 2, [], "")],
    ),
    (
        "received",
        [("burger", 2, ["medium_rare", "bacon", "no_pickles"], ""), ("caesar", 1, ["chicken", "no_anchovies"], "")],
    ),
    ("received", [("quattro_formaggi", 1, ["large"], ""), ("gelato", 3, ["vanilla", "pistachio"], "no cone")]),
    ("cooking", [("capricciosa", 1, ["medium", "no_olives"], ""), ("ribeye", 1, ["rare"], "sauce on the side")]),
    ("cooking", [("vegetariana", 2, ["medium", "mushrooms", "no_onions"], ""), ("espresso", 2, ["double"], "")]),
    ("cooking", [("chicken_skewers", 3, [], ""), ("caprese", 1, [], ""), ("house_red", 1, [], "")]),
    ("ready", [("marinara", 1, ["large", "no_garlic"], ""), ("tiramisu", 2, [], ""), ("water", 1, [], "")]),
]


def busy_kitchen() -> list[str]:
    """The demo menu and the BUSY orders; their numbers."""
    call_command("load_menu", "menu/demo_menu.json", verbosity=0)
    numbers = []
    for status, lines in BUSY:
        items = [{"sku": sku, "quantity": n, "modifiers": mods, "notes": notes} for sku, n, mods, notes in lines]
        numbers.append(create_order(status=status, items=items).number)
    return numbers


@pytest.fixture
def display(processes, start_display) -> str:
    """A display process of the test's own: its base URL."""
    port = free_port()
    start_display("display", port)
    return f"http://127.0.0.1:{port}"


def page_size(page) -> dict:
    return page.evaluate(
        "({width: document.documentElement.scrollWidth, height: document.documentElement.scrollHeight})"
    )


def font_px(locator) -> float:
    return float(locator.evaluate("node => getComputedStyle(node).fontSize").removesuffix("px"))


def test_the_staff_order_entrys_total_counts_the_items_not_on_the_menu(display, browser_artifacts):
    from playwright.sync_api import expect

    load_test_menu()
    staff_with_password(MANAGER, "host")

    with chromium() as browser:
        page = browser.new_page(viewport=DESKTOP)
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        log_in(page, display, "/admin/orders/order/add/", "host")
        page.fill("#id_customer_name", "Walk In")
        page.select_option("#id_order_type", "takeout")
        page.click("button.pick[data-sku=margherita]")
        expect(page.locator("#total")).to_have_text("12.50")
        # Typed after the menu line: the total follows the free rows as they are typed.
        page.fill("#id_items-0-name", "Garlic bread")
        page.fill("#id_items-0-quantity", "2")
        page.fill("#id_items-0-price", "2.25")
        expect(page.locator("#total")).to_have_text("17.00")  # 12.50 + 2 × 2.25
        page.screenshot(path=browser_artifacts / "40-staff-entry-free-rows.png", full_page=True)
        page.click("input[name=_save]")
        expect(page.locator(".messagelist")).to_contain_text("received: total 17.00")  # what the server charged
        # The admin's index links the live screens (settings.DISPLAY_URL).
        page.goto(f"{display}/admin/")
        expect(page.locator("#screens a")).to_have_text(["Kitchen display", "Expo", "Customer board"])
        page.screenshot(path=browser_artifacts / "47-admin-index.png", full_page=True)
    assert errors == [], errors


def test_the_kitchen_display_fits_a_wall_screen_with_many_orders(display, browser_artifacts):
    from playwright.sync_api import expect

    numbers = busy_kitchen()
    staff_with_password(KITCHEN, "cook")

    with chromium() as browser:
        page = browser.new_page(viewport=WALL)
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        log_in(page, display, "/kitchen/", "cook")
        expect(page.locator(".ticket")).to_have_count(len(BUSY), timeout=10_000)
        page.screenshot(path=browser_artifacts / "41-kitchen-wall-1920.png")
        for screen, viewport in (("kitchen-wall", WALL), ("kitchen-desktop", DESKTOP)):
            page.set_viewport_size(viewport)
            # The whole page is the screen: nothing runs off to the right or the bottom.
            assert page_size(page) == viewport, screen
            assert page.locator("#allday span").count() >= 15
            allday = page.locator("#allday").bounding_box()
            assert allday["x"] + allday["width"] <= viewport["width"] and allday["height"] > 40, screen  # wrapped
        page.screenshot(path=browser_artifacts / "42-kitchen-desktop-1280.png")
        # A crowded column scrolls inside itself.
        received = page.locator("#col-received")
        assert received.evaluate("node => node.scrollHeight > node.clientHeight")
        assert received.evaluate("node => getComputedStyle(node).overflowY") == "auto"

        # Read from 2 m: the short number big, the full number small; options, notes and age large.
        ticket = page.locator(f'.ticket[data-number="{numbers[0]}"]')
        expect(ticket.locator(".short")).to_have_text(numbers[0].rpartition("_")[2])
        expect(ticket.locator(".full")).to_have_text(numbers[0])
        assert font_px(ticket.locator(".short")) >= 2 * font_px(ticket.locator(".full"))
        assert font_px(ticket.locator(".mods").first) >= 18
        assert font_px(ticket.locator(".note").first) >= 18
        assert font_px(ticket.locator(".age")) >= 24

        page.set_viewport_size(WALL)
        page.goto(f"{display}/kitchen/expo/")
        expect(page.locator(".ticket")).to_have_count(len(BUSY), timeout=10_000)
        assert page_size(page) == WALL
        page.screenshot(path=browser_artifacts / "43-expo-wall-1920.png")
    assert errors == [], errors


def test_tracking_and_the_board_fit_a_phone(display, browser_artifacts):
    from playwright.sync_api import expect

    numbers = busy_kitchen()

    with chromium() as browser:
        errors: list[str] = []
        phone = browser.new_page(viewport=PHONE, device_scale_factor=2, is_mobile=True)
        phone.on("pageerror", lambda error: errors.append(str(error)))
        phone.goto(f"{display}/track/{numbers[4]}/")
        expect(phone.locator('#steps li[data-step="cooking"]')).to_have_class("current", timeout=10_000)
        assert page_size(phone)["width"] == PHONE["width"]
        phone.screenshot(path=browser_artifacts / "44-track-phone.png", full_page=True)

        response = phone.goto(f"{display}/track/ORD_20250101_999/")
        assert response.status == 404
        expect(phone.locator("h1")).to_have_text("No such order")
        assert page_size(phone)["width"] == PHONE["width"]
        phone.screenshot(path=browser_artifacts / "45-track-unknown-phone.png", full_page=True)

        phone.goto(f"{display}/board/")
        expect(phone.locator("#conn")).to_have_class("up", timeout=10_000)
        expect(phone.locator(".number")).to_have_count(len(BUSY))
        assert page_size(phone) == PHONE
        phone.screenshot(path=browser_artifacts / "46-board-phone.png")
    assert errors == [], errors
