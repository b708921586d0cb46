"""Orders for later (issue 19): held until their fire time (promised_at − lead), then cooked.

Against the real database and broker: the relay holds an order's kitchen message until its outbox
row's `not_before` and publishes an announcement at once, a real kitchen worker subprocess cooks
the order only after its fire time, and the screens, the status API and the guest hear of it at once.
"""

import json
import math
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from kitchen.screens import board_snapshot, kitchen_snapshot
from kitchen.topology import kitchen_queue
from orders.models import Order, OrderStatus, OrderStatusLog
from orders.services import order_cancel
from restaurant import broker
from restaurant.models import OutboxMessage
from tests.amqp import bind_probe_queue, get_messages, queue_depth
from tests.factories import load_test_menu, menu_copy, post
from tests.support import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def one_minute_kitchen(prep_seconds: int) -> dict:
    """The test menu with 1-minute slots, open all day in UTC, its oven taking `prep_seconds`."""
    menu = menu_copy()
    menu["stations"][0] |= {"prep_seconds": prep_seconds}
    menu["kitchen"] = {"time_zone": "UTC", "slot_minutes": 1}
    return menu


def pizza_for(ready_at: datetime) -> dict:
    return {
        "customer_name": "Jane",
        "order_type": "takeout",
        "items": [{"sku": "margherita", "quantity": 1, "modifiers": ["medium"]}],
        "ready_at": ready_at.astimezone(UTC).isoformat(),
    }


def a_later_order(client, settings, *, fire_in: float = 6.0) -> tuple[Order, datetime]:
    """A pizza for the next minute's end at least 15 s away, with the oven's prep time chosen so that
    it fires `fire_in` seconds from now; the order and its fire time."""
    settings.COOKING_TIME_SCALE = 1.0  # the lead is the oven's full prep time (workers cook it scaled)
    now = timezone.now()
    ready_at = datetime.fromtimestamp(math.ceil((now + timedelta(seconds=15)).timestamp() / 60) * 60, tz=UTC)
    prep_seconds = int((ready_at - now).total_seconds() - fire_in)
    load_test_menu(one_minute_kitchen(prep_seconds))
    answer = post(client, pizza_for(ready_at))
    assert answer.status_code == 201, answer.content
    assert answer.json()["promised_at"] == ready_at.isoformat().replace("+00:00", "Z")
    order = Order.objects.get(number=answer.json()["order_number"])
    assert order.fire_at == ready_at - timedelta(seconds=prep_seconds)
    return order, order.fire_at


def test_a_held_order_is_not_cooked_before_its_fire_time_and_is_cooked_after_it_by_a_real_worker(
    client, settings, relay, start_worker, amqp_channel
):
    start_worker("chef_later")
    order, fire_at = a_later_order(client, settings)

    # Until its fire time: received, its kitchen message unpublished, no worker has it.
    kitchen_row = OutboxMessage.objects.get(routing_key__startswith="kitchen.", body__contains=order.number)
    assert kitchen_row.not_before == fire_at
    wait_for(lambda: timezone.now() >= fire_at - timedelta(seconds=1), timeout=15, interval=0.05)
    kitchen_row.refresh_from_db()
    assert kitchen_row.published_at is None
    assert Order.objects.get(pk=order.pk).status == OrderStatus.RECEIVED
    assert queue_depth(amqp_channel, kitchen_queue("takeout")) == 0

    # After it: published at its time (the relay wakes for it), cooked and made ready by the worker.
    wait_for(lambda: Order.objects.get(pk=order.pk).status == OrderStatus.READY, timeout=30, message="ready")
    kitchen_row.refresh_from_db()
    assert fire_at <= kitchen_row.published_at < fire_at + timedelta(seconds=2)
    cooking = OrderStatusLog.objects.get(order=order, status=OrderStatus.COOKING)
    assert cooking.changed_at >= fire_at and cooking.changed_by == "chef_later"


def test_a_held_order_is_announced_at_once_on_a_key_no_kitchen_queue_takes(client, settings, relay, amqp_channel):
    probe = bind_probe_queue(amqp_channel, broker.ORDERS_EXCHANGE, "#")
    order, fire_at = a_later_order(client, settings, fire_in=20)

    method, _, body = get_messages(amqp_channel, probe, 1, timeout=10)[0]
    assert method.routing_key == f"scheduled.takeout.{order.priority}"
    announced = json.loads(body)
    assert announced["order_number"] == order.number
    assert announced["fire_at"] == fire_at.isoformat() and announced["promised_at"] == order.promised_at.isoformat()
    assert timezone.now() < fire_at
    assert queue_depth(amqp_channel, kitchen_queue("takeout")) == 0


def test_the_status_the_screens_and_the_board_know_a_held_order(client, settings):
    order, fire_at = a_later_order(client, settings, fire_in=12)

    status = client.get(f"/orders/{order.number}/status").json()
    assert status["fire_at"] == fire_at.isoformat().replace("+00:00", "Z")
    assert status["current_status"] == "received"
    (ticket,) = kitchen_snapshot()["orders"]
    assert (ticket["fire_at"], ticket["promised_at"]) == (fire_at.isoformat(), order.promised_at.isoformat())
    (public,) = board_snapshot(order_types=["takeout"])["orders"]
    assert public["fire_at"] == fire_at.isoformat()  # the board shows it only from then (board.js)

    Order.objects.filter(pk=order.pk).update(fire_at=timezone.now() - timedelta(seconds=1))
    assert client.get(f"/orders/{order.number}/status").json()["fire_at"] is None  # fired


def test_an_asap_order_and_a_later_one_due_within_its_lead_fire_at_once(client, settings):
    settings.COOKING_TIME_SCALE = 1.0
    load_test_menu(one_minute_kitchen(120))
    asap = post(client, {**pizza_for(timezone.now()), "ready_at": "asap"})
    assert asap.status_code == 201, asap.content
    order = Order.objects.get(number=asap.json()["order_number"])
    assert order.fire_at is None
    (row,) = OutboxMessage.objects.filter(body__contains=order.number)
    assert (row.routing_key, row.not_before) == (f"kitchen.takeout.{order.priority}", None)


def test_a_cancelled_held_order_is_not_cooked_when_its_message_comes(
    client, settings, relay, start_worker, amqp_channel
):
    worker = start_worker("chef_later")
    order, fire_at = a_later_order(client, settings, fire_in=4)
    order_cancel(number=order.number, changed_by="front")

    wait_for(
        lambda: OutboxMessage.objects.filter(body__contains=order.number, published_at__gte=fire_at).exists(),
        timeout=20,
        message="the held kitchen message published",
    )
    worker.wait_for_action("order_skipped", timeout=15)
    assert not OrderStatusLog.objects.filter(order=order, status=OrderStatus.COOKING).exists()
