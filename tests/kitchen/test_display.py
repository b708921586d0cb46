"""The kitchen display's and the order tracking's WebSockets (kitchen/consumers.py) and the bridge
that feeds them (kitchen/bridge.py), in-process with Channels' WebsocketCommunicator against
the real database and, end to end, the real relay and RabbitMQ."""

import asyncio
import json

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse

from kitchen.bridge import DisplayBridge
from kitchen.screens import KITCHEN_GROUP, order_group, order_views
from menu.services import menu_items_set_available
from orders.models import Order
from orders.services import order_start_cooking
from restaurant.asgi import application
from restaurant.broker import NOTIFICATIONS_EXCHANGE
from restaurant.models import OutboxMessage
from restaurant.roles import FRONT_OF_HOUSE, KITCHEN, MANAGER
from tests.factories import create_order, last_log_id, load_test_menu, logged_in, staff_user
from tests.support import connect, kitchen_socket, run, session_headers

TICKET_KEYS = {
    "order_number",
    "status",
    "order_type",
    "table_number",
    "delivery_address",
    "priority",
    "items",
    "created_at",
    "processed_by",
    "estimated_completion",
    "promised_at",
    "fire_at",
    "notes",
    "version",
}


pytestmark = pytest.mark.usefixtures("fresh_layer")  # tests/kitchen/conftest.py


def order_socket(number: str) -> WebsocketCommunicator:
    return WebsocketCommunicator(application, f"/ws/orders/{number}/", headers=session_headers(None))


# --- who may connect --------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["anonymous", "no group", "Front of house"])
def test_kitchen_socket_refuses_anyone_but_kitchen_staff_with_4403(who):
    user = None if who == "anonymous" else staff_user(None if who == "no group" else who, "someone", is_staff=False)

    user_headers = session_headers(user)

    async def body():
        communicator = kitchen_socket(user_headers)
        await connect(communicator)
        assert await communicator.receive_output(timeout=5) == {"type": "websocket.close", "code": 4403}
        await communicator.disconnect()

    run(body)


def test_kitchen_socket_refuses_a_user_when_the_staff_groups_do_not_exist_yet():
    Group.objects.filter(name__in=[KITCHEN, MANAGER]).delete()
    user, admin = staff_user(None, "cook", is_staff=False), staff_user(None, "boss", superuser=True)

    user_headers = session_headers(user)
    admin_headers = session_headers(admin)

    async def body():
        refused, accepted = kitchen_socket(user_headers), kitchen_socket(admin_headers)
        await connect(refused)
        assert (await refused.receive_output(timeout=5))["code"] == 4403
        await connect(accepted)
        assert (await accepted.receive_json_from(timeout=10))["type"] == "snapshot"
        await refused.disconnect()
        await accepted.disconnect()

    run(body)


def test_kitchen_socket_rejects_a_foreign_origin():
    user = staff_user(KITCHEN, "cook", is_staff=False)
    headers = [(b"origin", b"http://evil.example"), *session_headers(user)[1:]]

    async def body():
        communicator = WebsocketCommunicator(application, "/ws/kitchen/", headers=headers)
        connected, _ = await communicator.connect(timeout=10)
        assert not connected
        await communicator.disconnect()

    run(body)


# --- the snapshot ------------------------------------------------------------------------------


