"""What the live screens' pages get from the server (kitchen/views.py): the rules their scripts apply
come from the server (json_script), an unknown order's tracking page is a 404 page, and the admin
links the screens and its "View site" to the display process (settings.DISPLAY_URL)."""

import re

import pytest
from django.test import Client, override_settings

from orders.models import TRANSITIONS
from tests.factories import FRONT_OF_HOUSE, KITCHEN, MANAGER, create_order, logged_in
from tests.support import page_data

pytestmark = pytest.mark.django_db


def test_a_tickets_next_step_comes_from_the_state_machine():
    config = page_data(logged_in(KITCHEN, "cook").get("/kitchen/"), "display-config")

    assert config["socket"] == "/ws/kitchen/" and config["expo"] is False
    assert config["next_steps"] == {
        "received": {"action": "start", "label": "Start"},
        "cooking": {"action": "ready", "label": "Ready"},
        "ready": {"action": "bump", "label": "Bump"},
    }
    # Each button's status is where its transition starts from.
    assert {"received", "cooking", "ready"} == {
        status for name in ("start_cooking", "mark_ready", "complete") for status in TRANSITIONS[name].sources
    }
    assert config["recall"] == {"action": "recall", "label": "Recall", "window_ms": 300_000}


def test_the_staff_order_entry_gets_a_lines_limits_from_the_order_rules():
    rules = page_data(logged_in(MANAGER, "boss").get("/admin/orders/order/add/"), "picker-rules")

    assert rules == {"quantity": {"min": 1, "max": 10}, "notes": {"max": 140}}


def test_an_unknown_orders_tracking_page_is_a_404_page_without_a_socket():
    response = Client().get("/track/ORD_20250101_999/")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
    assert "No such order" in response.text and "ORD_20250101_999" in response.text
    assert "/ws/orders/" not in response.text and 'id="steps"' not in response.text


def test_a_known_orders_tracking_page_shows_its_short_number_big_and_opens_its_socket():
    order = create_order()
    response = Client().get(f"/track/{order.number}/")

    assert response.status_code == 200
    # The promised time is shown on the restaurant's clock (the kitchen's zone; UTC without one).
    assert page_data(response, "track-config") == {"socket": f"/ws/orders/{order.number}/", "time_zone": "UTC"}
    assert f'<span class="short">{order.number.rpartition("_")[2]}</span>' in response.text


@override_settings(DISPLAY_URL="http://display.example:8500")
@pytest.mark.parametrize(
    ("role", "screens"),
    [
        (MANAGER, ["Kitchen display", "Expo", "Customer board"]),
        (FRONT_OF_HOUSE, ["Expo", "Customer board"]),
    ],
)
def test_the_admin_index_links_the_screens_its_user_may_open_on_the_display_process(role, screens):
    response = logged_in(role, "someone").get("/admin/")

    assert response.status_code == 200
    links = re.findall(r'<th scope="row"><a href="([^"]+)">([^<]+)</a></th>', response.text)
    paths = {"Kitchen display": "/kitchen/", "Expo": "/kitchen/expo/", "Customer board": "/board/"}
    assert links == [(f"http://display.example:8500{paths[name]}", name) for name in screens]
    # "View site" leads to the public board, not to the web process's JSON 404 at /.
    assert '<a href="http://display.example:8500/board/">View site</a>' in response.text


@override_settings(DISPLAY_URL="")
def test_with_no_display_url_the_links_stay_on_this_host():
    response = logged_in(MANAGER, "boss").get("/admin/")

    assert '<a href="/kitchen/">Kitchen display</a>' in response.text
    assert '<a href="/board/">View site</a>' in response.text
