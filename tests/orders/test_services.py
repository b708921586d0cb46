"""order_create (SPEC §3): totals, priority, the rows it writes, and the order numbers it hands out."""

import dataclasses
import json
from datetime import UTC, datetime
from decimal import Decimal
from unittest import mock

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from kitchen.models import Worker
from kitchen.services import worker_finish_order, worker_register
from orders.errors import TransitionNotAllowed
from orders.models import DailyOrderCounter, Order, OrderItem, OrderStatusLog
from orders.services import cooking_time, order_create, order_mark_ready, order_start_cooking, status_update_message
from orders.validation import ChosenModifier, ItemInput, OrderInput
from restaurant.broker import dumps
from restaurant.models import OutboxMessage
from tests.amqp import ORDER_MESSAGE_KEYS

# What the menu's additions to an order message are for a free item: empty.
FREE_ITEM = {"sku": None, "station": None, "modifiers": [], "notes": ""}


def make_input(*items: tuple[int, str], order_type: str = "takeout", **fields) -> OrderInput:
    """An order of `(quantity, "price")` items, e.g. `make_input((3, "0.10"))`."""
    lines = items or ((1, "15.99"),)
    return OrderInput(
        customer_name=fields.pop("customer_name", "Jane Doe"),
        order_type=order_type,
        items=tuple(
            ItemInput(name=f"Dish {n}", quantity=quantity, price=Decimal(price))
            for n, (quantity, price) in enumerate(lines)
        ),
        **fields,
    )


def today_prefix() -> str:
    return f"ORD_{timezone.now():%Y%m%d}_"


def at(moment: datetime):
    """Make `timezone.now()` (as orders.services sees it) return `moment`."""
    return mock.patch("orders.services.timezone.now", return_value=moment)


# --- totals and priority ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("items", "total"),
    [
        pytest.param([(3, "0.10")], Decimal("0.30"), id="3x0.10=0.30"),
        pytest.param([(1, "0.01")], Decimal("0.01"), id="1x0.01=0.01"),
        pytest.param([(10, "0.07"), (3, "0.01")], Decimal("0.73"), id="10x0.07+3x0.01=0.73"),
        pytest.param([(2, "12.49"), (1, "0.03")], Decimal("25.01"), id="2x12.49+1x0.03=25.01"),
        pytest.param([(10, "999.99")] * 20, Decimal("199998.00"), id="largest-order"),
    ],
)
def test_total_is_exact_decimal_sum_of_price_times_quantity(db, items, total):
    order = order_create(data=make_input(*items))

    order.refresh_from_db()
    assert isinstance(order.total_amount, Decimal)
    assert order.total_amount == total


@pytest.mark.parametrize(
    ("items", "total", "priority"),
    [
        pytest.param([(1, "49.99")], Decimal("49.99"), 1, id="49.99->1"),
        pytest.param([(2, "25.00")], Decimal("50.00"), 5, id="50.00->5"),
        pytest.param([(10, "10.00")], Decimal("100.00"), 5, id="100.00->5"),
        pytest.param([(1, "99.99"), (2, "0.01")], Decimal("100.01"), 10, id="100.01->10"),
    ],
)
def test_priority_follows_total_boundaries(db, items, total, priority):
    order = order_create(data=make_input(*items))

    order.refresh_from_db()
    assert order.total_amount == total
    assert order.priority == priority
    outbox = OutboxMessage.objects.get()
    assert outbox.priority == priority
    assert outbox.routing_key == f"kitchen.takeout.{priority}"


# --- the rows one order writes ------------------------------------------------------------------


