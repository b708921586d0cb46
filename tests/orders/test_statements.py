"""orders/statements.py: each raw SQL write is one statement and writes what the ORM would write, and
a value spliced into a message from the row is there exactly once."""

import dataclasses
import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from unittest import mock

import pytest
from django.conf import settings
from django.db import transaction

from kitchen.models import Worker
from kitchen.services import worker_finish_order, worker_register
from menu.models import Station
from orders import statements
from orders.capacity import kitchen_clock
from orders.errors import TransitionNotAllowed
from orders.messages import order_message, status_update_message
from orders.models import Order, OrderItem, OrderStatusLog
from orders.services import order_create, order_mark_ready, order_start_cooking
from orders.timing import cooking_time
from orders.validation import ChosenModifier, OrderInput
from restaurant.broker import dumps
from restaurant.models import OutboxMessage
from tests.factories import order_input

# --- the one statement writes what the ORM would ------------------------------------------------


def orm_reference_order_create(data: OrderInput, promised_at=None) -> Order:
    """The ORM writes that order_create's single statement stands for (what it did before it was
    one statement): the columns these rows get are the ones the models describe."""
    with transaction.atomic():
        order = Order.objects.create(
            number="ORD_REFERENCE",
            promised_at=promised_at,
            customer_name=data.customer_name,
            order_type=data.order_type,
            table_number=data.table_number,
            delivery_address=data.delivery_address,
            total_amount=data.total_amount,
            priority=data.priority,
            notes=data.notes,
        )
        for item in data.items:
            OrderItem.objects.create(
                order=order,
                name=item.name,
                quantity=item.quantity,
                price=item.price,
                sku=item.sku,
                station=item.station,
                modifiers=[{"code": m.code, "name": m.name, "price_delta": str(m.price_delta)} for m in item.modifiers],
                notes=item.notes,
            )
        OrderStatusLog.objects.create(order=order, status="received", changed_by="order-service")
    return order


def columns(instance, *, unlike=("id", "order", "number", "created_at", "updated_at", "changed_at")) -> dict:
    return {f.name: getattr(instance, f.attname) for f in instance._meta.concrete_fields if f.name not in unlike}


def test_the_one_statement_writes_every_column_as_the_orm_would(db):
    modifier = ChosenModifier(code="xl", name="Large", price_delta=Decimal("2.50"))
    data = order_input((2, "12.50"), (1, "3.99"), order_type="dine_in", table_number=7, notes="window seat")
    data = dataclasses.replace(
        data,
        items=(
            dataclasses.replace(
                data.items[0], sku="margherita", station="oven", modifiers=(modifier,), notes="no basil"
            ),
            data.items[1],
        ),
    )

    order = order_create(data=data)
    reference = orm_reference_order_create(data, promised_at=order.promised_at)

    written, expected = Order.objects.get(pk=order.pk), Order.objects.get(pk=reference.pk)
    assert columns(written) == columns(expected)
    assert written.created_at <= written.updated_at <= expected.created_at
    assert [columns(i) for i in written.items.order_by("id")] == [columns(i) for i in expected.items.order_by("id")]
    assert [item.pk for item in order.items.order_by("id")] == sorted(item.pk for item in order.items.all())
    assert [columns(r) for r in written.status_log.all()] == [columns(r) for r in expected.status_log.all()]
    [outbox] = OutboxMessage.objects.all()
    assert json.loads(outbox.body)["order_number"] == order.number == written.number
    assert (outbox.headers, outbox.attempts, outbox.last_error, outbox.published_at) == ({}, 0, "", None)


def test_order_create_returns_the_order_with_its_ids_and_items_as_written(db):
    order = order_create(data=order_input((2, "12.50"), (1, "3.99")))

    assert Order.objects.get(pk=order.pk).number == order.number
    assert list(OrderItem.objects.filter(order=order).order_by("id").values_list("name", flat=True)) == [
        "Dish 0",
        "Dish 1",
    ]


def test_an_order_is_written_in_one_statement(db, django_assert_num_queries):
    kitchen_clock()  # read once per process every few seconds (orders/capacity.py), not per order
    with django_assert_num_queries(1):
        order_create(data=order_input((2, "12.50"), (1, "3.99")))


def test_a_status_change_is_one_statement(db, django_assert_num_queries):
    order = order_create(data=order_input())

    # The lock (with the stations' prep time) and the writes of the order, its log row and message.
    with django_assert_num_queries(1):
        order_start_cooking(number=order.number, changed_by="chef")

    order.refresh_from_db()
    assert (order.status, order.processed_by) == ("cooking", "chef")
    assert list(order.status_log.values_list("status", "changed_by")) == [
        ("received", "order-service"),
        ("cooking", "chef"),
    ]
    assert json.loads(OutboxMessage.objects.order_by("id").last().body)["new_status"] == "cooking"


def test_a_workers_ready_is_one_statement_that_counts_the_order_once(db, django_assert_num_queries):
    order = order_create(data=order_input())
    worker_register(name="chef", order_types=None, heartbeat_interval=30, instance_id="i")
    order_start_cooking(number=order.number, changed_by="chef")

    # The lock, the order's columns, its log row, its message and the worker's count.
    with django_assert_num_queries(1):
        ready, changed = worker_finish_order(number=order.number, worker_name="chef")
    again, changed_again = worker_finish_order(number=order.number, worker_name="chef")  # a redelivery

    assert (changed, changed_again) == (True, False) and ready.status == again.status == "ready"
    assert Worker.objects.get(name="chef").orders_processed == 1
    assert OrderStatusLog.objects.filter(order=order, status="ready").count() == 1


