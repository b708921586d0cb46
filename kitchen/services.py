"""Kitchen writes (SPEC §4): worker registration and heartbeat, and the two cooking transitions."""

from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from kitchen.models import Worker, WorkerStatus
from orders.models import Order, OrderStatus
from orders.services import apply_transition, lock_order

COOKING_SECONDS = {"dine_in": 8, "takeout": 10, "delivery": 12}


class WorkerAlreadyOnline(Exception):
    def __init__(self, worker: Worker) -> None:
        super().__init__(f"worker {worker.name} is online (last seen {worker.last_seen.isoformat()})")
        self.worker = worker


def cooking_time(order_type: str) -> timedelta:
    return timedelta(seconds=COOKING_SECONDS[order_type] * settings.COOKING_TIME_SCALE)


def worker_is_stale(worker: Worker, now=None) -> bool:
    """Silent for more than twice its own heartbeat interval."""
    now = now or timezone.now()
    return worker.last_seen < now - timedelta(seconds=2 * worker.heartbeat_interval)


@transaction.atomic
def worker_register(
    *, name: str, order_types: tuple[str, ...] | None, heartbeat_interval: int, instance_id: str
) -> Worker:
    """Go online as `name`, taking over a row that is offline or stale; refuse a live one."""
    now = timezone.now()
    values = {
        "type": ",".join(order_types) if order_types else "all",
        "status": WorkerStatus.ONLINE,
        "last_seen": now,
        "heartbeat_interval": heartbeat_interval,
        "instance_id": instance_id,
    }
    worker = Worker.objects.select_for_update().filter(name=name).first()
    if worker is None:
        try:
            with transaction.atomic():
                return Worker.objects.create(name=name, **values)
        except IntegrityError:  # another process registered the name between our read and insert
            worker = Worker.objects.select_for_update().get(name=name)
    if worker.status == WorkerStatus.ONLINE and not worker_is_stale(worker, now):
        raise WorkerAlreadyOnline(worker)
    for field, value in values.items():
        setattr(worker, field, value)
    worker.save(update_fields=list(values))
    return worker


def worker_heartbeat(*, name: str, instance_id: str) -> bool:
    """Refresh `last_seen`; False when another process has taken the name over."""
    return (
        Worker.objects.filter(name=name, instance_id=instance_id).update(
            last_seen=timezone.now(), status=WorkerStatus.ONLINE
        )
        == 1
    )


def worker_go_offline(*, name: str, instance_id: str) -> None:
    Worker.objects.filter(name=name, instance_id=instance_id).update(
        status=WorkerStatus.OFFLINE, last_seen=timezone.now()
    )


@transaction.atomic
def order_start_cooking(*, number: str, worker_name: str) -> tuple[Order, bool]:
    """received → cooking. Returns (order, True) when this call started it; (order, False) when the
    order was already past `received` (a redelivery: the caller looks at `order.status`)."""
    order = lock_order(number)
    if order.status != OrderStatus.RECEIVED:
        return order, False
    apply_transition(
        order,
        to=OrderStatus.COOKING,
        changed_by=worker_name,
        processed_by=worker_name,
        estimated_completion=timezone.now() + cooking_time(order.order_type),
    )
    return order, True


@transaction.atomic
def order_mark_ready(*, number: str, worker_name: str) -> tuple[Order, bool]:
    """cooking → ready, counting the order for the worker. (order, False) when it was not cooking
    any more (another worker finished it, or staff cancelled it)."""
    order = lock_order(number)
    if order.status != OrderStatus.COOKING:
        return order, False
    apply_transition(
        order, to=OrderStatus.READY, changed_by=worker_name, processed_by=worker_name, completed_at=timezone.now()
    )
    Worker.objects.filter(name=worker_name).update(orders_processed=F("orders_processed") + 1)
    return order, True
