"""A display bridge that stops is seen and catches up (kitchen/bridge.py: the registry's watchdog),
in-process with Channels' WebsocketCommunicator against the real database and RabbitMQ. The same
against a real display process (daphne): tests/kitchen/test_display_processes.py."""

import asyncio

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from kitchen.bridge import bridges
from orders.services import order_start_cooking
from restaurant.asgi import application
from restaurant.roles import KITCHEN
from tests.factories import create_order, staff_user
from tests.support import connect, kitchen_socket, run, session_headers

pytestmark = pytest.mark.usefixtures("fresh_layer")  # tests/kitchen/conftest.py

BRIDGE_DOWN = {"type": "bridge", "up": False}
BRIDGE_UP = {"type": "bridge", "up": True}


async def receive_until(communicator, condition, timeout: float = 15.0) -> dict:
    """The first message that meets `condition`, skipping the others."""

    async def first_match():
        while True:
            message = await communicator.receive_json_from(timeout=timeout)
            if condition(message):
                return message

    return await asyncio.wait_for(first_match(), timeout)


def test_while_the_bridge_does_not_consume_every_screen_is_told_and_pings_get_no_pong():
    order = create_order()
    cook_headers = session_headers(staff_user(KITCHEN, "cook", is_staff=False))

    async def body():
        sockets = [
            kitchen_socket(cook_headers),
            WebsocketCommunicator(application, f"/ws/orders/{order.number}/", headers=session_headers(None)),
            WebsocketCommunicator(application, "/ws/board/", headers=session_headers(None)),
        ]
        for socket in sockets:
            await connect(socket)
            await socket.receive_json_from(timeout=10)
        bridge = await bridges.ensure()
        bridge.consuming.clear()  # as while it reconnects to the broker
        downs = [await socket.receive_json_from(timeout=5) for socket in sockets]
        answers = []
        for socket in sockets:
            await socket.send_json_to({"action": "ping"})
            answers.append(await socket.receive_json_from(timeout=5))
        bridge.consuming.set()
        ups = [await socket.receive_json_from(timeout=5) for socket in sockets]
        await sockets[0].send_json_to({"action": "ping"})
        pong = await sockets[0].receive_json_from(timeout=5)
        for socket in sockets:
            await socket.disconnect()
        return downs, answers, ups, pong

    downs, answers, ups, pong = run(body)
    assert downs == answers == [BRIDGE_DOWN] * 3
    assert ups == [BRIDGE_UP] * 3
    assert pong == {"type": "pong"}


def test_a_bridge_thread_that_dies_is_shown_replaced_and_its_screens_take_a_fresh_snapshot(relay):
    moved = create_order()
    cook_headers = session_headers(staff_user(KITCHEN, "cook", is_staff=False))
    made: list = []

    def dying_step():
        # What the gap misses: an order made and an order moved while no bridge relays them. Both
        # are committed before the thread ends, so before any replacement's snapshot is read.
        made.append(create_order())
        order_start_cooking(number=moved.number, changed_by="chef_mario")
        raise RuntimeError("a bug in the bridge's loop")

    async def body():
        kitchen = kitchen_socket(cook_headers)
        await connect(kitchen)
        first = await kitchen.receive_json_from(timeout=10)
        bridge = await bridges.ensure()
        bridge.step = dying_step  # its next step ends its thread
        down = await receive_until(kitchen, lambda m: m["type"] == "bridge")
        fresh = await receive_until(kitchen, lambda m: m["type"] == "snapshot")
        up = await receive_until(kitchen, lambda m: m["type"] == "bridge")
        replacement = await bridges.ensure()
        # A later update still arrives, through the relay and the new bridge.
        await database_sync_to_async(order_start_cooking)(number=made[0].number, changed_by="chef_luigi")
        update = await receive_until(
            kitchen, lambda m: m["type"] == "order" and m["order"]["order_number"] == made[0].number
        )
        await kitchen.disconnect()
        return first, bridge, down, fresh, up, replacement, update

    first, bridge, down, fresh, up, replacement, update = run(body)
    assert moved.number in {ticket["order_number"] for ticket in first["orders"]}
    assert (down, up) == (BRIDGE_DOWN, BRIDGE_UP)
    assert replacement is not bridge and not bridge.thread.is_alive()
    tickets = {ticket["order_number"]: ticket for ticket in fresh["orders"]}
    assert tickets[made[0].number]["status"] == "received"
    assert tickets[moved.number]["status"] == "cooking"
    assert update["order"]["status"] == "cooking" and update["version"] > fresh["version"]
