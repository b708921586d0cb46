"""Kitchen reads: the workers as operators should believe them, and who holds an order. What the live
screens show (tickets, snapshots, figures) is kitchen/screens.py's; who may use them, restaurant/roles.py's."""

from django.utils import timezone

from kitchen.models import Worker, WorkerStatus
from orders.models import Order, OrderStatus, OrderStatusLog


def order_held_by_person(order: Order) -> str | None:
    """The person (a display user, not a kitchen worker) who started or finished `order`, or None.

    `processed_by` names whoever moved the order last into cooking or ready; a kitchen worker is a
    row of `workers`, so a name that is not one is a person's. An empty `processed_by` is nobody's:
    a worker may take such an order on, as it resumes one a dead worker left cooking."""
    name = order.processed_by
    if not name or Worker.objects.filter(name=name).exists():
        return None
    return name


def order_moved_on(number: str) -> tuple[str, str] | None:
    """`(status, changed_by)` of the order's last move when it is no longer cooking (a person made it
    ready, or cancelled it, while a worker cooked it); None while it cooks. One query."""
    last = (
        OrderStatusLog.objects.filter(order__number=number, superseded=False)
        .order_by("-changed_at", "-id")
        .values_list("status", "changed_by")
        .first()
    )
    return None if last is None or last[0] == OrderStatus.COOKING else last


def worker_list() -> list[dict]:
    """Every worker with the status an operator should believe: one silent for more than twice
    its own heartbeat interval is offline, whatever its row says."""
    now = timezone.now()
    return [
        {
            "worker_name": worker.name,
            "status": WorkerStatus.OFFLINE if worker.is_stale(now) else worker.status,
            "orders_processed": worker.orders_processed,
            "last_seen": worker.last_seen,
        }
        for worker in Worker.objects.order_by("name")
    ]
