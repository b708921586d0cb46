"""Two display processes (daphne, as the Procfile runs them): a bump made through one reaches a
client of the other, through the outbox, the relay, RabbitMQ and each process's own bridge."""

import asyncio
import json

import pytest
import websockets
from django.test import Client

from orders.models import Order
from restaurant.roles import KITCHEN
from tests.factories import create_order, staff_user
from tests.support import free_port

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