@pytest.mark.parametrize("group", [KITCHEN, MANAGER])
def test_snapshot_holds_every_open_order_as_a_ticket_with_versions(group):
    received = create_order(order_type="dine_in", table_number=7)
    cooking = create_order(status="cooking", order_type="delivery", delivery_address="1 Main Street, Springfield")
    ready = create_order(status="ready")
    create_order(status="completed")
    create_order(status="cancelled")
    user = staff_user(group, "cook", is_staff=False)

    user_headers = session_headers(user)

    async def body():
        communicator = kitchen_socket(user_headers)
        await connect(communicator)
        snapshot = await communicator.receive_json_from(timeout=10)
        await communicator.disconnect()
        return snapshot

    snapshot = run(body)
    assert snapshot["type"] == "snapshot"
    assert snapshot["version"] == last_log_id()
    tickets = {ticket["order_number"]: ticket for ticket in snapshot["orders"]}
    assert set(tickets) == {received.number, cooking.number, ready.number}
    for order in (received, cooking, ready):
        assert set(tickets[order.number]) == TICKET_KEYS
        assert tickets[order.number]["status"] == order.status
        assert tickets[order.number]["version"] == last_log_id(order)
    assert tickets[received.number]["table_number"] == 7
    [line] = received.items.all()
    assert tickets[received.number]["items"] == [
        {
            "id": line.id,
            "name": "Margherita Pizza",
            "quantity": 1,
            "station": None,
            "modifiers": [],
            "notes": "",
            "prepared": False,
            "prepared_by": None,
        }
    ]
    assert tickets[cooking.number]["delivery_address"] == "1 Main Street, Springfield"
    assert tickets[cooking.number]["processed_by"] == "chef_mario"
    assert tickets[cooking.number]["estimated_completion"] is not None


# --- updates -----------------------------------------------------------------------------------


def test_a_ticket_shows_each_items_modifiers_and_notes_and_the_orders_notes():
    load_test_menu()
    line = {"sku": "margherita", "quantity": 1, "modifiers": ["large", "no_onions"], "notes": "allergy: onions"}
    order = create_order(items=[line], notes="birthday")

    ticket, public = order_views(order.number)

    [item] = order.items.all()
    assert ticket["items"] == [
        {
            "id": item.id,
            "name": "Margherita Pizza",
            "quantity": 1,
            "station": "oven",
            "modifiers": ["Large", "No onions"],
            "notes": "allergy: onions",
            "prepared": False,
            "prepared_by": None,
        }
    ]
    assert ticket["notes"] == "birthday"
    assert "items" not in public and "notes" not in public  # the public status shows neither


def test_an_update_sent_from_another_thread_reaches_the_kitchen_and_only_its_own_order_socket():
    order, other = (
        create_order(),
        create_order(
            customer_name="Secret Name", order_type="delivery", delivery_address="42 Hidden Road, Springfield"
        ),
    )
    user = staff_user(KITCHEN, "cook", is_staff=False)

    user_headers = session_headers(user)

    async def body():
        kitchen, mine, theirs = kitchen_socket(user_headers), order_socket(order.number), order_socket(other.number)
        for communicator in (kitchen, mine, theirs):
            await connect(communicator)
        snapshot = await kitchen.receive_json_from(timeout=10)
        await mine.receive_json_from(timeout=5)
        await theirs.receive_json_from(timeout=5)

        await database_sync_to_async(order_start_cooking)(number=order.number, changed_by="chef_luigi")
        # What the bridge does for a status update, from a thread that is not the loop's.
        bridge = DisplayBridge(asyncio.get_running_loop())
        ticket, public = await database_sync_to_async(order_views)(order.number)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(
            None, bridge.send, KITCHEN_GROUP, {"type": "order.update", "order": ticket, "version": ticket["version"]}
        )
        await loop.run_in_executor(
            None,
            bridge.send,
            order_group(order.number),
            {"type": "order.update", "order": public, "version": public["version"]},
        )
        update = await kitchen.receive_json_from(timeout=5)
        status = await mine.receive_json_from(timeout=5)
        assert await theirs.receive_nothing(timeout=0.3)
        for communicator in (kitchen, mine, theirs):
            await communicator.disconnect()
        return snapshot, update, status

    snapshot, update, status = run(body)
    assert update["type"] == "order" and update["order"]["status"] == "cooking"
    assert update["order"]["processed_by"] == "chef_luigi"
    assert update["version"] == last_log_id(order) > snapshot["version"]
    assert status == {
        "type": "order",
        "order": {
            "order_number": order.number,
            "status": "cooking",
            "order_type": "takeout",
            "estimated_completion": update["order"]["estimated_completion"],
            "promised_at": order.promised_at.isoformat(),
            "fire_at": None,
            "version": update["version"],
        },
        "version": update["version"],
    }


