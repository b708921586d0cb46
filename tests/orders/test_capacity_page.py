"""The kitchen's capacity page in the back office (/admin/capacity/, issue 19): a day's open slots in the
restaurant's zone × the stations with a capacity, the units booked by orders placed through POST /orders,
the day's totals; for Managers and Front of house only; a bad date a 400 naming it; a closed day said
so. And the page in a headless Chromium, light and dark (artifacts/browser/7x-capacity-*.png)."""

import importlib
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.apps import apps as django_apps
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from menu.models import Kitchen
from orders.capacity import forget_clock
from tests.factories import (
    FRONT_OF_HOUSE,
    KITCHEN,
    MANAGER,
    load_test_menu,
    logged_in,
    menu_copy,
    post,
    post_order,
    staff_user,
)
from tests.support import chromium, start_web

pytestmark = pytest.mark.django_db

PAGE = reverse("admin:capacity")
ROME = ZoneInfo("Europe/Rome")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
PASSWORD = "capacity-page-password"


def tomorrow_in_rome() -> date:
    return (timezone.now().astimezone(ROME) + timedelta(days=1)).date()


def kitchen_menu(closed: date | None = None) -> dict:
    """The test menu with an oven of 6 units per slot (pizzas of load 2) and a bar of 10 (a cola 1), in
    Rome, open 18:00–19:00 every day but `closed`'s weekday."""
    menu = menu_copy()
    menu["stations"][0] |= {"capacity_per_slot": 6, "prep_seconds": 60}
    menu["stations"][1] |= {"capacity_per_slot": 10}
    menu["categories"][0]["items"][0]["load"] = 2
    days = [name for n, name in enumerate(DAYS) if closed is None or n != closed.weekday()]
    hours = [{"days": days, "open": "18:00", "close": "19:00"}]
    menu["kitchen"] = {"time_zone": "Europe/Rome", "slot_minutes": 15, "hours": hours}
    return menu


def order_for(ready_at: datetime, pizzas: int, colas: int = 0) -> dict:
    items = [{"sku": "margherita", "quantity": pizzas, "modifiers": ["medium"]}]
    if colas:
        items.append({"sku": "cola", "quantity": colas})
    iso = ready_at.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return {"customer_name": "Jane", "order_type": "takeout", "items": items, "ready_at": iso}


def at(day: date, hour: int, minute: int) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=ROME)


def place_the_evening(day: date, place) -> None:
    """18:15–18:30: 2 pizzas and 3 colas (oven 4/6, bar 3/10); 18:30–18:45: 3 pizzas (oven full)."""
    place(order_for(at(day, 18, 30), pizzas=2, colas=3))
    place(order_for(at(day, 18, 45), pizzas=3))


def test_a_manager_sees_the_days_slots_in_local_time_with_used_over_capacity_and_the_totals(client):
    day = tomorrow_in_rome()
    load_test_menu(kitchen_menu())
    place_the_evening(day, lambda body: post(client, body))

    response = logged_in(MANAGER).get(PAGE, {"date": day.isoformat()})

    assert response.status_code == 200
    assert [station["code"] for station in response.context["stations"]] == ["oven", "bar"]
    rows = response.context["rows"]
    assert [(row["start"], row["end"]) for row in rows] == [
        ("18:00", "18:15"),
        ("18:15", "18:30"),
        ("18:30", "18:45"),
        ("18:45", "19:00"),
    ]
    figures = [[(cell["used"], cell["capacity"], cell["level"]) for cell in row["cells"]] for row in rows]
    assert figures == [
        [(0, 6, ""), (0, 10, "")],
        [(4, 6, ""), (3, 10, "")],  # 4 of 6 is 67 %: not yet amber
        [(6, 6, "full"), (0, 10, "")],
        [(0, 6, ""), (0, 10, "")],
    ]
    assert [row["full"] for row in rows] == [False, False, True, False]
    totals = [(cell["used"], cell["capacity"]) for cell in response.context["totals"]]
    assert totals == [(10, 24), (3, 40)]
    page = response.text
    assert '<th scope="col" title="oven">Pizza oven</th>' in page
    assert "18:30–18:45" in page and '<span class="figures">6 / 6</span>' in page
    assert '<td class="load full" data-station="oven">' in page and 'style="width: 67%"' in page
    assert f"?date={(day - timedelta(days=1)).isoformat()}" in page and f"?date={(day + timedelta(days=1))}" in page