def test_order_create_writes_order_items_received_log_and_one_outbox_message(db):
    order = order_create(data=make_input((2, "12.50"), (1, "3.99"), order_type="dine_in", table_number=7))

    order.refresh_from_db()
    assert order.status == "received"
    assert (order.order_type, order.table_number, order.delivery_address) == ("dine_in", 7, None)
    assert [(i.name, i.quantity, i.price) for i in OrderItem.objects.order_by("id")] == [
        ("Dish 0", 2, Decimal("12.50")),
        ("Dish 1", 1, Decimal("3.99")),
    ]
    [log_row] = OrderStatusLog.objects.all()
    assert (log_row.order_id, log_row.status, log_row.changed_by) == (order.id, "received", "order-service")

    [outbox] = OutboxMessage.objects.all()
    assert (outbox.exchange, outbox.routing_key, outbox.priority) == ("orders_topic", "kitchen.dine_in.1", 1)
    assert outbox.published_at is None
    message = json.loads(outbox.body, parse_float=Decimal)
    assert message == {
        "order_number": order.number,
        "customer_name": "Jane Doe",
        "order_type": "dine_in",
        "table_number": 7,
        "delivery_address": None,
        "items": [
            {"name": "Dish 0", "quantity": 2, "price": Decimal("12.50"), **FREE_ITEM},
            {"name": "Dish 1", "quantity": 1, "price": Decimal("3.99"), **FREE_ITEM},
        ],
        "total_amount": Decimal("28.99"),
        "priority": 1,
        "notes": "",
    }


def test_delivery_order_message_carries_address_and_no_table(db):
    order_create(data=make_input((6, "10.00"), order_type="delivery", delivery_address="1 Main Street, Springfield"))

    outbox = OutboxMessage.objects.get()
    message = json.loads(outbox.body)
    assert set(message) == ORDER_MESSAGE_KEYS
    assert message["delivery_address"] == "1 Main Street, Springfield"
    assert message["table_number"] is None
    assert outbox.routing_key == "kitchen.delivery.5"


def test_amounts_in_order_message_are_json_numbers(db):
    order_create(data=make_input((3, "0.10")))

    message = json.loads(OutboxMessage.objects.get().body)
    assert type(message["total_amount"]) is float and message["total_amount"] == 0.3
    assert type(message["items"][0]["price"]) is float and message["items"][0]["price"] == 0.1
    assert type(message["items"][0]["quantity"]) is int


def test_status_log_accepts_one_row_per_status_only(db):
    order = order_create(data=make_input())

    OrderStatusLog.objects.create(order=order, status="cooking", changed_by="chef")
    with pytest.raises(IntegrityError), transaction.atomic():
        OrderStatusLog.objects.create(order=order, status="received", changed_by="someone-else")
    assert list(order.status_log.values_list("status", flat=True)) == ["received", "cooking"]


# --- order numbers ----------------------------------------------------------------------------


def test_order_numbers_count_from_001_each_day(db):
    numbers = [order_create(data=make_input()).number for _ in range(3)]

    prefix = today_prefix()
    assert numbers == [f"{prefix}001", f"{prefix}002", f"{prefix}003"]


@pytest.mark.parametrize(
    ("last_number", "expected_suffix"),
    [
        pytest.param(8, "009", id="009"),
        pytest.param(9, "010", id="010"),
        pytest.param(98, "099", id="099"),
        pytest.param(99, "100", id="100"),
        pytest.param(998, "999", id="999"),
        pytest.param(999, "1000", id="longer-past-999"),
        pytest.param(12344, "12345", id="12345"),
    ],
)
def test_order_number_is_zero_padded_to_three_digits_and_longer_past_999(db, last_number, expected_suffix):
    DailyOrderCounter.objects.create(day=timezone.now().date(), last_number=last_number)

    order = order_create(data=make_input())

    assert order.number == f"{today_prefix()}{expected_suffix}"


def test_order_number_uses_utc_date_and_restarts_at_001_after_utc_midnight(db):
    with at(datetime(2031, 3, 14, 23, 59, 59, 999000, tzinfo=UTC)):
        before_midnight = [order_create(data=make_input()).number for _ in range(2)]
    with at(datetime(2031, 3, 15, 0, 0, 0, tzinfo=UTC)):
        after_midnight = [order_create(data=make_input()).number for _ in range(2)]

    assert before_midnight == ["ORD_20310314_001", "ORD_20310314_002"]
    assert after_midnight == ["ORD_20310315_001", "ORD_20310315_002"]
    assert dict(DailyOrderCounter.objects.values_list("day", "last_number")) == {
        datetime(2031, 3, 14).date(): 2,
        datetime(2031, 3, 15).date(): 2,
    }


