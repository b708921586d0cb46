import argparse

from django.db import InterfaceError, OperationalError, connection

from kitchen.services import WorkerAlreadyOnline
from kitchen.worker import KitchenWorker, WorkerConfig, log
from orders.models import OrderType
from restaurant.commands import LongRunningCommand, positive_int
from restaurant.lifecycle import Backoff, StopFlag, sleep


def order_types(value: str) -> tuple[str, ...]:
    types = tuple(dict.fromkeys(t.strip() for t in value.split(",") if t.strip()))
    unknown = [t for t in types if t not in OrderType.values]
    if not types or unknown:
        raise argparse.ArgumentTypeError(
            f"unknown order type {', '.join(unknown) or value!r}: choose from {', '.join(OrderType.values)}"
        )
    return types


def worker_name(value: str) -> str:
    name = value.strip()
    if not 1 <= len(name) <= 100:
        raise argparse.ArgumentTypeError("must be 1 to 100 characters")
    return name


class Command(LongRunningCommand):
    help = "Cook orders off the kitchen queues (SPEC §4). Stops cleanly on SIGTERM/SIGINT."
    service = "kitchen-worker"

    def add_arguments(self, parser) -> None:
        parser.add_argument("--worker-name", type=worker_name, required=True)
        parser.add_argument("--order-types", type=order_types, default=None, help="comma-separated; all if omitted")
        parser.add_argument("--prefetch", type=positive_int, default=1)
        parser.add_argument("--heartbeat-interval", type=positive_int, default=30, help="seconds between DB heartbeats")
        parser.add_argument(
            "--amqp-heartbeat", type=positive_int, default=10, help="AMQP heartbeat seconds (shorter than a cook)"
        )

    def run(self, stop, *, worker_name, order_types, prefetch, heartbeat_interval, amqp_heartbeat, **options) -> int:
        config = WorkerConfig(
            name=worker_name,
            order_types=order_types or tuple(OrderType.values),
            prefetch=prefetch,
            heartbeat_interval=heartbeat_interval,
            amqp_heartbeat=amqp_heartbeat,
            all_types=order_types is None,
        )
        worker = KitchenWorker(config, stop=stop)
        try:
            if not register(worker, stop):
                return 0
        except WorkerAlreadyOnline as exc:
            log.error("worker_registration_failed", str(exc), details={"worker_name": worker_name})
            return 1
        return worker.run()


def register(worker: KitchenWorker, stop: StopFlag) -> bool:
    """Register, retrying with back-off while the database is down; False if stopped meanwhile."""
    backoff = Backoff()
    while True:
        try:
            worker.register()
            return True
        except (OperationalError, InterfaceError) as exc:
            connection.close()
            delay = backoff.next_delay()
            log.error("database_unavailable", f"Cannot register, retrying in {delay:.1f}s", exc_info=exc)
            sleep(delay, stop=stop)
            if stop.is_set:
                return False