def test_a_move_that_is_refused_writes_nothing_of_what_it_would_also_update(db):
    order = order_create(data=order_input())
    worker_register(name="chef", order_types=None, heartbeat_interval=30, instance_id="i")

    with pytest.raises(TransitionNotAllowed):  # received: not cooking yet
        worker_finish_order(number=order.number, worker_name="chef")

    assert Worker.objects.get(name="chef").orders_processed == 0
    assert Order.objects.get(pk=order.pk).status == "received"


@pytest.mark.parametrize("due_microsecond", [123400, 0], ids=["fraction-with-trailing-zeros", "whole-second"])
def test_the_one_statement_status_update_is_the_message_python_writes(db, due_microsecond):
    order = order_create(data=order_input())
    order_start_cooking(number=order.number, changed_by="chef")
    due = datetime(2031, 3, 14, 12, 30, 5, due_microsecond, tzinfo=UTC)
    Order.objects.filter(pk=order.pk).update(estimated_completion=due)

    ready, changed = order_mark_ready(number=order.number, changed_by="chef")

    assert changed and (ready.status, ready.estimated_completion) == ("ready", due)
    at = OrderStatusLog.objects.get(order=order, status="ready").changed_at
    expected = dumps(status_update_message(order=ready, old_status="cooking", changed_by="chef", at=at))
    assert OutboxMessage.objects.order_by("id").last().body == expected


def test_the_one_statement_start_announces_the_due_time_it_wrote(db):
    order = order_create(data=order_input(order_type="delivery"))

    started, changed = order_start_cooking(number=order.number, changed_by="chef")

    cooking = OrderStatusLog.objects.get(order=order, status="cooking")
    assert changed and started.estimated_completion == Order.objects.get(pk=order.pk).estimated_completion
    # A free item's order is due after its type's cooking time (delivery: 12 s, scaled).
    assert started.estimated_completion - cooking.changed_at == cooking_time("delivery")
    expected = dumps(
        status_update_message(order=started, old_status="received", changed_by="chef", at=cooking.changed_at)
    )
    assert OutboxMessage.objects.order_by("id").last().body == expected


# --- the value from the row, spliced in once --------------------------------------------------------


def test_a_message_holding_the_rows_value_twice_is_refused_and_nothing_is_written(db):
    def message_naming_the_number_twice(order, items):
        return {**order_message(order, items), "echo": order.number}

    order = Order(customer_name="Jane Doe", order_type="takeout", total_amount=Decimal("1.00"), priority=False)
    with pytest.raises(ValueError, match="not 2 times"):
        statements.insert_order(
            order,
            [],
            OrderStatusLog(status="received", changed_by="order-service"),
            [OutboxMessage(exchange="orders_topic")],
            message=message_naming_the_number_twice,
            number_prefix="ORD_20310314_",
            day=date(2031, 3, 14),
        )

    assert (Order.objects.count(), OutboxMessage.objects.count()) == (0, 0)


@pytest.mark.parametrize("name", ["(spliced in by the statement)", "from the row", "chef"])
def test_a_worker_named_like_a_marker_gets_the_message_python_writes(db, name):
    order = order_create(data=order_input(order_type="dine_in", table_number=3))

    started, changed = order_start_cooking(number=order.number, changed_by=name)

    cooking = OrderStatusLog.objects.get(order=order, status="cooking")
    expected = status_update_message(order=started, old_status="received", changed_by=name, at=cooking.changed_at)
    assert changed and started.processed_by == name
    assert OutboxMessage.objects.order_by("id").last().body == dumps(expected)


# --- the preparation time: one rule on both paths -----------------------------------------------


@pytest.mark.parametrize(
    ("prep_seconds", "order_type", "expected_seconds"),
    [(540, "takeout", 540), (0, "takeout", None), (None, "delivery", None)],
    ids=["station-prep", "zero-prep-falls-back-to-type", "no-prep-falls-back-to-type"],
)
def test_the_statement_and_the_locking_path_set_the_same_due_time(db, prep_seconds, order_type, expected_seconds):
    Station.objects.create(code="oven", name="Pizza oven", prep_seconds=prep_seconds)
    data = order_input(order_type=order_type, **({"delivery_address": "1 Main St"} if order_type == "delivery" else {}))
    data = dataclasses.replace(data, items=(dataclasses.replace(data.items[0], sku="margherita", station="oven"),))
    at_once, by_lock = order_create(data=data), order_create(data=data)

    order_start_cooking(number=at_once.number, changed_by="chef")
    with mock.patch.object(statements, "move_at_once", return_value=None):  # as if it raced: the locking path
        order_start_cooking(number=by_lock.number, changed_by="chef")

    scaled = timedelta(seconds=(expected_seconds or 0) * settings.COOKING_TIME_SCALE)
    expected = scaled if expected_seconds else cooking_time(order_type)
    due = {}
    for path, order in (("statement", at_once), ("locking", by_lock)):
        order.refresh_from_db()
        due[path] = order.estimated_completion - OrderStatusLog.objects.get(order=order, status="cooking").changed_at
    assert due["statement"] == expected
    # The locking path takes its start time a moment before it writes the log row.
    assert timedelta(0) <= expected - due["locking"] < timedelta(seconds=1)


def test_the_locking_path_counts_a_workers_ready_once(db):
    order = order_create(data=order_input())
    worker_register(name="chef", order_types=None, heartbeat_interval=30, instance_id="i")
    order_start_cooking(number=order.number, changed_by="chef")

    with mock.patch.object(statements, "move_at_once", return_value=None):
        with transaction.atomic():
            ready, changed = worker_finish_order(number=order.number, worker_name="chef")
        again, changed_again = worker_finish_order(number=order.number, worker_name="chef")

    assert (changed, changed_again) == (True, False) and ready.status == "ready"
    assert Worker.objects.get(name="chef").orders_processed == 1
