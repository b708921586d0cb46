"""Kitchen reads: the workers as operators should believe them, who holds an order, and how the
people who move orders are named in public. What the live
screens show (tickets, snapshots, figures) is kitchen/screens.py's; who may use them, restaurant/roles.py's."""

from collections.abc import Iterable

from django.contrib.auth import get_user_model
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


PERSON_WITHOUT_A_FIRST_NAME = "kitchen"


def public_names(names: Iterable[str]) -> dict[str, str]:
    """How each of `names` (an order's `processed_by`, its log's `changed_by`) is shown on a public
    surface: a person (a user's login that is no worker's name) by their first name, or
    `kitchen` when they have none, so a staff login is never public; a kitchen worker and the order
    service by their own names (SPEC §6)."""
    names = {name for name in names if name}
    people = (
        get_user_model()
        .objects.filter(username__in=names)
        .exclude(username__in=Worker.objects.filter(name__in=names).values("name"))
        .values_list("username", "first_name")
    )
    shown = {name: name for name in names}
    shown.update({username: first_name.strip() or PERSON_WITHOUT_A_FIRST_NAME for username, first_name in people})
    return shown
