"""The customer board (`/board/`, public) and its WebSocket (`/ws/board/`, kitchen/consumers.py
BoardConsumer), fed by the display bridge's board group; and the tracking page's step bar."""

import asyncio
import json

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from kitchen import screens
from kitchen.bridge import DisplayBridge
from kitchen.screens import board_snapshot
from kitchen.services import worker_finish_order
from orders.models import Order
from orders.services import order_mark_completed, order_recall, order_start_cooking
from restaurant.asgi import application
from tests.factories import create_order, last_log_id
from tests.support import connect, run, session_headers

pytestmark = pytest.mark.usefixtures("fresh_layer")  # tests/kitchen/conftest.py

PUBLIC_KEYS = {"order_number", "status", "order_type", "estimated_completion", "promised_at", "fire_at", "version"}
SECRET_NAME, SECRET_ADDRESS = "Secret Name", "42 Hidden Road, Springfield"


def board_socket(query: str = "") -> WebsocketCommunicator:
    return WebsocketCommunicator(application, f"/ws/board/{query}", headers=session_headers(None))


async def snapshot_of(query: str = "") -> dict:
    communicator = board_socket(query)
    await connect(communicator)
    snapshot = await communicator.receive_json_from(timeout=10)
    await communicator.disconnect()
    return snapshot


def numbers(snapshot: dict) -> set[str]:
    return {order["order_number"] for order in snapshot["orders"]}


# --- the snapshot ------------------------------------------------------------------------------


def test_board_snapshot_holds_the_open_takeout_and_dine_in_orders_without_name_address_or_items():
    received = create_order(customer_name=SECRET_NAME)
    cooking = create_order(status="cooking", order_type="dine_in", table_number=7)
    ready = create_order(status="ready")
    delivery = create_order(order_type="delivery", delivery_address=SECRET_ADDRESS, customer_name=SECRET_NAME)
    create_order(status="completed")
    create_order(status="cancelled", order_type="dine_in", table_number=3)

    snapshot = run(snapshot_of)

    assert snapshot["type"] == "snapshot"
    assert snapshot["version"] == last_log_id()
    assert numbers(snapshot) == {received.number, cooking.number, ready.number}
    assert delivery.number not in json.dumps(snapshot)
    by_number = {order["order_number"]: order for order in snapshot["orders"]}
    for order in (received, cooking, ready):
        assert set(by_number[order.number]) == PUBLIC_KEYS | {"ready_at"}
        assert by_number[order.number]["status"] == order.status
        assert by_number[order.number]["version"] == last_log_id(order)
    ready_row = ready.status_log.get(status="ready")
    assert by_number[ready.number]["ready_at"] == ready_row.changed_at.isoformat()
    assert by_number[received.number]["ready_at"] is None and by_number[cooking.number]["ready_at"] is None
    assert by_number[cooking.number]["estimated_completion"] is not None
    text = json.dumps(snapshot)
    assert SECRET_NAME not in text and "Hidden" not in text and "Margherita" not in text and "items" not in text


def test_board_socket_shows_the_order_types_its_query_chooses_and_refuses_unknown_ones_with_4400():
    takeout = create_order()
    dine_in = create_order(order_type="dine_in", table_number=2)
    delivery = create_order(order_type="delivery", delivery_address=SECRET_ADDRESS)

    async def body():
        only_delivery = await snapshot_of("?types=delivery")
        everything = await snapshot_of("?types=takeout,dine_in,delivery")
        refused = []
        for query in ("?types=takout", "?types=", "?types=takeout,pickup"):
            communicator = board_socket(query)
            await connect(communicator)
            refused.append(await communicator.receive_output(timeout=5))
            await communicator.disconnect()
        return only_delivery, everything, refused

    only_delivery, everything, refused = run(body)
    assert numbers(only_delivery) == {delivery.number}
    assert numbers(everything) == {takeout.number, dine_in.number, delivery.number}
    assert refused == [{"type": "websocket.close", "code": 4400}] * 3


def test_a_board_snapshot_holds_the_newest_open_orders_oldest_first_and_fits_a_websocket_message():
    """Thousands of open orders (a night nobody bumped) still make a snapshot the board can load: the
    newest BOARD_ORDERS, under daphne's 1 MiB message limit (the soak's board, over it, never loaded)."""
    made = [create_order().number for _ in range(12)]
    screens.BOARD_ORDERS, limit = 5, screens.BOARD_ORDERS
    try:
        snapshot = run(snapshot_of)
    finally:
        screens.BOARD_ORDERS = limit

    assert [order["order_number"] for order in snapshot["orders"]] == made[-5:]
    assert limit * len(json.dumps(snapshot["orders"][0])) * 2 < 1024 * 1024  # a full one fits, with room


def test_board_snapshot_counts_a_recalled_order_as_ready_from_its_recall():
    order = create_order(status="completed")
    order_recall(number=order.number, changed_by="cook")

    (entry,) = board_snapshot(order_types=["takeout"])["orders"]

    live_ready = order.status_log.get(status="ready", superseded=False)
    assert entry["status"] == "ready" and entry["ready_at"] == live_ready.changed_at.isoformat()
    assert entry["version"] == last_log_id(order)


# --- updates -----------------------------------------------------------------------------------