def test_order_socket_shows_no_name_address_or_items_and_closes_for_an_unknown_order():
    order = create_order(
        customer_name="Secret Name", order_type="delivery", delivery_address="42 Hidden Road, Springfield"
    )

    async def body():
        communicator, unknown = order_socket(order.number), order_socket("ORD_19990101_999")
        await connect(communicator)
        first = await communicator.receive_json_from(timeout=10)
        await connect(unknown)
        closed = await unknown.receive_output(timeout=5)
        await communicator.disconnect()
        await unknown.disconnect()
        return first, closed

    first, closed = run(body)
    assert first == {
        "type": "order",
        "order": {
            "order_number": order.number,
            "status": "received",
            "order_type": "delivery",
            "estimated_completion": None,
            "promised_at": order.promised_at.isoformat(),
            "fire_at": None,
            "version": last_log_id(order),
        },
        "version": last_log_id(order),
    }
    assert "Secret Name" not in json.dumps(first) and "Hidden" not in json.dumps(first)
    assert closed == {"type": "websocket.close", "code": 4404}


def test_a_status_change_reaches_the_sockets_through_the_relay_and_the_bridge(relay):
    order = create_order()
    user = staff_user(KITCHEN, "cook", is_staff=False)

    user_headers = session_headers(user)

    async def body():
        kitchen, mine = kitchen_socket(user_headers), order_socket(order.number)
        await connect(kitchen)  # starts this loop's bridge and waits until it consumes
        snapshot = await kitchen.receive_json_from(timeout=10)
        await connect(mine)
        await mine.receive_json_from(timeout=5)
        await database_sync_to_async(order_start_cooking)(number=order.number, changed_by="chef_mario")
        update = await kitchen.receive_json_from(timeout=15)
        status = await mine.receive_json_from(timeout=5)
        await kitchen.disconnect()
        await mine.disconnect()
        return snapshot, update, status

    snapshot, update, status = run(body)
    assert update["type"] == "order"
    assert update["order"]["order_number"] == order.number and update["order"]["status"] == "cooking"
    assert update["version"] == last_log_id(order) > snapshot["version"]
    assert status["order"]["status"] == "cooking" and status["version"] == update["version"]


def test_a_new_order_reaches_the_kitchen_socket_through_its_order_message(relay):
    """A new order has no status update (its `received` row has none): the bridge also takes the
    order messages, so the board shows the order before any worker picks it up."""
    user_headers = session_headers(staff_user(KITCHEN, "cook", is_staff=False))

    async def body():
        kitchen = kitchen_socket(user_headers)
        await connect(kitchen)
        snapshot = await kitchen.receive_json_from(timeout=10)
        order = await database_sync_to_async(create_order)(status="received")
        update = await kitchen.receive_json_from(timeout=15)
        await kitchen.disconnect()
        return snapshot, order, update

    snapshot, order, update = run(body)
    assert snapshot["orders"] == []
    assert update["type"] == "order"
    assert update["order"]["order_number"] == order.number and update["order"]["status"] == "received"
    assert update["version"] == last_log_id(order) > snapshot["version"]


# --- bump and recall ---------------------------------------------------------------------------


def test_bump_over_the_socket_completes_a_ready_order_through_the_service():
    order, cooking = create_order(status="ready"), create_order(status="cooking")
    user = staff_user(KITCHEN, "cook", is_staff=False)
    outbox_before = OutboxMessage.objects.count()

    user_headers = session_headers(user)

    async def body():
        kitchen = kitchen_socket(user_headers)
        await connect(kitchen)
        await kitchen.receive_json_from(timeout=10)
        await kitchen.send_json_to({"action": "bump", "order_number": order.number})
        done = await kitchen.receive_json_from(timeout=10)
        await kitchen.send_json_to({"action": "bump", "order_number": cooking.number})
        refused = await kitchen.receive_json_from(timeout=10)
        await kitchen.send_json_to({"action": "explode"})
        invalid = await kitchen.receive_json_from(timeout=10)
        await kitchen.disconnect()
        return done, refused, invalid

    done, refused, invalid = run(body)
    assert done == {"type": "done", "action": "bump", "order_number": order.number}
    order.refresh_from_db()
    assert order.status == "completed"
    log_row = order.status_log.get(status="completed")
    assert log_row.changed_by == "cook"
    published = OutboxMessage.objects.order_by("id")[outbox_before:]
    assert [(row.exchange, json.loads(row.body)["new_status"]) for row in published] == [
        (NOTIFICATIONS_EXCHANGE, "completed")
    ]
    assert refused["type"] == "error" and refused["code"] == "transition_not_allowed"
    assert Order.objects.get(pk=cooking.pk).status == "cooking"
    assert invalid["type"] == "error" and invalid["code"] == "invalid"


