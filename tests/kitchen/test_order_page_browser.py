"""The guests' ordering page in a real headless Chromium (Playwright) on a 390×844 phone, against a
real display process (which serves the page, its socket and the same-origin POST /orders), the relay
and a kitchen worker: a guest orders from a table's QR code and follows the order to ready; a double
tap, and a retry after an answer lost on the way, place one order; the server's errors stand next to
their fields; a sold-out answer is explained in the cart with the menu read again; on a desktop the
cart stands beside the menu and the page works from the keyboard. With a kitchen in Rome whose oven
takes one pizza a slot: a guest picks a later slot (a full one shown disabled, a closed day said so),
is promised its end, and a slot filled behind the page's back is refused with the next one offered.

Screenshots go to artifacts/browser/5x-order-*.png (skipped without Debian's `chromium`).
"""

import json
import re
from datetime import datetime, time, timedelta
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
import requests

from menu.services import menu_items_set_available
from orders.errors import utc_text
from orders.models import Order, Table
from tests.factories import load_test_menu, menu_copy
from tests.support import chromium, free_port, in_thread, manage, wait_for

pytestmark = pytest.mark.slow

PHONE, DESKTOP = {"width": 390, "height": 844}, {"width": 1280, "height": 800}
TRACK_URL = re.compile(r"/track/(ORD_\d{8}_\d{3})/$")
ORDERS_URL = re.compile(r"/(api/)?orders$")


@pytest.fixture
def display(processes, start_display) -> str:
    """A display process of the test's own, with the test menu: its base URL."""
    load_test_menu()
    port = free_port()
    start_display("display", port)
    return f"http://127.0.0.1:{port}"


