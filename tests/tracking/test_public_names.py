"""Issue 17 item 7: the public tracking API never shows a staff login. A person who moved an order
is shown by their first name, or `kitchen` without one; a kitchen worker and the order service keep
their names (SPEC §6); the staff API still shows the login."""

import pytest
from django.test import Client

from kitchen.services import worker_finish_order, worker_register
from orders.services import order_cancel, order_mark_ready, order_start_cooking
from restaurant.roles import KITCHEN, MANAGER
from tests.factories import create_order, get_json, staff_user

pytestmark = pytest.mark.django_db


def test_a_person_is_shown_by_their_first_name_or_kitchen_never_by_their_login(client):
    cook = staff_user(KITCHEN, "jdoe_42", is_staff=False)
    cook.first_name = "Jane"
    cook.save()
    staff_user(MANAGER, "mgr.login")  # no first name
    cooked, cancelled = create_order(), create_order()
    order_start_cooking(number=cooked.number, changed_by="jdoe_42")
    order_mark_ready(number=cooked.number, changed_by="jdoe_42")
    order_cancel(number=cancelled.number, changed_by="mgr.login")

    status = get_json(client, f"/orders/{cooked.number}/status")
    history = get_json(client, f"/api/orders/{cooked.number}/history")
    other = get_json(client, f"/orders/{cancelled.number}/history")

    assert status["processed_by"] == "Jane"
    assert [row["changed_by"] for row in history] == ["order-service", "Jane", "Jane"]
    assert [row["changed_by"] for row in other] == ["order-service", "kitchen"]
    for body in (status, history, other):
        assert "jdoe_42" not in str(body) and "mgr.login" not in str(body)


def test_a_kitchen_worker_keeps_its_name_even_when_a_user_has_it_too(client):
    worker_register(name="chef_mario", order_types=None, heartbeat_interval=30, instance_id="i")
    staff_user(KITCHEN, "chef_mario", is_staff=False)
    order = create_order()
    order_start_cooking(number=order.number, changed_by="chef_mario")
    worker_finish_order(number=order.number, worker_name="chef_mario")

    assert get_json(client, f"/orders/{order.number}/status")["processed_by"] == "chef_mario"
    assert [row["changed_by"] for row in get_json(client, f"/orders/{order.number}/history")][1:] == [
        "chef_mario",
        "chef_mario",
    ]


def test_the_staff_api_still_shows_the_login():
    staff_user(KITCHEN, "jdoe_42", is_staff=False)
    order = create_order()
    order_start_cooking(number=order.number, changed_by="jdoe_42")
    manager = Client()
    manager.force_login(staff_user(MANAGER, "boss"))

    detail = get_json(manager, f"/orders/{order.number}")

    assert detail["processed_by"] == "jdoe_42"
    assert [row["changed_by"] for row in detail["history"]] == ["order-service", "jdoe_42"]
