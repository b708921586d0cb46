"""Order writes (SPEC §3, §4). Every change of an order goes through a function here."""

from datetime import date
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from orders.models import Order, OrderItem, OrderStatus, OrderStatusLog
from orders.validation import OrderInput
from restaurant.broker import ORDERS_EXCHANGE, order_routing_key
from restaurant.logging import service_logger
from restaurant.outbox import outbox_enqueue

log = service_logger("order-service")

ORDER_SERVICE = "order-service"


def format_order_number(day: date, sequence: int) -> str:
    return f"ORD_{day:%Y%m%d}_{sequence:03d}"


def next_order_number(day: date) -> str:
    """The next number of `day`, gap-free: the counter row stays locked until the caller commits,
    and a rolled-back order rolls its number back with it."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO order_daily_counter (day, last_number) VALUES (%s, 1)
            ON CONFLICT (day) DO UPDATE SET last_number = order_daily_counter.last_number + 1
            RETURNING last_number
            """,
            [day],
        )
        (sequence,) = cursor.fetchone()
    return format_order_number(day, sequence)


def order_message(order: Order, items: list[OrderItem]) -> dict[str, Any]:
    """The order message of SPEC §5."""
    return {
        "order_number": order.number,
        "customer_name": order.customer_name,
        "order_type": order.order_type,
        "table_number": order.table_number,
        "delivery_address": order.delivery_address,
        "items": [{"name": item.name, "quantity": item.quantity, "price": item.price} for item in items],
        "total_amount": order.total_amount,
        "priority": order.priority,
    }


@transaction.atomic
def order_create(*, data: OrderInput, changed_by: str = ORDER_SERVICE) -> Order:
    """Write a validated order, its items, its `received` log row and its order message, at once."""
    now = timezone.now()
    order = Order.objects.create(
        number=next_order_number(now.date()),
        customer_name=data.customer_name,
        order_type=data.order_type,
        table_number=data.table_number,
        delivery_address=data.delivery_address,
        total_amount=data.total_amount,
        priority=data.priority,
        status=OrderStatus.RECEIVED,
    )
    items = OrderItem.objects.bulk_create(
        OrderItem(order=order, name=item.name, quantity=item.quantity, price=item.price) for item in data.items
    )
    OrderStatusLog.objects.create(order=order, status=OrderStatus.RECEIVED, changed_by=changed_by)
    outbox_enqueue(
        exchange=ORDERS_EXCHANGE,
        routing_key=order_routing_key(order.order_type, order.priority),
        body=order_message(order, items),
        priority=order.priority,
    )
    details = {"order_number": order.number, "total_amount": order.total_amount, "priority": order.priority}
    transaction.on_commit(lambda: log.info("order_received", f"Order {order.number} received", details=details))
    return order