def new_phone(browser, errors: list[str]):
    page = browser.new_page(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
    page.on("pageerror", lambda error: errors.append(str(error)))
    return page


def open_order_page(page, url: str) -> None:
    from playwright.sync_api import expect

    page.goto(url)
    expect(page.locator("#conn")).to_have_class("up", timeout=10_000)


def add_to_cart(page, sku: str, *, options: tuple[str, ...] = (), notes: str = "", button: str | None = None) -> None:
    """Open the item's sheet, tick `options`, write `notes` and add it (the sheet's button reading `button`)."""
    from playwright.sync_api import expect

    lines = page.locator("#cart-lines .line").count()
    page.click(f"#item-{sku}")
    expect(page.locator("#sheet")).to_be_visible()
    for code in options:
        page.check(f"#option-{code}")
    if notes:
        page.fill("#sheet-notes", notes)
    if button:
        expect(page.locator("#sheet-add")).to_have_text(button)
    page.click("#sheet-add")
    expect(page.locator("#sheet")).to_be_hidden()
    expect(page.locator("#cart-lines .line")).to_have_count(lines + 1)


def page_width(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth")


def focused_id(page) -> str:
    return page.evaluate("document.activeElement.id")


def track_number(page) -> str:
    page.wait_for_url(TRACK_URL, timeout=15_000)
    return TRACK_URL.search(page.url)[1]


def order_rows(number: str) -> dict:
    order = Order.objects.prefetch_related("items").get(number=number)
    return {
        "type": order.order_type,
        "table": order.table_number,
        "name": order.customer_name,
        "address": order.delivery_address,
        "phone": order.contact_phone,
        "email": order.contact_email,
        "total": order.total_amount,
        "items": [
            (item.sku, item.quantity, [modifier["code"] for modifier in item.modifiers], item.notes, item.price)
            for item in order.items.order_by("id")
        ],
    }


def orders_named(name: str) -> list[str]:
    return list(Order.objects.filter(customer_name=name).values_list("number", flat=True))


def test_a_guest_orders_from_a_tables_code_on_a_phone_and_follows_the_order_to_ready(
    display, relay, start_worker, processes, amqp_channel, tmp_path, browser_artifacts
):
    from playwright.sync_api import expect

    table = Table.objects.create(number=7, label="Terrace")
    start_worker("chef_phone", COOKING_TIME_SCALE="1")  # dine-in: 8 s of cooking, seen on the tracking page
    texts = tmp_path / "sms.jsonl"
    notifier = processes("notifier", manage("run_customer_notifier"), SMS_BACKEND="file", SMS_FILE_PATH=str(texts))
    notifier.wait_for_action("broker_connected", timeout=30)
    errors: list[str] = []

    with chromium() as browser:
        phone = new_phone(browser, errors)

        def shot(name: str, *, full_page: bool = True) -> None:
            phone.screenshot(path=browser_artifacts / f"5{name}.png", full_page=full_page)

        open_order_page(phone, f"{display}/order/?table=7&key={table.key}")
        expect(phone.locator("#table")).to_have_text("Dine-in at Table 7 · Terrace")
        expect(phone.locator("input[name=order_type]")).to_have_count(0)  # the table's, not to choose
        expect(phone.locator("#item-tiramisu")).to_be_disabled()
        expect(phone.locator("#item-tiramisu .sold-out")).to_have_text("Sold out")
        assert page_width(phone) == PHONE["width"]
        shot("0-order-phone-menu")

        # The sheet: the size starts on Medium, a sold-out extra cannot be ticked, three extras at most.
        phone.click("#item-margherita")
        expect(phone.locator("#sheet")).to_be_visible()
        expect(phone.locator("#option-medium")).to_be_checked()
        expect(phone.locator("#option-chili")).to_be_disabled()
        expect(phone.locator("#sheet-add")).to_have_text("Add 1 to order · 12.50")
        phone.check("#option-large")
        for code in ("extra_cheese", "mushrooms", "olives"):
            phone.check(f"#option-{code}")
        expect(phone.locator("#option-basil")).to_be_disabled()
        expect(phone.locator("#group-extras-rule")).to_have_text("Optional, up to 3 · 3 chosen")
        phone.uncheck("#option-olives")
        expect(phone.locator("#option-basil")).to_be_enabled()
        phone.fill("#sheet-notes", "well done")
        expect(phone.locator("#sheet-add")).to_have_text("Add 1 to order · 18.20")  # 12.50 + 3.00 + 1.50 + 1.20
        shot("1-order-phone-sheet", full_page=False)
        phone.click("#sheet-add")
        expect(phone.locator("#sheet")).to_be_hidden()
        expect(phone.locator("#item-margherita")).to_be_focused()  # back where the guest was

        add_to_cart(phone, "cola", button="Add 1 to order · 3.00")
        phone.evaluate("scrollTo(0, 0)")
        expect(phone.locator("#cart-bar")).to_be_visible()
        expect(phone.locator("#cart-bar")).to_have_text("Your order: 2 items · 21.20")
        shot("2-order-phone-cart-bar", full_page=False)

        phone.click("#cart-bar")
        expect(phone.locator("#cart-bar")).to_be_hidden()  # the cart is in sight
        expect(phone.locator("#cart-lines .line")).to_have_count(2)
        expect(phone.locator("#line-0 .mods")).to_have_text("Large, Extra cheese, Mushrooms")
        expect(phone.locator("#line-0 .notes")).to_have_text("Note: well done")
        expect(phone.locator("#total")).to_have_text("21.20")
        phone.fill("#customer_name", "Jane Doe")
        expect(phone.locator("#phone")).to_be_hidden()
        phone.check("#notify-sms")
        expect(phone.locator("#phone")).to_be_focused()
        phone.fill("#phone", "+1 555 555 0123")
        assert page_width(phone) == PHONE["width"]
        shot("3-order-phone-checkout")

        phone.click("#place")
        number = track_number(phone)
        expect(phone.locator("#status")).to_have_text("Cooking", timeout=15_000)
        shot("4-order-phone-track-cooking")
        expect(phone.locator("#status")).to_have_text("Ready: on its way to your table", timeout=20_000)
        shot("5-order-phone-track-ready")

        rows = in_thread(order_rows, number=number)
    assert errors == [], errors
    assert rows == {
        "type": "dine_in",
        "table": 7,
        "name": "Jane Doe",
        "address": None,
        "phone": "+15555550123",
        "email": "",
        "total": Decimal("21.20"),
        "items": [
            ("margherita", 1, ["large", "extra_cheese", "mushrooms"], "well done", Decimal("18.20")),
            ("cola", 1, [], "", Decimal("3.00")),
        ],
    }
    # The guest was texted twice: received (with the track link), then ready (brought to the table).
    sent = wait_for(lambda: len(lines := texts.read_text().splitlines() if texts.exists() else []) == 2 and lines)
    received, ready = sorted(map(json.loads, sent), key=lambda text: text["event"] != "received")
    assert (received["to"], received["order_number"], received["event"]) == ("+15555550123", number, "received")
    assert f"/track/{number}/" in received["body"]
    assert (ready["event"], ready["order_number"]) == ("ready", number)
    assert "being brought to table 7" in ready["body"]


def test_a_double_tap_places_one_order_and_a_retry_after_a_lost_answer_opens_that_order(display, browser_artifacts):
    from playwright.sync_api import expect

    errors: list[str] = []
    with chromium() as browser:
        phone = new_phone(browser, errors)
        open_order_page(phone, f"{display}/order/")
        add_to_cart(phone, "cola")
        phone.fill("#customer_name", "Double Tap")
        phone.dblclick("#place")
        track_number(phone)
        double_tapped = in_thread(orders_named, name="Double Tap")

        # The order is placed but its answer is lost: the page says so and keeps the key, so the
        # guest's second tap is answered 409 with the order the first one placed.
        phone = new_phone(browser, errors)
        open_order_page(phone, f"{display}/order/")
        add_to_cart(phone, "cola")
        phone.fill("#customer_name", "Lost Answer")
        sent: list[tuple[str, dict]] = []

        def lose_the_answer(route):
            answer = route.fetch()
            sent.append((route.request.headers["idempotency-key"], answer.json()))
            route.abort("connectionreset")

        phone.route(ORDERS_URL, lose_the_answer)
        phone.click("#place")
        expect(phone.locator("#form-message")).to_contain_text("No answer from the restaurant")
        expect(phone.locator("#place")).to_be_enabled()
        phone.screenshot(path=browser_artifacts / "56-order-phone-no-answer.png", full_page=True)
        phone.unroute(ORDERS_URL)
        with phone.expect_response(ORDERS_URL) as retry:
            phone.click("#place")
        number = track_number(phone)
        retried = (retry.value.status, retry.value.request.headers["idempotency-key"])
        lost = in_thread(orders_named, name="Lost Answer")
    assert errors == [], errors
    assert len(double_tapped) == 1
    [(key, first)] = sent
    assert retried == (409, key)
    assert lost == [first["order_number"]] == [number]


def test_server_errors_stand_next_to_their_fields_and_a_sold_out_answer_is_explained(display, browser_artifacts):
    from playwright.sync_api import expect

    errors: list[str] = []
    with chromium() as browser:
        phone = new_phone(browser, errors)
        # The socket's menu news can be held back, so that the order reaches the server before the
        # page has heard of the 86.
        hold_back_menu_news = []

        def menu_socket(socket):
            server = socket.connect_to_server()

            def to_the_page(message):
                if not (hold_back_menu_news and json.loads(message)["type"] == "menu"):
                    socket.send(message)

            server.on_message(to_the_page)

        phone.route_web_socket(re.compile(r"/ws/menu/$"), menu_socket)
        open_order_page(phone, f"{display}/order/")
        add_to_cart(phone, "margherita")
        add_to_cart(phone, "cola")
        phone.check("input[name=order_type][value=delivery]")
        phone.fill("#delivery_address", "1 Main")
        phone.fill("#customer_name", "R2-D2")
        phone.check("#notify-sms")
        phone.fill("#phone", "+1 555")
        phone.check("#notify-email")
        phone.fill("#email", "guest@")
        with phone.expect_response(ORDERS_URL) as refused:
            phone.click("#place")
        assert refused.value.status == 400
        assert set(refused.value.json()["errors"]) == {
            "delivery_address",
            "customer_name",
            "contact.phone",
            "contact.email",
        }
        for field, text in [
            ("delivery_address", "Must be 10 to 500 characters."),
            ("customer_name", "May contain only letters, spaces, hyphens and apostrophes."),
            ("phone", "Must be a phone number in international format, e.g. +15555550123."),
            ("email", "Must be a valid email address, e.g. guest@example.com."),
        ]:
            expect(phone.locator(f"#{field}-error")).to_have_text(text)
            expect(phone.locator(f"#{field}")).to_have_attribute("aria-invalid", "true")
            assert f"{field}-error" in phone.get_attribute(f"#{field}", "aria-describedby").split()
        expect(phone.locator("#form-message")).to_have_text("Please check the fields marked above.")
        assert focused_id(phone) == "delivery_address"  # the first field with an error, in the page's order
        phone.screenshot(path=browser_artifacts / "57-order-phone-field-errors.png", full_page=True)

        phone.fill("#delivery_address", "1 Main Street, Springfield")
        phone.fill("#customer_name", "Jane Doe")
        phone.fill("#phone", "+1 555 555 0123")
        phone.fill("#email", "guest@example.com")
        hold_back_menu_news.append(True)
        in_thread(menu_items_set_available, skus=["margherita"], available=False)
        with phone.expect_response(ORDERS_URL) as sold_out:
            phone.click("#place")
        assert sold_out.value.status == 400 and sold_out.value.json()["code"] == "sold_out"
        expect(phone.locator("#cart-message")).to_have_text("Something in your order has just sold out: see below.")
        expect(phone.locator("#line-0")).to_have_class("line blocked")
        expect(phone.locator("#line-0-error")).to_have_text(
            "Margherita Pizza has just sold out: remove it to place your order."
        )
        expect(phone.locator("#item-margherita")).to_be_disabled()  # the menu read again
        expect(phone.locator("#phone-error")).to_have_text("")  # the fixed fields are clear
        phone.screenshot(path=browser_artifacts / "58-order-phone-sold-out.png", full_page=True)

        phone.click("#line-0-remove")
        expect(phone.locator("#total")).to_have_text("3.00")
        phone.click("#place")
        number = track_number(phone)
        rows = in_thread(order_rows, number=number)
    assert errors == [], errors
    assert (rows["type"], rows["address"], rows["phone"], rows["email"]) == (
        "delivery",
        "1 Main Street, Springfield",
        "+15555550123",
        "guest@example.com",
    )
    assert [item[0] for item in rows["items"]] == ["cola"]


def test_on_a_desktop_the_cart_stands_beside_the_menu_and_the_keyboard_does_it_all(display, browser_artifacts):
    from playwright.sync_api import expect

    errors: list[str] = []
    with chromium() as browser:
        page = browser.new_page(viewport=DESKTOP)
        page.on("pageerror", lambda error: errors.append(str(error)))
        open_order_page(page, f"{display}/order/")
        menu, checkout = page.locator("#menu").bounding_box(), page.locator("#checkout").bounding_box()
        assert checkout["x"] >= menu["x"] + menu["width"] and checkout["y"] < menu["y"] + 200
        assert page_width(page) == DESKTOP["width"]
        expect(page.locator("#cart-bar")).to_be_hidden()

        # The first Tab reaches the first dish; Enter opens its sheet, Escape closes it where it was.
        page.keyboard.press("Tab")
        assert focused_id(page) == "item-margherita"
        page.keyboard.press("Enter")
        expect(page.locator("#sheet")).to_be_visible()
        assert focused_id(page) == "sheet-title"
        page.keyboard.press("Escape")
        expect(page.locator("#sheet")).to_be_hidden()
        assert focused_id(page) == "item-margherita"

        # Keys only: open, pick Large (arrow keys move within the size's radios), add.
        page.keyboard.press("Enter")
        page.keyboard.press("Tab")  # the close button
        page.keyboard.press("Tab")  # the size's checked radio
        assert focused_id(page) == "option-medium"
        page.keyboard.press("ArrowDown")
        expect(page.locator("#option-large")).to_be_checked()
        page.focus("#sheet-add")
        page.keyboard.press("Enter")
        expect(page.locator("#cart-lines .line")).to_have_count(1)
        expect(page.locator("#total")).to_have_text("15.50")
        page.screenshot(path=browser_artifacts / "59-order-desktop.png", full_page=True)
    assert errors == [], errors


ROME = ZoneInfo("Europe/Rome")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@pytest.fixture
def rome_display(processes, start_display) -> tuple[str, datetime]:
    """A display process whose kitchen is in Rome, open all day but the day after tomorrow, with
    15-minute slots and an oven that cooks one pizza a slot (capacity 2, a pizza's load 2): its base
    URL and Rome's tomorrow at midnight."""
    today = datetime.now(ROME).date()
    closed = DAYS[(today + timedelta(days=2)).weekday()]
    hours = [{"days": [day for day in DAYS if day != closed], "open": "00:00", "close": "24:00"}]
    return start_rome_display(start_display, hours), datetime.combine(today + timedelta(days=1), time.min, tzinfo=ROME)


def start_rome_display(start_display, hours: list[dict]) -> str:
    menu = menu_copy()
    menu["stations"][0] |= {"capacity_per_slot": 2, "prep_seconds": 60}
    menu["categories"][0]["items"][0]["load"] = 2
    menu["kitchen"] = {
        "time_zone": "Europe/Rome",
        "slot_minutes": 15,
        "asap_horizon_minutes": 120,
        "days_ahead": 3,
        "hours": hours,
    }
    load_test_menu(menu)
    port = free_port()
    start_display("display", port)
    return f"http://127.0.0.1:{port}"


def pizza_for(base: str, ready_at: datetime, name: str) -> requests.Response:
    body = {
        "customer_name": name,
        "order_type": "takeout",
        "ready_at": ready_at.isoformat(),
        "items": [{"sku": "margherita", "quantity": 1, "modifiers": ["medium"]}],
    }
    return requests.post(f"{base}/orders", json=body, timeout=10)


def slots_read(day: str | None):
    """A GET /slots of `day` (None: today, as the page asks) for a cart of one pizza."""

    def matches(response) -> bool:
        query = parse_qs(urlsplit(response.url).query)
        return (
            "/slots" in response.url
            and query.get("items") == ["margherita:1"]
            and query.get("date") == ([day] if day else None)
        )

    return matches


def hold_until(number: str, fire_at: datetime) -> None:
    Order.objects.filter(number=number).update(fire_at=fire_at)


def promised(number: str) -> datetime:
    return Order.objects.get(number=number).promised_at


def test_a_guest_picks_a_later_slot_is_promised_its_end_and_a_slot_filled_meanwhile_offers_the_next(
    rome_display, browser_artifacts
):
    from playwright.sync_api import expect

    base, tomorrow = rome_display
    day = tomorrow.date().isoformat()

    def at(hour: int, minute: int) -> datetime:
        return tomorrow.replace(hour=hour, minute=minute)

    assert pizza_for(base, at(12, 15), "Early Bird").status_code == 201  # tomorrow's 12:00–12:15 is full
    errors: list[str] = []
    with chromium() as browser:
        phone = new_phone(browser, errors)
        open_order_page(phone, f"{base}/order/")
        add_to_cart(phone, "margherita")
        phone.fill("#customer_name", "Jane Doe")
        # As soon as possible is chosen, with its time on Rome's clock; the days are Rome's.
        expect(phone.locator("#asap-label")).to_have_text(re.compile(r"^As soon as possible, ready by \d\d:\d\d$"))
        expect(phone.locator("#when-asap")).to_be_checked()
        closed_day = (tomorrow + timedelta(days=1)).date().isoformat()
        expect(phone.locator(f"#ready-day option[value='{closed_day}']")).to_have_text(re.compile(r" · closed$"))
        expect(phone.locator(f"#ready-day option[value='{day}']")).to_have_text("Tomorrow")

        phone.select_option("#ready-day", day)
        full = phone.locator(f"#slot-{day}-1215")
        expect(full).to_be_disabled()
        expect(phone.locator(f"label.slot.full:has(#slot-{day}-1215) .slot-full")).to_have_text("Full")
        expect(phone.locator(f"#slot-{day}-1230")).to_be_enabled()
        phone.check(f"#slot-{day}-1230")
        expect(phone.locator("#when-asap")).not_to_be_checked()
        expect(phone.locator("#when-summary")).to_have_text("Your order will be ready by 12:30 tomorrow.")
        phone.locator("#ready_at").scroll_into_view_if_needed()
        phone.screenshot(path=browser_artifacts / "5a-order-phone-when.png", full_page=False)
        phone.locator("#ready_at").screenshot(path=browser_artifacts / "5a-order-phone-when-field.png")
        assert page_width(phone) == PHONE["width"]

        with phone.expect_request(ORDERS_URL) as sent:
            phone.click("#place")
        assert sent.value.post_data_json["ready_at"] == utc_text(at(12, 30))  # the slot's end as GET /slots gave it
        number = track_number(phone)
        expect(phone.locator("#promise")).to_have_text("Ready by 12:30 tomorrow")
        first = in_thread(promised, number=number)
        # Held for later (order_create sets the fire time: promised_at − the lead), the page says when
        # the kitchen starts it.
        in_thread(hold_until, number=number, fire_at=at(12, 20))
        phone.reload()
        expect(phone.locator("#held")).to_have_text("Ordered for later: the kitchen starts it at 12:20 tomorrow.")
        expect(phone.locator("#promise")).to_have_text("Ready by 12:30 tomorrow")
        phone.screenshot(path=browser_artifacts / "5b-order-phone-track-later.png", full_page=False)

        # The guest picks 12:45; another order takes it before they place theirs: 409 slot_full, the
        # error next to the field and the next slot with room (13:00) chosen in its place.
        # (The test waits for the page's reads of the slots with this cart: none is left to notice the
        # other order before the guest places theirs.)
        phone = new_phone(browser, errors)
        open_order_page(phone, f"{base}/order/")
        with phone.expect_response(slots_read(None)):
            add_to_cart(phone, "margherita")
        phone.fill("#customer_name", "Late Comer")
        with phone.expect_response(slots_read(day)):
            phone.select_option("#ready-day", day)
        expect(phone.locator(f"#slot-{day}-1230")).to_be_disabled()  # Jane's now
        phone.check(f"#slot-{day}-1245")
        assert pizza_for(base, at(12, 45), "Quick Hands").status_code == 201
        with phone.expect_response(ORDERS_URL) as refused:
            phone.click("#place")
        assert refused.value.status == 409 and refused.value.json()["code"] == "slot_full"
        expect(phone.locator("#ready_at-error")).to_have_text(
            "That slot is full. The next time with room, 13:00 tomorrow, is selected below: "
            "place your order again to take it."
        )
        expect(phone.locator(f"#slot-{day}-1300")).to_be_checked()
        expect(phone.locator(f"#slot-{day}-1245")).to_be_disabled()
        phone.locator("#ready_at").screenshot(path=browser_artifacts / "5c-order-phone-slot-full.png")
        phone.click("#place")
        second_number = track_number(phone)
        expect(phone.locator("#promise")).to_have_text("Ready by 13:00 tomorrow")
        second = in_thread(promised, number=second_number)
    assert errors == [], errors
    assert first == at(12, 30)
    assert second == at(13, 0)


def test_closed_now_the_page_says_when_the_restaurant_opens_chooses_nothing_and_takes_an_order_for_then(
    processes, start_display, browser_artifacts
):
    from playwright.sync_api import expect

    opening_day = datetime.now(ROME).date() + timedelta(days=2)  # closed today and tomorrow
    hours = [{"days": [DAYS[opening_day.weekday()]], "open": "11:30", "close": "22:30"}]
    base = start_rome_display(start_display, hours)
    day = opening_day.isoformat()
    errors: list[str] = []
    with chromium() as browser:
        phone = new_phone(browser, errors)
        open_order_page(phone, f"{base}/order/")
        add_to_cart(phone, "margherita")
        phone.fill("#customer_name", "Jane Doe")
        expect(phone.locator("#when-asap")).to_be_disabled()
        expect(phone.locator("#when-asap")).not_to_be_checked()
        opens = opening_day.strftime("%a %-d %b")
        expect(phone.locator("#asap-hint")).to_have_text(
            f"We are closed now: we open at 11:30 on {opens}. Choose a time to order ahead."
        )
        expect(phone.locator("#ready-day")).to_have_value(day)  # the day it opens is shown
        expect(phone.locator("#ready-day option").first).to_have_text("Today · closed")
        expect(phone.locator("#slots input")).to_have_count(44)  # 11:45 … 22:30
        expect(phone.locator("#slots input:checked")).to_have_count(0)
        phone.locator("#ready_at").screenshot(path=browser_artifacts / "5d-order-phone-closed-now.png")

        phone.click("#place")  # nothing chosen: asked for, nothing sent
        expect(phone.locator("#ready_at-error")).to_have_text(
            "Choose when you would like your order: as soon as possible, or a time."
        )
        phone.check(f"#slot-{day}-1200")
        expect(phone.locator("#ready_at-error")).to_have_text("")
        phone.click("#place")
        number = track_number(phone)
        expect(phone.locator("#promise")).to_have_text(f"Ready by 12:00 on {opens}")
        promised_at = in_thread(promised, number=number)
    assert errors == [], errors
    assert promised_at == datetime.combine(opening_day, time(12, 0), tzinfo=ROME)