def test_recall_over_the_socket_brings_a_bumped_order_back_to_ready():
    order = create_order(status="completed")
    user = staff_user(KITCHEN, "cook", is_staff=False)

    user_headers = session_headers(user)

    async def body():
        kitchen = kitchen_socket(user_headers)
        await connect(kitchen)
        snapshot = await kitchen.receive_json_from(timeout=10)
        await kitchen.send_json_to({"action": "recall", "order_number": order.number})
        done = await kitchen.receive_json_from(timeout=10)
        await kitchen.disconnect()
        return snapshot, done

    snapshot, done = run(body)
    assert order.number not in {ticket["order_number"] for ticket in snapshot["orders"]}
    assert done == {"type": "done", "action": "recall", "order_number": order.number}
    order.refresh_from_db()
    assert order.status == "ready"
    assert order.status_log.filter(status="ready", superseded=False).get().changed_by == "cook"


# --- the pages ---------------------------------------------------------------------------------


def test_kitchen_page_sends_strangers_to_the_login_refuses_other_staff_and_serves_the_kitchen():
    client = Client()
    response = client.get("/kitchen/?types=dine_in")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/?next=/kitchen/")
    client.force_login(staff_user(FRONT_OF_HOUSE, "waiter", is_staff=False))
    assert client.get("/kitchen/").status_code == 403
    client.force_login(staff_user(KITCHEN, "cook", is_staff=False))
    response = client.get("/kitchen/")
    assert response.status_code == 200
    assert b"/ws/kitchen/" in response.content


def test_track_page_is_public_and_opens_its_order_socket():
    # An order's page (an unknown number's is a 404: tests/kitchen/test_pages.py).
    Order.objects.filter(pk=create_order().pk).update(number="ORD_20250101_001")
    response = Client().get("/track/ORD_20250101_001/")
    assert response.status_code == 200
    assert b"/ws/orders/" in response.content and b"ORD_20250101_001" in response.content


def test_sockets_answer_the_pages_heartbeat():
    order = create_order()
    user = staff_user(KITCHEN, "cook", is_staff=False)
    user_headers = session_headers(user)

    async def body():
        kitchen, mine = kitchen_socket(user_headers), order_socket(order.number)
        for communicator in (kitchen, mine):
            await connect(communicator)
            await communicator.receive_json_from(timeout=10)
            await communicator.send_json_to({"action": "ping"})
        answers = [await kitchen.receive_json_from(timeout=5), await mine.receive_json_from(timeout=5)]
        await kitchen.disconnect()
        await mine.disconnect()
        return answers

    assert run(body) == [{"type": "pong"}, {"type": "pong"}]


def test_a_cancel_from_the_admin_reaches_a_live_kitchen_display(relay):
    """The admin's Cancel action goes through order_cancel, whose status update travels outbox →
    relay → RabbitMQ → bridge → the kitchen socket, like any other change."""
    order = create_order()
    cook_headers = session_headers(staff_user(KITCHEN, "cook", is_staff=False))
    manager = logged_in(MANAGER, "maria")

    def cancel_in_admin():
        changelist = reverse("admin:orders_order_changelist")
        return manager.post(changelist, {"action": "cancel", ACTION_CHECKBOX_NAME: [order.pk]}).status_code

    async def body():
        kitchen = kitchen_socket(cook_headers)
        await connect(kitchen)
        snapshot = await kitchen.receive_json_from(timeout=10)
        status_code = await database_sync_to_async(cancel_in_admin)()
        update = await kitchen.receive_json_from(timeout=15)
        await kitchen.disconnect()
        return snapshot, status_code, update

    snapshot, status_code, update = run(body)
    assert order.number in [ticket["order_number"] for ticket in snapshot["orders"]]
    assert status_code == 302  # the action ran and went back to the list
    assert update["type"] == "order"
    assert update["order"]["order_number"] == order.number and update["order"]["status"] == "cancelled"
    assert update["version"] == last_log_id(order) > snapshot["version"]