def test_an_order_reaches_the_board_through_the_relay_and_the_bridge_and_leaves_it_when_completed(relay):
    async def body():
        board, delivery_board = board_socket(), board_socket("?types=delivery")
        await connect(board)  # starts this loop's bridge and waits until it consumes
        snapshot = await board.receive_json_from(timeout=10)
        await connect(delivery_board)
        await delivery_board.receive_json_from(timeout=10)

        order = await database_sync_to_async(create_order)(customer_name=SECRET_NAME)
        updates = [await board.receive_json_from(timeout=15)]
        steps = [
            (order_start_cooking, {"changed_by": "chef_mario"}),
            (worker_finish_order, {"worker_name": "chef_mario"}),
            (order_mark_completed, {"changed_by": "cashier"}),
        ]
        for service, arguments in steps:
            await database_sync_to_async(service)(number=order.number, **arguments)
            updates.append(await board.receive_json_from(timeout=15))
        # The delivery board heard none of it: a takeout order is not its type.
        assert await delivery_board.receive_nothing(timeout=0.5)
        after = await snapshot_of()
        for communicator in (board, delivery_board):
            await communicator.disconnect()
        return snapshot, order, updates, after

    snapshot, order, updates, after = run(body)
    assert snapshot["orders"] == []
    assert [update["order"]["status"] for update in updates] == ["received", "cooking", "ready", "completed"]
    versions = [update["version"] for update in updates]
    assert snapshot["version"] < versions[0] < versions[1] < versions[2] < versions[3] == last_log_id(order)
    for update in updates:
        assert update["type"] == "order" and update["order"]["order_number"] == order.number
        assert set(update["order"]) == PUBLIC_KEYS and update["order"]["version"] == update["version"]
        assert SECRET_NAME not in json.dumps(update)
    assert order.number not in numbers(after)  # completed: off the board


def test_a_delivery_board_hears_delivery_orders_through_the_bridge(relay):
    async def body():
        board, delivery_board = board_socket(), board_socket("?types=delivery")
        for communicator in (board, delivery_board):
            await connect(communicator)
            await communicator.receive_json_from(timeout=10)
        order = await database_sync_to_async(create_order)(order_type="delivery", delivery_address=SECRET_ADDRESS)
        update = await delivery_board.receive_json_from(timeout=15)
        assert await board.receive_nothing(timeout=0.5)  # the default board shows no delivery
        for communicator in (board, delivery_board):
            await communicator.disconnect()
        return order, update

    order, update = run(body)
    assert update["order"]["order_number"] == order.number and update["order"]["status"] == "received"
    assert "Hidden" not in json.dumps(update)


def test_a_board_takes_a_fresh_snapshot_when_the_bridge_reconnects_after_an_outage():
    async def body():
        board = board_socket()
        await connect(board)
        before = await board.receive_json_from(timeout=10)
        order = await database_sync_to_async(create_order)()  # no relay: only a snapshot shows it
        bridge = DisplayBridge(asyncio.get_running_loop())
        bridge.connections = 1  # it had been connected before: this is a reconnection
        bridge.next_menu_listen = float("inf")  # this test is not about the menu listener
        await asyncio.get_running_loop().run_in_executor(None, bridge.on_connected)
        after = await board.receive_json_from(timeout=5)
        await board.disconnect()
        return before, order, after

    before, order, after = run(body)
    assert before["orders"] == []
    assert after["type"] == "snapshot" and numbers(after) == {order.number}
    assert after["version"] > before["version"]


def test_board_socket_answers_the_pages_heartbeat():
    async def body():
        board = board_socket()
        await connect(board)
        await board.receive_json_from(timeout=10)
        await board.send_json_to({"action": "ping"})
        answer = await board.receive_json_from(timeout=5)
        await board.disconnect()
        return answer

    assert run(body) == {"type": "pong"}


# --- the pages ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "types"),
    [
        ("", ["takeout", "dine_in"]),
        ("?types=delivery", ["delivery"]),
        ("?types=dine_in, takeout,", ["dine_in", "takeout"]),
    ],
)
def test_board_page_is_public_and_opens_its_socket_for_the_chosen_types(query, types):
    response = Client().get(f"/board/{query}")

    assert response.status_code == 200
    content = response.content.decode()
    assert "/ws/board/" in content and "Preparing" in content and "Ready for pick-up" in content
    assert f'<script id="board-types" type="application/json">{json.dumps(types)}</script>' in content


@pytest.mark.parametrize("query", ["?types=takout", "?types=", "?types=delivery,everything"])
def test_board_page_refuses_unknown_order_types_with_a_400_that_names_the_known_ones(query):
    response = Client().get(f"/board/{query}")

    assert response.status_code == 400
    content = response.content.decode()
    assert "not set up right" in content and "/ws/board/" not in content
    for known in ("dine_in", "takeout", "delivery"):
        assert f"<code>{known}</code>" in content


def test_track_page_shows_the_step_bar_and_the_number_the_board_shows():
    Order.objects.filter(pk=create_order().pk).update(number="ORD_20250101_042")
    response = Client().get("/track/ORD_20250101_042/")

    assert response.status_code == 200
    content = response.content.decode()
    steps = [f'data-step="{step}"' for step in ("received", "cooking", "ready", "completed")]
    assert all(step in content for step in steps)
    assert [content.index(step) for step in steps] == sorted(content.index(step) for step in steps)
    assert 'id="eta"' in content
    assert "On the order board: <strong>042</strong>" in content
