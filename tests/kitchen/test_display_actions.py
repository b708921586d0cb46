"""Cooks drive the state machine from the kitchen display's socket (kitchen/consumers.py): start and
ready through the order's own transitions, each reaching every other display through the relay and
the bridge; every action checked for the user's group when it is made; malformed messages answered
with the JSON error, never an exception in the server."""

import asyncio
import json
import logging
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from orders.models import Order, OrderStatus, OrderStatusLog
from orders.timing import cooking_time
from restaurant.broker import NOTIFICATIONS_EXCHANGE
from restaurant.models import OutboxMessage
from tests.factories import KITCHEN, MANAGER, create_order, last_log_id, logged, staff_user
from tests.support import connect, kitchen_socket, run, session_headers

pytestmark = pytest.mark.usefixtures("fresh_layer")  # tests/kitchen/conftest.py


async def receive_until(communicator, wanted, *, timeout: float = 15) -> dict:
    """The first message `wanted(message)` accepts, skipping the others (another order's update, the
    86 list, the sender's own copy of an update)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        message = await communicator.receive_json_from(timeout=max(0.1, deadline - loop.time()))
        if wanted(message):
            return message


def update_of(number: str, status: str):
    return lambda message: (
        message["type"] == "order"
        and message["order"]["order_number"] == number
        and message["order"]["status"] == status
    )


def answer(message: dict) -> bool:
    return message["type"] in ("done", "error")


def answers_to(user, frames: list[dict]) -> tuple[list[dict], dict]:
    """The answers of one display of `user` to each frame (keyword arguments of `send_to`) in turn,
    and its answer to a ping sent last (the socket still up, no exception in the server)."""
    headers = session_headers(user)

    async def body():
        cook = kitchen_socket(headers)
        await connect(cook)
        await cook.receive_json_from(timeout=10)
        answers = []
        for frame in frames:
            await cook.send_to(**frame)
            answers.append(await receive_until(cook, answer))
        await cook.send_json_to({"action": "ping"})
        pong = await cook.receive_json_from(timeout=5)
        await cook.disconnect()
        return answers, pong

    return run(body)


def action(name: str, order: Order | str | int) -> dict:
    number = order.number if isinstance(order, Order) else order
    return {"text_data": json.dumps({"action": name, "order_number": number})}


def status_updates(order: Order) -> list[tuple[str, str, str]]:
    rows = OutboxMessage.objects.filter(exchange=NOTIFICATIONS_EXCHANGE, body__contains=order.number).order_by("id")
    return [
        (body["old_status"], body["new_status"], body["changed_by"]) for body in map(json.loads, (r.body for r in rows))
    ]


# --- start and ready ---------------------------------------------------------------------------


@pytest.mark.parametrize("group", [KITCHEN, MANAGER])
def test_start_then_ready_over_the_socket_reach_a_second_display_with_higher_versions(relay, group):
    order = create_order()
    headers = session_headers(staff_user(group, "anna", is_staff=False))
    other_headers = session_headers(staff_user(KITCHEN, "ben", is_staff=False))

    async def body():
        cook, other = kitchen_socket(headers), kitchen_socket(other_headers)
        await connect(cook)
        await cook.receive_json_from(timeout=10)
        await connect(other)
        snapshot = await other.receive_json_from(timeout=10)
        steps = []
        for action, status in (("start", "cooking"), ("ready", "ready")):
            await cook.send_json_to({"action": action, "order_number": order.number})
            done = await receive_until(cook, answer)
            seen = await receive_until(other, update_of(order.number, status))
            steps.append((done, seen))
        await cook.disconnect()
        await other.disconnect()
        return snapshot, steps

    snapshot, [(started, cooking), (readied, ready)] = run(body)
    assert started == {"type": "done", "action": "start", "order_number": order.number}
    assert readied == {"type": "done", "action": "ready", "order_number": order.number}
    assert snapshot["version"] < cooking["version"] < ready["version"] == last_log_id(order)
    assert cooking["order"]["processed_by"] == "anna"
    order.refresh_from_db()
    assert order.status == OrderStatus.READY and order.processed_by == "anna" and order.completed_at is not None
    assert logged(order) == [("received", "order-service"), ("cooking", "anna"), ("ready", "anna")]
    assert status_updates(order) == [("received", "cooking", "anna"), ("cooking", "ready", "anna")]


def test_start_sets_the_cook_and_the_estimated_completion_from_the_order_types_cooking_time():
    order = create_order(order_type="delivery", delivery_address="12 Long Street, Springfield")

    [done], _ = answers_to(staff_user(KITCHEN, "anna", is_staff=False), [action("start", order)])

    assert done["type"] == "done"
    order.refresh_from_db()
    started_at = order.status_log.get(status=OrderStatus.COOKING).changed_at
    assert order.status == OrderStatus.COOKING and order.processed_by == "anna"
    assert abs(order.estimated_completion - started_at - cooking_time("delivery")) < timedelta(seconds=1)
    assert started_at <= timezone.now()


def test_an_action_the_order_is_already_past_is_a_done_no_op_and_writes_nothing():
    cooking, ready = create_order(status="cooking"), create_order(status="ready")
    user = staff_user(KITCHEN, "anna", is_staff=False)
    log_rows, outbox_rows = OrderStatusLog.objects.count(), OutboxMessage.objects.count()

    answers, _ = answers_to(user, [action("start", cooking), action("ready", ready)])

    assert answers == [
        {"type": "done", "action": "start", "order_number": cooking.number},
        {"type": "done", "action": "ready", "order_number": ready.number},
    ]
    assert (OrderStatusLog.objects.count(), OutboxMessage.objects.count()) == (log_rows, outbox_rows)
    assert Order.objects.get(pk=cooking.pk).processed_by == "chef_mario"  # still the worker's


@pytest.mark.parametrize(
    ("status", "name"),
    [("received", "ready"), ("ready", "start"), ("completed", "start"), ("cancelled", "ready")],
)
def test_an_action_the_state_machine_refuses_gets_the_json_error_and_changes_nothing(status, name):
    order = create_order(status=status)
    log_rows = OrderStatusLog.objects.count()

    [refused], _ = answers_to(staff_user(KITCHEN, "anna", is_staff=False), [action(name, order)])

    assert refused["type"] == "error" and refused["code"] == "transition_not_allowed"
    assert (refused["action"], refused["order_number"]) == (name, order.number)
    assert refused["errors"]["status"] and status in refused["errors"]["status"][0]
    assert Order.objects.get(pk=order.pk).status == status
    assert OrderStatusLog.objects.count() == log_rows


# --- access, at every action -------------------------------------------------------------------


def remove_from_kitchen(user) -> None:
    user.groups.clear()


def deactivate(user) -> None:
    user.is_active = False
    user.save(update_fields=["is_active"])


@pytest.mark.parametrize("lose_access", [remove_from_kitchen, deactivate], ids=["removed from Kitchen", "deactivated"])
def test_a_user_who_lost_access_after_connecting_is_refused_on_the_next_action(lose_access):
    order = create_order()
    user = staff_user(KITCHEN, "anna", is_staff=False)
    headers = session_headers(user)

    async def body():
        cook = kitchen_socket(headers)
        await connect(cook)
        await cook.receive_json_from(timeout=10)
        await cook.send_json_to({"action": "start", "order_number": order.number})
        allowed = await receive_until(cook, answer)
        await database_sync_to_async(lose_access)(user)
        await cook.send_json_to({"action": "ready", "order_number": order.number})
        refused = await receive_until(cook, answer)
        closed = await cook.receive_output(timeout=5)
        await cook.disconnect()
        return allowed, refused, closed

    allowed, refused, closed = run(body)
    assert allowed["type"] == "done"
    assert refused == {
        "type": "error",
        "action": "ready",
        "order_number": order.number,
        "code": "permission_denied",
        "errors": {"user": ["only Kitchen and Manager staff may act on orders"]},
    }
    assert closed == {"type": "websocket.close", "code": 4403}  # and it no longer receives tickets
    assert Order.objects.get(pk=order.pk).status == OrderStatus.COOKING


def test_a_user_never_in_the_group_cannot_act_even_on_the_socket():
    """Refused at connect (4403) before any action can reach an order."""
    order = create_order()
    headers = session_headers(staff_user(None, "stranger", is_staff=True))

    async def body():
        communicator = kitchen_socket(headers)
        await connect(communicator)
        closed = await communicator.receive_output(timeout=5)
        await communicator.disconnect()
        return closed

    assert run(body) == {"type": "websocket.close", "code": 4403}
    assert Order.objects.get(pk=order.pk).status == OrderStatus.RECEIVED


# --- malformed messages ------------------------------------------------------------------------


def test_malformed_messages_get_the_json_error_and_leave_no_exception_in_the_server_log(caplog):
    order = create_order()
    frames = [
        {"text_data": "[1, 2]"},
        {"text_data": '"start"'},
        {"text_data": "42"},
        {"text_data": "{not json"},
        {"bytes_data": b'{"action": "start"}'},
        action("explode", order),
        {"text_data": json.dumps({"order_number": order.number})},
        {"text_data": json.dumps({"action": "start"})},
        action("start", ""),
        action("start", 7),
        {"text_data": json.dumps({"action": ["start"], "order_number": order.number})},
        action("start", "ORD_19990101_999"),
    ]

    with caplog.at_level(logging.WARNING):
        answers, pong = answers_to(staff_user(KITCHEN, "anna", is_staff=False), frames)

    assert pong == {"type": "pong"}  # still connected, still answering
    assert all(message["type"] == "error" for message in answers)
    assert [message["code"] for message in answers] == ["invalid"] * 11 + ["not_found"]
    assert answers[5]["errors"] == {"action": ["one of start, ready, bump, recall, prepare, unprepare"]}
    assert answers[5]["order_number"] == order.number
    assert answers[6]["action"] is None and set(answers[6]["errors"]) == {"action"}
    assert [set(message["errors"]) for message in answers[7:10]] == [{"order_number"}] * 3
    assert answers[10]["action"] is None  # only a string is echoed back
    assert answers[11]["errors"] == {"order_number": ["no order ORD_19990101_999"]}
    assert [record for record in caplog.records if record.levelno >= logging.ERROR] == []
    assert Order.objects.get(pk=order.pk).status == OrderStatus.RECEIVED


def test_a_cook_whose_username_is_as_long_as_django_allows_can_start_and_finish_an_order():
    order = create_order()
    long_name = "c" * 150  # User.username's max_length; the log's changed_by held only 100

    answers, _ = answers_to(
        staff_user(KITCHEN, long_name, is_staff=False), [action("start", order), action("ready", order)]
    )

    assert [message["type"] for message in answers] == ["done", "done"]
    order.refresh_from_db()
    assert order.status == OrderStatus.READY and order.processed_by == long_name
    assert set(order.status_log.exclude(status=OrderStatus.RECEIVED).values_list("changed_by", flat=True)) == {
        long_name
    }