def test_a_sold_out_item_reaches_a_live_kitchen_display_as_a_menu_event():
    load_test_menu()
    headers = session_headers(staff_user(KITCHEN, "cook", is_staff=False))

    async def body():
        communicator = kitchen_socket(headers)
        await connect(communicator)
        snapshot = await communicator.receive_json_from(timeout=10)
        await database_sync_to_async(menu_items_set_available)(skus=["margherita"], available=False)
        while (event := await communicator.receive_json_from(timeout=10))["type"] != "menu" or (
            "Margherita Pizza" not in event["menu"]["items"]
        ):
            pass
        await communicator.disconnect()
        return snapshot, event

    snapshot, event = run(body)
    assert snapshot["menu"]["items"] == ["Tiramisu"] and snapshot["menu"]["options"] == [
        "Margherita Pizza: Fresh chili"
    ]
    assert event["menu"]["items"] == ["Margherita Pizza", "Tiramisu"]
    assert event["menu"]["options"] == []  # an option of a sold-out item is not listed apart
    assert event["menu"]["version"] > snapshot["menu"]["version"]


def test_the_kitchen_socket_sends_the_speed_figures_in_its_snapshot_and_on_request():
    headers = session_headers(staff_user(KITCHEN, "cook", is_staff=False))
    create_order(status="ready")

    async def body():
        communicator = kitchen_socket(headers)
        await connect(communicator)
        snapshot = await communicator.receive_json_from(timeout=10)
        await communicator.send_json_to({"action": "speed"})
        answer = await communicator.receive_json_from(timeout=10)
        await communicator.disconnect()
        return snapshot, answer

    snapshot, answer = run(body)
    assert snapshot["speed"]["orders"] == 1 and snapshot["speed"]["overdue"] == 0
    assert answer == {"type": "speed", "speed": snapshot["speed"]}


def test_an_item_mark_over_the_socket_reaches_a_second_display_with_a_higher_version_and_the_last_one_readies():
    order = create_order(
        status="cooking",
        items=[{"name": "Pizza", "quantity": 1, "price": 9}, {"name": "Cola", "quantity": 1, "price": 3}],
    )
    pizza, cola = order.items.order_by("id")
    oven = session_headers(staff_user(KITCHEN, "oven_cook", is_staff=False))
    bar = session_headers(staff_user(KITCHEN, "bar_cook", is_staff=False))

    async def until_ticket(communicator, condition):
        while True:
            message = await communicator.receive_json_from(timeout=10)
            if message["type"] == "order" and condition(message["order"]):
                return message

    async def body():
        first, second = kitchen_socket(oven), kitchen_socket(bar)
        await connect(first)
        await connect(second)
        snapshot = await second.receive_json_from(timeout=10)
        await first.receive_json_from(timeout=10)
        await first.send_json_to({"action": "prepare", "order_number": order.number, "item": pizza.id})
        marked = await until_ticket(second, lambda ticket: ticket["items"][0]["prepared"])
        await second.send_json_to({"action": "prepare", "order_number": order.number, "item": cola.id})
        ready = await until_ticket(first, lambda ticket: ticket["status"] == "ready")
        await second.send_json_to({"action": "prepare", "order_number": order.number, "item": "cola"})
        while (answer := await second.receive_json_from(timeout=10))["type"] != "error":
            pass
        await first.disconnect()
        await second.disconnect()
        return snapshot, marked, ready, answer

    snapshot, marked, ready, answer = run(body)
    before = next(t for t in snapshot["orders"] if t["order_number"] == order.number)
    assert marked["version"] > before["version"]
    assert marked["order"]["items"][0]["prepared_by"] == "oven_cook" and not marked["order"]["items"][1]["prepared"]
    assert ready["version"] > marked["version"] and ready["order"]["processed_by"] == "bar_cook"
    assert answer["code"] == "invalid" and answer["errors"] == {"item": ["an order item id is required"]}
