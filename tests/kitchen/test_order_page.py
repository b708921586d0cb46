"""The guests' ordering page (`/order/`, kitchen/views.py: order_page) and its socket (`/ws/menu/`):
a table's link orders for that table only while its key is the table's current one; without a table
the page offers takeout or delivery; the page gets the menu as GET /menu serves it and the order
rules' limits and what it needs to offer the times POST /orders takes (the kitchen's days ahead,
horizon, slot and leads, the server's now); an 86 reaches an open page's socket as the menu's new
version."""

import json
import re
from datetime import datetime, timedelta

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client
from django.utils import timezone

from menu.services import menu_items_set_available
from orders.models import Table
from restaurant.asgi import application
from tests.factories import load_test_menu, menu_copy
from tests.support import connect, page_data, run, session_headers

pytestmark = pytest.mark.django_db


def test_a_tables_link_with_its_current_key_orders_dine_in_for_that_table_shown_not_editable():
    table = Table.objects.create(number=7, label="Terrace")

    response = Client().get("/order/", {"table": "7", "key": table.key})

    assert response.status_code == 200
    config = page_data(response, "order-config")
    assert config["table"] == {"number": 7, "label": "Terrace", "key": table.key}
    assert config["order_types"] == ["dine_in"]
    assert config["socket"] == "/ws/menu/"
    assert "Dine-in at <strong>Table 7</strong> · Terrace" in response.text
    # Shown, not a field: no order type to choose, no table number to type.
    assert 'name="order_type"' not in response.text and 'name="table_number"' not in response.text


@pytest.mark.parametrize(
    "case", ["wrong key", "old key", "another table's key", "inactive table", "no such table", "no key", "not a number"]
)
def test_a_link_whose_key_is_not_the_tables_current_one_is_refused_with_no_form(case):
    table = Table.objects.create(number=7)
    other = Table.objects.create(number=8)
    query = {"table": "7", "key": table.key}
    if case == "wrong key":
        query["key"] = "x" * len(table.key)
    elif case == "old key":
        Table.objects.filter(pk=table.pk).update(key="rotated-key-123")  # a new sheet of codes printed
    elif case == "another table's key":
        query["key"] = other.key
    elif case == "inactive table":
        Table.objects.filter(pk=table.pk).update(active=False)
    elif case == "no such table":
        query["table"] = "9"
    elif case == "no key":
        del query["key"]
    else:
        query["table"] = "7abc"

    response = Client().get("/order/", query)

    assert response.status_code == 403
    assert "This table's code is out of date" in response.text and "ask a member of staff" in response.text
    assert "order-config" not in response.text and "<form" not in response.text and "order.js" not in response.text
    assert 'href="/order/"' in response.text  # takeout or delivery is still open to them


def test_without_a_table_the_page_offers_takeout_or_delivery():
    load_test_menu()
    client = Client()

    response = client.get("/order/")

    assert response.status_code == 200
    config = page_data(response, "order-config")
    assert config["table"] is None
    assert config["order_types"] == ["takeout", "delivery"]
    radios = re.findall(r'<input type="radio" name="order_type" value="(\w+)"', response.text)
    assert radios == ["takeout", "delivery"]
    assert 'id="delivery_address"' in response.text
    # The menu as GET /menu serves it, and its version as GET /menu's ETag names it.
    menu = client.get(config["menu_url"])
    assert config["menu"] == json.loads(menu.content)
    assert menu["ETag"] == f'"menu-{config["menu_version"]}"'
    assert config["orders_url"] in ("/orders", "/api/orders")
    assert config["track_url"] == "/track/NUMBER/"


def test_the_pages_limits_come_from_the_order_rules():
    config = page_data(Client().get("/order/"), "order-config")

    assert config["rules"] == {
        "quantity": {"min": 1, "max": 10},
        "item_notes": {"max": 140},
        "lines": {"max": 20},
        "customer_name": {"max": 100},
        "delivery_address": {"min": 10, "max": 500},
        "phone": {"max": 32},
        "email": {"max": 254},
    }


def test_the_page_knows_how_far_ahead_and_how_long_an_order_takes_and_reads_the_slots_from_get_slots(settings):
    settings.COOKING_TIME_SCALE = 0.5
    menu = menu_copy()
    menu["stations"][0] |= {"prep_seconds": 600, "capacity_per_slot": 6}  # the oven; the bar has no prep time
    menu["kitchen"] = {"time_zone": "Europe/Rome", "slot_minutes": 20, "asap_horizon_minutes": 90, "days_ahead": 3}
    load_test_menu(menu)
    client = Client()

    config = page_data(client.get("/order/"), "order-config")

    assert config["slots_url"] in ("/slots", "/api/slots")
    kitchen = config.pop("kitchen")
    now = datetime.fromisoformat(kitchen.pop("now"))
    assert abs(now - timezone.now()) < timedelta(seconds=5)  # the server's clock, for a phone's that is off
    assert kitchen == {
        "days_ahead": 3,
        "asap_horizon_minutes": 90,
        "slot_minutes": 20,
        # Scaled as POST /orders scales them (orders/timing.py), in seconds.
        "leads": {"stations": {"oven": 300.0}, "order_types": {"dine_in": 4.0, "takeout": 5.0, "delivery": 6.0}},
    }
    slots = client.get(config["slots_url"], {"items": "margherita:1"}).json()
    assert slots["time_zone"] == "Europe/Rome" and slots["slot_minutes"] == 20 and "fits" in slots["slots"][0]


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("fresh_layer")
def test_an_86_in_the_menu_reaches_an_open_ordering_pages_socket_as_the_menus_new_version():
    load_test_menu()

    async def body():
        socket = WebsocketCommunicator(application, "/ws/menu/", headers=session_headers(None))
        await connect(socket)
        first = await socket.receive_json_from(timeout=10)
        # The admin's "Mark sold out" action calls this service.
        await database_sync_to_async(menu_items_set_available)(skus=["margherita"], available=False)
        changed = await socket.receive_json_from(timeout=10)
        await socket.disconnect()
        return first, changed

    first, changed = run(body)

    assert first["type"] == "menu"
    assert changed["type"] == "menu" and changed["version"] > first["version"]
    assert set(changed) == {"type", "version"}  # nothing that GET /menu does not say
    menu = Client().get("/menu")
    assert menu["ETag"] == f'"menu-{changed["version"]}"'
    sold = {item["sku"]: item["available"] for category in menu.json()["categories"] for item in category["items"]}
    assert sold["margherita"] is False