def test_order_number_date_is_utc_even_when_local_time_zone_is_a_day_ahead(db, settings):
    settings.TIME_ZONE = "Pacific/Kiritimati"  # UTC+14: 20:00 UTC on the 14th is the 15th there
    with at(datetime(2031, 3, 14, 20, 0, tzinfo=UTC)):
        order = order_create(data=make_input())

    assert order.number == "ORD_20310314_001"


def test_rolled_back_order_does_not_consume_a_number(transactional_db):
    with pytest.raises(RuntimeError, match="caller failed"), transaction.atomic():
        order_create(data=make_input())
        raise RuntimeError("caller failed after order_create")

    assert Order.objects.count() == 0
    assert order_create(data=make_input()).number == f"{today_prefix()}001"


def test_order_create_that_fails_midway_does_not_consume_a_number(transactional_db):
    # A total of 0.00 breaks a check constraint: the insert fails after the number was taken.
    with pytest.raises(IntegrityError):
        order_create(data=make_input((1, "0.00")))

    assert Order.objects.count() == 0
    assert OutboxMessage.objects.count() == 0
    assert order_create(data=make_input()).number == f"{today_prefix()}001"


# --- the one statement writes what the ORM would ------------------------------------------------


def orm_reference_order_create(data: OrderInput) -> Order:
    """The ORM writes that order_create's single statement stands for (what it did before it was
    one statement): the columns these rows get are the ones the models describe."""
    with transaction.atomic():
        order = Order.objects.create(
            number="ORD_REFERENCE",
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
    data = make_input((2, "12.50"), (1, "3.99"), order_type="dine_in", table_number=7, notes="window seat")
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
    reference = orm_reference_order_create(data)

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
    order = order_create(data=make_input((2, "12.50"), (1, "3.99")))

    assert Order.objects.get(pk=order.pk).number == order.number
    assert list(OrderItem.objects.filter(order=order).order_by("id").values_list("name", flat=True)) == [
        "Dish 0",
        "Dish 1",
    ]


def test_an_order_is_written_in_one_statement(db, django_assert_num_queries):
    with django_assert_num_queries(1):
        order_create(data=make_input((2, "12.50"), (1, "3.99")))


def test_a_status_change_is_one_statement(db, django_assert_num_queries):
    order = order_create(data=make_input())

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
    order = order_create(data=make_input())
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
    order = order_create(data=make_input())
    worker_register(name="chef", order_types=None, heartbeat_interval=30, instance_id="i")

    with pytest.raises(TransitionNotAllowed):  # received: not cooking yet
        worker_finish_order(number=order.number, worker_name="chef")

    assert Worker.objects.get(name="chef").orders_processed == 0
    assert Order.objects.get(pk=order.pk).status == "received"


@pytest.mark.parametrize("due_microsecond", [123400, 0], ids=["fraction-with-trailing-zeros", "whole-second"])
def test_the_one_statement_status_update_is_the_message_python_writes(db, due_microsecond):
    order = order_create(data=make_input())
    order_start_cooking(number=order.number, changed_by="chef")
    due = datetime(2031, 3, 14, 12, 30, 5, due_microsecond, tzinfo=UTC)
    Order.objects.filter(pk=order.pk).update(estimated_completion=due)

    ready, changed = order_mark_ready(number=order.number, changed_by="chef")

    assert changed and (ready.status, ready.estimated_completion) == ("ready", due)
    at = OrderStatusLog.objects.get(order=order, status="ready").changed_at
    expected = dumps(status_update_message(order=ready, old_status="cooking", changed_by="chef", at=at))
    assert OutboxMessage.objects.order_by("id").last().body == expected


def test_the_one_statement_start_announces_the_due_time_it_wrote(db):
    order = order_create(data=make_input(order_type="delivery"))

    started, changed = order_start_cooking(number=order.number, changed_by="chef")

    cooking = OrderStatusLog.objects.get(order=order, status="cooking")
    assert changed and started.estimated_completion == Order.objects.get(pk=order.pk).estimated_completion
    # A free item's order is due after its type's cooking time (delivery: 12 s, scaled).
    assert started.estimated_completion - cooking.changed_at == cooking_time("delivery")
    expected = dumps(
        status_update_message(order=started, old_status="received", changed_by="chef", at=cooking.changed_at)
    )
    assert OutboxMessage.objects.order_by("id").last().body == expected
