"""Reads for the tracking API (SPEC §6). Nothing here writes."""

from django.db.models import QuerySet
from django.utils import timezone

from kitchen.models import Worker, WorkerStatus
from kitchen.services import worker_is_stale
from orders.models import Order, OrderStatusLog
from orders.services import OrderNotFound


def order_get(*, number: str) -> Order:
    # PostgreSQL text cannot hold NUL: such a number (from a URL's %00) names no order, not a 500.
    order = None if "\x00" in number else Order.objects.filter(number=number).first()
    if order is None:
        raise OrderNotFound(number)
    return order


def order_history(*, number: str) -> QuerySet[OrderStatusLog]:
    order = order_get(number=number)
    return OrderStatusLog.objects.filter(order=order).order_by("changed_at", "id")


def worker_list() -> list[dict]:
    """Every worker with the status an operator should believe: one silent for more than twice
    its own heartbeat interval is offline, whatever its row says."""
    now = timezone.now()
    return [
        {
            "worker_name": worker.name,
            "status": WorkerStatus.OFFLINE if worker_is_stale(worker, now) else worker.status,
            "orders_processed": worker.orders_processed,
            "last_seen": worker.last_seen,
        }
        for worker in Worker.objects.order_by("name")
    ]
