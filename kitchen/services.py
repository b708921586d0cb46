"""Kitchen writes (SPEC §4): worker registration, heartbeat and going offline, and a worker's count of
the orders it made ready. The order's own transitions are orders/services.py's."""

import os

from django.db import IntegrityError, transaction
from django.utils import timezone

from kitchen.models import Worker, WorkerStatus
from orders.services import Increment, StatusChange, order_mark_ready


class WorkerAlreadyOnline(Exception):
    def __init__(self, worker: Worker) -> None:
        super().__init__(f"worker {worker.name} is online (last seen {worker.last_seen.isoformat()})")
        self.worker = worker


@transaction.atomic
def worker_register(
    *,
    name: str,
    order_types: tuple[str, ...] | None,
    heartbeat_interval: int,
    instance_id: str,
    host: str = "",
    pid: int | None = None,
) -> Worker:
    """Go online as `name`, taking over a row that is offline or stale, or whose process ran on our
    `host` and is gone (a crashed worker restarted); refuse a live one."""
    now = timezone.now()
    values = {
        "type": ",".join(order_types) if order_types else "all",
        "status": WorkerStatus.ONLINE,
        "last_seen": now,
        "heartbeat_interval": heartbeat_interval,
        "instance_id": instance_id,
        "host": host,
        "pid": pid,
    }
    worker = Worker.objects.select_for_update().filter(name=name).first()
    if worker is None:
        try:
            with transaction.atomic():
                return Worker.objects.create(name=name, **values)
        except IntegrityError:  # another process registered the name between our read and insert
            worker = Worker.objects.select_for_update().get(name=name)
    if worker.is_live(now) and not (host and worker.host == host and not process_alive(worker.pid)):
        raise WorkerAlreadyOnline(worker)
    for field, value in values.items():
        setattr(worker, field, value)
    worker.save(update_fields=list(values))
    return worker


def process_alive(pid: int | None) -> bool:
    """Whether process `pid` of this host still runs (None: unknown, so taken as alive)."""
    if pid is None:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: it exists
        return True
    return True


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


def worker_finish_order(*, number: str, worker_name: str) -> StatusChange:
    """The order's cooking → ready (orders.services.order_mark_ready), counted for the worker in the
    same statement (or transaction), so `orders_processed` counts each ready order once whatever is
    redelivered: in the usual case one round trip."""
    count = Increment(Worker, "orders_processed", key="name", value=worker_name)
    return order_mark_ready(number=number, changed_by=worker_name, count=count)
