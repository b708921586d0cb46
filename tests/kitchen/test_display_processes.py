"""Display processes (daphne, as the Procfile runs them): a bump made through one reaches a client
of another, through the outbox, the relay, RabbitMQ and each process's own bridge; a bridge that
loses the broker is shown to its screens and they catch up; a poison body does not stop it."""

import asyncio
import json
import os

import pytest
import websockets
from channels.db import database_sync_to_async
from django.test import Client

from orders.messages import EVERY_ORDER_MESSAGE
from orders.models import Order
from orders.services import order_mark_ready, order_start_cooking
from restaurant import broker
from restaurant.models import OutboxMessage
from restaurant.roles import KITCHEN
from tests.factories import create_order, staff_user
from tests.support import free_port, url_through, wait_for

pytestmark = pytest.mark.slow


async def receive_until(socket, condition, timeout: float = 20.0) -> dict:
    async def first_match():
        while True:
            message = json.loads(await socket.recv())
            if condition(message):
                return message

    return await asyncio.wait_for(first_match(), timeout)


def test_a_bump_through_one_display_process_reaches_a_client_of_another(start_display, relay):
    order = create_order(status="ready")
    client = Client()
    client.force_login(staff_user(KITCHEN, "cook", is_staff=False))
    cookie = f"sessionid={client.cookies['sessionid'].value}"
    displays, processes = [], []
    for name in ("display-a", "display-b"):
        port = free_port()
        processes.append(start_display(name, port))
        displays.append(f"127.0.0.1:{port}")
    display_a, display_b = displays

    async def body():
        track_url = f"ws://{display_b}/ws/orders/{order.number}/"
        kitchen_url = f"ws://{display_a}/ws/kitchen/"
        async with (
            websockets.connect(track_url, origin=f"http://{display_b}") as track_b,
            websockets.connect(
                kitchen_url, origin=f"http://{display_a}", additional_headers={"Cookie": cookie}
            ) as kitchen_a,
        ):
            # Each answered only once its process's bridge consumes: nothing published next is missed.
            first = json.loads(await asyncio.wait_for(track_b.recv(), 15))
            snapshot = json.loads(await asyncio.wait_for(kitchen_a.recv(), 15))
            await kitchen_a.send(json.dumps({"action": "bump", "order_number": order.number}))
            done = await receive_until(kitchen_a, lambda m: m["type"] in ("done", "error"))
            update_b = await receive_until(track_b, lambda m: m["order"]["status"] == "completed")
            update_a = await receive_until(kitchen_a, lambda m: m["type"] == "order")
        return first, snapshot, done, update_b, update_a

    first, snapshot, done, update_b, update_a = asyncio.run(body())
    assert first["order"]["status"] == "ready"
    assert order.number in {ticket["order_number"] for ticket in snapshot["orders"]}
    assert done == {"type": "done", "action": "bump", "order_number": order.number}
    assert Order.objects.get(pk=order.pk).status == "completed"
    assert update_b["version"] > first["version"]
    assert update_a["order"]["status"] == "completed" and update_a["version"] == update_b["version"]
    # The display process's lines (daphne's, the bump's, its bridge's) name it.
    lines = processes[0].log_lines()
    assert {"websocket_connected", "broker_connected", "order_status_changed"} <= {line["action"] for line in lines}
    assert {line["service"] for line in lines} == {"kitchen-display"}


def cook_cookie() -> str:
    client = Client()
    client.force_login(staff_user(KITCHEN, "cook", is_staff=False))
    return f"sessionid={client.cookies['sessionid'].value}"


def kitchen_client(address: str, cookie: str):
    return websockets.connect(
        f"ws://{address}/ws/kitchen/", origin=f"http://{address}", additional_headers={"Cookie": cookie}
    )


def all_published() -> bool:
    return not OutboxMessage.objects.filter(published_at__isnull=True).exists()


def test_a_bridge_that_loses_the_broker_is_shown_down_and_its_screens_catch_up(start_display, relay, broker_proxy):
    moved = create_order()
    cookie, port = cook_cookie(), free_port()
    display = start_display("display", port, RABBITMQ_URL=url_through(os.environ["RABBITMQ_URL"], broker_proxy))
    made: list[Order] = []

    async def body():
        async with kitchen_client(f"127.0.0.1:{port}", cookie) as kitchen:
            first = json.loads(await asyncio.wait_for(kitchen.recv(), 15))
            broker_proxy.cut()  # the bridge's connection drops, and it cannot connect again
            try:
                down = await receive_until(kitchen, lambda m: m["type"] == "bridge", timeout=5)
                made.append(await database_sync_to_async(create_order)())
                await database_sync_to_async(order_start_cooking)(number=moved.number, changed_by="chef_mario")
                # The relay (not behind the proxy) has published both: the bridge had no queue to take them.
                await database_sync_to_async(wait_for)(all_published, message="the outbox published")
            finally:
                broker_proxy.restore()
            fresh = await receive_until(kitchen, lambda m: m["type"] == "snapshot", timeout=30)
            up = await receive_until(kitchen, lambda m: m["type"] == "bridge")
            await database_sync_to_async(order_mark_ready)(number=moved.number, changed_by="chef_mario")
            later = await receive_until(kitchen, lambda m: m["type"] == "order" and m["order"]["status"] == "ready")
        return first, down, fresh, up, later

    first, down, fresh, up, later = asyncio.run(body())
    assert moved.number in {ticket["order_number"] for ticket in first["orders"]}
    assert down == {"type": "bridge", "up": False}
    tickets = {ticket["order_number"]: ticket for ticket in fresh["orders"]}
    assert tickets[made[0].number]["status"] == "received"
    assert tickets[moved.number]["status"] == "cooking"
    assert up == {"type": "bridge", "up": True}
    assert later["order"]["order_number"] == moved.number and later["version"] > fresh["version"]
    assert {"display_bridge_down", "display_bridge_up"} <= {line["action"] for line in display.log_lines()}


def test_a_poison_body_does_not_stop_a_display_bridge(start_display, relay, amqp_channel):
    order = create_order()
    cookie, port = cook_cookie(), free_port()
    display = start_display("display", port)
    poison = b"[" * 5000  # nested deeper than Python's recursion limit

    async def body():
        async with kitchen_client(f"127.0.0.1:{port}", cookie) as kitchen:
            await asyncio.wait_for(kitchen.recv(), 15)
            amqp_channel.confirm_delivery()  # in the bridge's queue before the update below is published
            amqp_channel.basic_publish(broker.NOTIFICATIONS_EXCHANGE, "", poison)
            # A key the bridge binds (EVERY_ORDER_MESSAGE) and no kitchen queue does.
            amqp_channel.basic_publish(broker.ORDERS_EXCHANGE, EVERY_ORDER_MESSAGE.replace("#", "poison"), poison)
            # Published after the poison, so handled after it, by the same bridge if it went on.
            await database_sync_to_async(order_start_cooking)(number=order.number, changed_by="chef_mario")
            seen = []
            await receive_until(kitchen, lambda m: seen.append(m) or m["type"] == "order")
        return seen

    seen = asyncio.run(body())
    assert seen[-1]["order"]["order_number"] == order.number and seen[-1]["order"]["status"] == "cooking"
    assert {"type": "bridge", "up": False} not in seen  # never down: the thread went on
    # Each poison body was dropped as not JSON (broker.json_object); the thread neither failed nor restarted.
    actions = {line["action"] for line in display.log_lines()}
    assert not actions & {"display_bridge_failed", "display_bridge_down", "display_bridge_restarted"}
