"""order_create (SPEC §3): totals, priority, the rows it writes, and the order numbers it hands out."""

import json
from datetime import UTC, datetime
from decimal import Decimal
from unittest import mock

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from orders.models import DailyOrderCounter, Order, OrderItem, OrderStatusLog
from orders.services import order_create
from restaurant.models import OutboxMessage
from tests.amqp import ORDER_MESSAGE_KEYS
from tests.factories import order_input

# What the menu's additions to an order message are for a free item: empty.
FREE_ITEM = {"sku": None, "station": None, "modifiers": [], "notes": ""}


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
    order = order_create(data=order_input(*items))

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
    order = order_create(data=order_input(*items))

    order.refresh_from_db()
    assert order.total_amount == total
    assert order.priority == priority
    outbox = OutboxMessage.objects.get()
    assert outbox.priority == priority
    assert outbox.routing_key == f"kitchen.takeout.{priority}"


# --- the rows one order writes ------------------------------------------------------------------


def test_order_create_writes_order_items_received_log_and_one_outbox_message(db):
    order = order_create(data=order_input((2, "12.50"), (1, "3.99"), order_type="dine_in", table_number=7))

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
        "promised_at": order.promised_at.isoformat(),
        "fire_at": None,
    }


def test_delivery_order_message_carries_address_and_no_table(db):
    order_create(data=order_input((6, "10.00"), order_type="delivery", delivery_address="1 Main Street, Springfield"))

    outbox = OutboxMessage.objects.get()
    message = json.loads(outbox.body)
    assert set(message) == ORDER_MESSAGE_KEYS
    assert message["delivery_address"] == "1 Main Street, Springfield"
    assert message["table_number"] is None
    assert outbox.routing_key == "kitchen.delivery.5"


def test_amounts_in_order_message_are_json_numbers(db):
    order_create(data=order_input((3, "0.10")))

    message = json.loads(OutboxMessage.objects.get().body)
    assert type(message["total_amount"]) is float and message["total_amount"] == 0.3
    assert type(message["items"][0]["price"]) is float and message["items"][0]["price"] == 0.1
    assert type(message["items"][0]["quantity"]) is int


def test_status_log_accepts_one_row_per_status_only(db):
    order = order_create(data=order_input())

    OrderStatusLog.objects.create(order=order, status="cooking", changed_by="chef")
    with pytest.raises(IntegrityError), transaction.atomic():
        OrderStatusLog.objects.create(order=order, status="received", changed_by="someone-else")
    assert list(order.status_log.values_list("status", flat=True)) == ["received", "cooking"]


# --- order numbers ----------------------------------------------------------------------------


def test_order_numbers_count_from_001_each_day(db):
    numbers = [order_create(data=order_input()).number for _ in range(3)]

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

    order = order_create(data=order_input())

    assert order.number == f"{today_prefix()}{expected_suffix}"


def test_order_number_uses_utc_date_and_restarts_at_001_after_utc_midnight(db):
    with at(datetime(2031, 3, 14, 23, 59, 59, 999000, tzinfo=UTC)):
        before_midnight = [order_create(data=order_input()).number for _ in range(2)]
    with at(datetime(2031, 3, 15, 0, 0, 0, tzinfo=UTC)):
        after_midnight = [order_create(data=order_input()).number for _ in range(2)]

    assert before_midnight == ["ORD_20310314_001", "ORD_20310314_002"]
    assert after_midnight == ["ORD_20310315_001", "ORD_20310315_002"]
    assert dict(DailyOrderCounter.objects.values_list("day", "last_number")) == {
        datetime(2031, 3, 14).date(): 2,
        datetime(2031, 3, 15).date(): 2,
    }


def test_order_number_date_is_utc_even_when_local_time_zone_is_a_day_ahead(db, settings):
    settings.TIME_ZONE = "Pacific/Kiritimati"  # UTC+14: 20:00 UTC on the 14th is the 15th there
    with at(datetime(2031, 3, 14, 20, 0, tzinfo=UTC)):
        order = order_create(data=order_input())

    assert order.number == "ORD_20310314_001"


def test_rolled_back_order_does_not_consume_a_number(transactional_db):
    with pytest.raises(RuntimeError, match="caller failed"), transaction.atomic():
        order_create(data=order_input())
        raise RuntimeError("caller failed after order_create")

    assert Order.objects.count() == 0
    assert order_create(data=order_input()).number == f"{today_prefix()}001"


def test_order_create_that_fails_midway_does_not_consume_a_number(transactional_db):
    # A total of 0.00 breaks a check constraint: the insert fails after the number was taken.
    with pytest.raises(IntegrityError):
        order_create(data=order_input((1, "0.00")))

    assert Order.objects.count() == 0
    assert OutboxMessage.objects.count() == 0
    assert order_create(data=order_input()).number == f"{today_prefix()}001"