def test_a_slots_time_links_to_the_orders_promised_for_it(client):
    day = tomorrow_in_rome()
    load_test_menu(kitchen_menu())
    place_the_evening(day, lambda body: post(client, body))
    manager = logged_in(MANAGER)

    row = manager.get(PAGE, {"date": day.isoformat()}).context["rows"][2]  # 18:30–18:45, the oven full
    orders = manager.get(row["orders_url"])

    assert orders.status_code == 200
    assert [order.customer_name for order in orders.context["cl"].result_list] == ["Jane"]
    assert orders.context["cl"].result_list[0].promised_at == at(day, 18, 45)


def test_amber_from_eighty_percent():
    day = tomorrow_in_rome()
    load_test_menu(kitchen_menu())
    client = Client()
    post(client, order_for(at(day, 18, 15), pizzas=1, colas=8))  # bar 8/10

    cells = logged_in(MANAGER).get(PAGE, {"date": day.isoformat()}).context["rows"][0]["cells"]

    assert [(cell["station"], cell["percent"], cell["level"]) for cell in cells] == [
        ("oven", 33, ""),
        ("bar", 80, "busy"),
    ]


def test_a_day_open_around_the_clock_costs_the_same_queries_as_an_evening(client):
    day = tomorrow_in_rome()
    load_test_menu(kitchen_menu())
    place_the_evening(day, lambda body: post(client, body))
    manager = logged_in(MANAGER)
    manager.get(PAGE)  # the session and the kitchen's clock, read once

    with CaptureQueriesContext(connection) as evening:
        assert len(manager.get(PAGE, {"date": day.isoformat()}).context["rows"]) == 4
    Kitchen.objects.update(hours=[])  # open all day: 96 slots
    forget_clock()
    manager.get(PAGE)
    with CaptureQueriesContext(connection) as all_day:
        assert len(manager.get(PAGE, {"date": day.isoformat()}).context["rows"]) == 96

    assert len(all_day) == len(evening)


def test_the_default_day_is_the_restaurants_today():
    load_test_menu(kitchen_menu())

    response = logged_in(MANAGER).get(PAGE)

    assert response.context["day"] == timezone.now().astimezone(ROME).date()


def test_front_of_house_sees_it_and_finds_it_on_the_index():
    load_test_menu(kitchen_menu())
    front = logged_in(FRONT_OF_HOUSE)

    assert front.get(PAGE).status_code == 200
    assert f'href="{PAGE}"' in front.get(reverse("admin:index")).text


def test_the_kitchen_and_a_person_without_a_role_are_sent_to_the_login_and_the_permission_is_asked():
    kitchen = logged_in(KITCHEN).get(PAGE)
    nobody = logged_in(None).get(PAGE)
    orders_only = staff_user(None, "orders_only")
    orders_only.user_permissions.add(Permission.objects.get(codename="view_order"))
    client = Client()
    client.force_login(orders_only)

    assert kitchen.status_code == 302 and kitchen["Location"].startswith(reverse("admin:login"))
    assert nobody.status_code == 302 and nobody["Location"].startswith(reverse("admin:login"))
    assert client.get(PAGE).status_code == 403  # in the back office, without the page's permission
    assert f'href="{PAGE}"' not in client.get(reverse("admin:index")).text


def test_the_migration_grants_the_page_to_managers_and_front_of_house_and_not_the_kitchen():
    staff_user(MANAGER)  # the role groups, made again after an earlier test emptied the tables
    permission = Permission.objects.get(codename="view_capacity")
    for group in Group.objects.all():
        group.permissions.remove(permission)

    importlib.import_module("orders.migrations.0013_capacity_page_permission").grant(django_apps, None)

    holders = set(Group.objects.filter(permissions=permission).values_list("name", flat=True))
    assert holders == {MANAGER, FRONT_OF_HOUSE}


