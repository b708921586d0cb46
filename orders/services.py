"""Order writes (SPEC §3, §4). Every change of an order goes through a function here."""

from datetime import date, timedelta
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from orders.models import Order, OrderItem, OrderStatus, OrderStatusLog
from orders.validation import OrderInput
from restaurant.api import ApplicationError
from restaurant.broker import NOTIFICATIONS_EXCHANGE, ORDERS_EXCHANGE, order_routing_key
from restaurant.logging import service_logger
from restaurant.outbox import outbox_enqueue

# Transitions are logged under the service of the process making them (web, worker, …).
log = service_logger()

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


class OrderNotFound(ApplicationError):
    def __init__(self, number: str) -> None:
        super().__init__(code="not_found", errors={"order_number": [f"no order {number}"]}, status_code=404)


class TransitionNotAllowed(ApplicationError):
    def __init__(self, order: Order, new_status: str) -> None:
        message = f"cannot go from {order.status} to {new_status}"
        super().__init__(code="transition_not_allowed", errors={"status": [message]}, status_code=409)


def status_update_message(*, order: Order, old_status: str, changed_by: str, at) -> dict[str, Any]:
    """The status update of SPEC §5."""
    return {
        "order_number": order.number,
        "old_status": old_status,
        "new_status": order.status,
        "changed_by": changed_by,
        "timestamp": at,
        "estimated_completion": order.estimated_completion,
    }


def lock_order(number: str) -> Order:
    """The order, row-locked until the caller's transaction ends: the compare half of every
    compare-and-set of a status, so a redelivery or a zombie worker can never log a status twice."""
    if not connection.in_atomic_block:
        raise RuntimeError("lock_order must run inside a transaction")
    order = Order.objects.select_for_update().filter(number=number).first()
    if order is None:
        raise OrderNotFound(number)
    return order


def apply_transition(order: Order, *, to: str, changed_by: str, notes: str = "", **fields: Any) -> str:
    """Move a locked order to status `to` (setting `fields` too), with its log row and its status
    update in the outbox, in the caller's transaction. Returns the old status."""
    old_status, now = order.status, timezone.now()
    order.status = to
    for name, value in fields.items():
        setattr(order, name, value)
    order.save(update_fields=["status", "updated_at", *fields])
    OrderStatusLog.objects.create(order=order, status=to, changed_by=changed_by, changed_at=now, notes=notes)
    outbox_enqueue(
        exchange=NOTIFICATIONS_EXCHANGE,
        routing_key="",
        body=status_update_message(order=order, old_status=old_status, changed_by=changed_by, at=now),
    )
    details = {"order_number": order.number, "old_status": old_status, "new_status": to, "changed_by": changed_by}
    message = f"Order {order.number}: {old_status} -> {to} by {changed_by}"
    transaction.on_commit(lambda: log.info("order_status_changed", message, details=details))
    return old_status


def _staff_transition(
    *, number: str, from_statuses: tuple[str, ...], to: str, changed_by: str, notes: str = ""
) -> Order:
    order = lock_order(number)
    if order.status == to:
        return order  # asked twice (a double click): already done
    if order.status not in from_statuses:
        raise TransitionNotAllowed(order, to)
    apply_transition(order, to=to, changed_by=changed_by, notes=notes)
    return order


@transaction.atomic
def order_cancel(*, number: str, changed_by: str, reason: str = "") -> Order:
    """Staff cancel an order that is received or cooking (SPEC §4)."""
    return _staff_transition(
        number=number,
        from_statuses=(OrderStatus.RECEIVED, OrderStatus.COOKING),
        to=OrderStatus.CANCELLED,
        changed_by=changed_by,
        notes=reason,
    )


@transaction.atomic
def order_mark_completed(*, number: str, changed_by: str) -> Order:
    """A ready order is handed over (bumped off the kitchen display, or completed in the admin)."""
    return _staff_transition(
        number=number, from_statuses=(OrderStatus.READY,), to=OrderStatus.COMPLETED, changed_by=changed_by
    )


class RecallExpired(ApplicationError):
    def __init__(self, number: str, within: timedelta) -> None:
        message = f"order {number} was completed more than {int(within.total_seconds() // 60)} minutes ago"
        super().__init__(code="recall_expired", errors={"order_number": [message]}, status_code=409)


@transaction.atomic
def order_recall(*, number: str, changed_by: str, within: timedelta = timedelta(minutes=5)) -> Order:
    """Undo a bump: a completed order goes back to ready, within `within` of its completion.

    Its `ready` and `completed` log rows stay as history, marked superseded, so the new `ready` row
    (and the `completed` of the next bump) keep the one-live-row-per-status constraint.
    """
    order = lock_order(number)
    if order.status == OrderStatus.READY:
        return order  # asked twice (a double click): already done
    if order.status != OrderStatus.COMPLETED:
        raise TransitionNotAllowed(order, OrderStatus.READY)
    live = order.status_log.filter(superseded=False, status__in=[OrderStatus.READY, OrderStatus.COMPLETED])
    completed = live.filter(status=OrderStatus.COMPLETED).first()
    if completed is None or completed.changed_at < timezone.now() - within:
        raise RecallExpired(number, within)
    live.update(superseded=True)
    apply_transition(order, to=OrderStatus.READY, changed_by=changed_by, notes="recalled from completed")
    return order
