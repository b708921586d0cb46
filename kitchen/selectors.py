"""Kitchen reads: who may use the kitchen display, and the workers as operators should believe them.
What the live screens show (tickets, snapshots, figures) is kitchen/screens.py's."""

from django.contrib.auth import get_user_model
from django.utils import timezone

from kitchen.models import Worker, WorkerStatus
from orders.models import Order
from orders.roles import FRONT_OF_HOUSE, KITCHEN, MANAGER


def is_kitchen_staff(user) -> bool:
    """A superuser, or a member of Kitchen or Manager (a group not created yet has no members)."""
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    return user.is_superuser or user.groups.filter(name__in=[KITCHEN, MANAGER]).exists()


def can_watch_expo(user) -> bool:
    """Kitchen staff, or Front of house (who watch the expo screen without acting on it)."""
    if is_kitchen_staff(user):
        return True
    return bool(user and user.is_authenticated and user.is_active) and user.groups.filter(name=FRONT_OF_HOUSE).exists()


def is_kitchen_staff_now(user) -> bool:
    """`is_kitchen_staff` of the user's row as the database holds it at this moment: a socket opened
    an hour ago must not act on a group, an activation or a superuser flag its user has since lost."""
    if user is None or not user.is_authenticated:
        return False
    return is_kitchen_staff(get_user_model().objects.filter(pk=user.pk).first())


def order_held_by_person(order: Order) -> str | None:
    """The person (a display user, not a kitchen worker) who started or finished `order`, or None.

    `processed_by` names whoever moved the order last into cooking or ready; a kitchen worker is a
    row of `workers`, so a name that is not one is a person's. An empty `processed_by` is nobody's:
    a worker may take such an order on, as it resumes one a dead worker left cooking."""
    name = order.processed_by
    if not name or Worker.objects.filter(name=name).exists():
        return None
    return name


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