@pytest.mark.parametrize("value", ["tomorrow", "2026-13-01", "9999-12-31"])
def test_a_bad_date_is_a_400_naming_it(value):
    response = logged_in(MANAGER).get(PAGE, {"date": value})

    assert response.status_code == 400
    assert response.context["error"]["field"] == "date"
    assert "<code>date</code>" in response.text and value in response.text
    assert 'id="capacity"' not in response.text


def test_a_closed_day_says_so():
    closed = tomorrow_in_rome() + timedelta(days=1)
    load_test_menu(kitchen_menu(closed=closed))

    response = logged_in(MANAGER).get(PAGE, {"date": closed.isoformat()})

    assert response.status_code == 200 and response.context["rows"] == []
    assert 'id="closed"' in response.text and "closed that day" in response.text
    assert 'id="capacity"' not in response.text


@pytest.mark.slow
def test_the_page_in_a_browser_light_and_dark(processes, browser_artifacts):
    from playwright.sync_api import expect

    day = tomorrow_in_rome()
    load_test_menu(kitchen_menu())
    manager = staff_user(MANAGER, "maria")
    manager.set_password(PASSWORD)
    manager.save()
    url = start_web(processes)
    place_the_evening(day, lambda body: post_order(url, body, expect=201))
    post_order(url, order_for(at(day, 19, 0), pizzas=2, colas=8), expect=201)  # oven 4/6, bar 8/10: amber

    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        # Every file the page asks for is served (its stylesheet above all); the browser's own favicon.ico
        # is not ours to serve.
        page.on("response", lambda r: r.status >= 400 and not r.url.endswith("/favicon.ico") and errors.append(r.url))
        page.goto(f"{url}/admin/login/?next={PAGE}?date={day.isoformat()}")
        page.fill("#id_username", "maria")
        page.fill("#id_password", PASSWORD)
        page.click("input[type=submit]")
        expect(page.locator("#capacity tbody tr")).to_have_count(4, timeout=15_000)
        full = page.locator('#capacity tbody tr:nth-child(3) td[data-station="oven"]')
        expect(full).to_have_class("load full")
        # The bar fills its cell's width in proportion, and the full one is red (the admin's error colour).
        track = full.locator(".bar").bounding_box()
        fill = full.locator(".fill").bounding_box()
        assert track["width"] > 60 and abs(fill["width"] - (track["width"] - 2)) <= 1
        half = page.locator('#capacity tbody tr:nth-child(2) td[data-station="oven"] .fill').bounding_box()
        assert abs(half["width"] - (track["width"] - 2) * 0.67) <= 2
        colour = full.locator(".fill").evaluate("node => getComputedStyle(node).backgroundColor")
        assert colour == "rgb(186, 33, 33)"  # --error-fg, light
        page.screenshot(path=browser_artifacts / "70-capacity-light.png", full_page=True)

        page.emulate_media(color_scheme="dark")
        background = page.evaluate("getComputedStyle(document.body).backgroundColor")
        assert background == "rgb(18, 18, 18)"  # the admin's dark theme
        page.screenshot(path=browser_artifacts / "71-capacity-dark.png", full_page=True)

        page.click("#next-day")
        expect(page.locator("#day-heading")).to_contain_text((day + timedelta(days=1)).strftime("%B"))
        page.screenshot(path=browser_artifacts / "72-capacity-next-day-dark.png", full_page=True)
        assert errors == [], errors

        page.emulate_media(color_scheme="light")
        refused = page.goto(f"{url}{PAGE}?date=someday")
        assert refused.status == 400 and errors == [refused.url]  # the page itself, and nothing it asks for
        expect(page.locator("#bad-parameter")).to_contain_text("date must be a date YYYY-MM-DD")
        page.screenshot(path=browser_artifacts / "73-capacity-bad-date.png", full_page=True)
