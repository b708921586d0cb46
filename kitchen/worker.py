"""The kitchen worker (SPEC §4): cooks orders off the kitchen queues, one at a time.

A QueueConsumer (restaurant/consumer.py: the loop, the reconnections, the drain on stop): this
module says which queues it consumes and how it cooks one delivery. While cooking, the
connection's `sleep` keeps the AMQP heartbeats flowing and `tick` keeps the worker's DB
heartbeat going.
"""

import hashlib
import os
import re
import socket
import time
import uuid
from dataclasses import dataclass
from typing import Any

from django.db import DatabaseError, InterfaceError, OperationalError, connection
from django.utils import timezone
from pika.exceptions import AMQPError

from kitchen import services
from kitchen.selectors import order_held_by_person, order_moved_on
from kitchen.topology import kitchen_queue
from orders.models import OrderType
from orders.services import OrderNotFound, TransitionNotAllowed, order_start_cooking
from restaurant import broker
from restaurant.broker import Delivery, TopologyMismatch
from restaurant.consumer import BrokerLost, QueueConsumer
from restaurant.lifecycle import Backoff, StopFlag
from restaurant.logging import service_logger

log = service_logger("kitchen-worker")

MAX_ATTEMPTS = 5
# While cooking, how often the worker looks whether a person moved its order (made it ready on a
# screen, cancelled it), so that its queue does not wait behind an order that is done.
STATUS_POLL_SECONDS = 1.0
ORDER_NUMBER = re.compile(r"ORD_\d{8}_\d{3,}")


class PoisonMessage(Exception):
    """A message that can never succeed: it goes to the dead-letter queue with this reason."""


class TakenOver(Exception):
    """Another process registered our name after we went silent: stop at once."""


@dataclass
class WorkerConfig:
    name: str
    order_types: tuple[str, ...]
    prefetch: int = 1
    heartbeat_interval: int = 30
    amqp_heartbeat: int = 10
    all_types: bool = True


def parse_order_message(body: bytes) -> dict[str, Any]:
    """The fields the kitchen needs, checked; anything else about the order is in the database."""
    try:
        message = broker.json_object(body)
    except ValueError as exc:
        raise PoisonMessage(str(exc)) from None
    number, order_type = message.get("order_number"), message.get("order_type")
    if not isinstance(number, str) or not ORDER_NUMBER.fullmatch(number):
        raise PoisonMessage(f"invalid order_number: {number!r}")
    if order_type not in OrderType.values:
        raise PoisonMessage(f"invalid order_type: {order_type!r}")
    if not isinstance(message.get("items"), list) or not message["items"]:
        raise PoisonMessage("invalid items")
    return message


class KitchenWorker(QueueConsumer):
    log = log
    global_qos = True  # the prefetch limit is for the whole worker, across its queues
    process_errors = (TakenOver,)
    dead_letter_action = "order_dead_lettered"

    def __init__(self, config: WorkerConfig, *, stop: StopFlag) -> None:
        super().__init__(stop=stop, prefetch=config.prefetch)
        self.config = config
        self.amqp_heartbeat = config.amqp_heartbeat
        self.instance_id = uuid.uuid4().hex
        # Order retries have their own pace: a failing order must not slow the next reconnection.
        self.retry_backoff = Backoff()
        self.failures: dict[str, int] = {}
        self.next_heartbeat = 0.0

    @property
    def dead_lettered_by(self) -> str:
        return self.config.name

    @property
    def client_name(self) -> str:
        return f"kitchen-worker:{self.config.name}"

    @property
    def label(self) -> str:
        return f"Worker {self.config.name}"

    # --- lifecycle --------------------------------------------------------------------------

    def register(self) -> None:
        """Raises WorkerAlreadyOnline when the name is live elsewhere."""
        cfg = self.config
        services.worker_register(
            name=cfg.name,
            order_types=None if cfg.all_types else cfg.order_types,
            heartbeat_interval=cfg.heartbeat_interval,
            instance_id=self.instance_id,
            host=socket.gethostname(),
            pid=os.getpid(),
        )
        self.next_heartbeat = time.monotonic() + cfg.heartbeat_interval
        log.info(
            "worker_registered",
            f"Worker {cfg.name} online",
            details={"worker_name": cfg.name, "order_types": list(cfg.order_types), "prefetch": cfg.prefetch},
        )

    def run(self) -> int:
        try:
            return super().run()
        except TakenOver as exc:
            log.error("worker_taken_over", str(exc), details={"worker_name": self.config.name})
            self.disconnect()  # and not offline: the row is the new owner's
            return 1
        except TopologyMismatch:
            self.shutdown()  # offline: nobody cooks under this name until an operator acts
            raise

    def queues(self) -> list[str]:
        return [kitchen_queue(order_type) for order_type in self.config.order_types]

    def declare(self) -> None:
        self.channel.confirm_delivery()  # for dead-letter publishes
        broker.declare_topology(self.channel)

    def on_connected(self) -> None:
        log.info("broker_connected", "Consuming kitchen queues", details={"queues": self.queues()})

    def on_stopped(self) -> None:
        try:
            services.worker_go_offline(name=self.config.name, instance_id=self.instance_id)
        except DatabaseError as exc:
            log.error("database_unavailable", "Could not mark the worker offline", exc_info=exc)

    def tick(self) -> None:
        """The DB heartbeat, when due."""
        if time.monotonic() < self.next_heartbeat:
            return
        self.next_heartbeat = time.monotonic() + self.config.heartbeat_interval
        try:
            alive = services.worker_heartbeat(name=self.config.name, instance_id=self.instance_id)
        except DatabaseError as exc:
            connection.close()
            log.error("heartbeat_failed", "Heartbeat not recorded: database unavailable", exc_info=exc)
            return
        if not alive:
            raise TakenOver(f"worker {self.config.name} was taken over by another process")
        log.debug("heartbeat_sent", "Heartbeat", details={"worker_name": self.config.name})

    # --- one order ----------------------------------------------------------------------------

    def handle(self, delivery: Delivery) -> None:
        try:
            message = parse_order_message(delivery.body)
        except PoisonMessage as exc:
            self.dead_letter(delivery, str(exc))
            return
        number = message["order_number"]
        if message["order_type"] not in self.config.order_types:
            # Routing should never send us this. Give it back once, for a worker that cooks it; if it
            # comes back, its queue and its body disagree and it would only loop: dead-letter it.
            if delivery.method.redelivered:
                self.dead_letter(delivery, f"{message['order_type']} order in {delivery.method.routing_key} queue")
                return
            log.info("order_not_ours", f"Order {number} is {message['order_type']}: requeued", details=_ids(number))
            self.channel.basic_nack(delivery.method.delivery_tag, requeue=True)
            return
        try:
            self.cook(number)
        except OrderNotFound:
            self.dead_letter(delivery, f"unknown order {number}")
            return
        except (OperationalError, InterfaceError) as exc:
            # The database is down: not the message's fault, so this does not count as an attempt.
            connection.close()
            self.retry_later(delivery, number, exc, counts=False)
            return
        except (TakenOver, BrokerLost, AMQPError, OSError):
            raise  # the worker's own trouble, not the order's: handled by run()
        except Exception as exc:  # a DataError, an IntegrityError, a bug: counts towards dead-lettering
            connection.close()
            self.retry_later(delivery, number, exc, counts=True)
            return
        self.failures.pop(number, None)
        self.retry_backoff.reset()
        self.ack(delivery)

    def handle_failed(self, delivery: Delivery, exc: Exception) -> None:
        """`handle` itself failed (a bug, whatever the message): like an order that failed to cook,
        requeued with back-off and dead-lettered after MAX_ATTEMPTS, and the worker goes on."""
        connection.close()
        self.retry_later(delivery, _failure_key(delivery), exc, counts=True)

    def cook(self, number: str) -> None:
        try:
            order, started = order_start_cooking(number=number, changed_by=self.config.name)
        except TransitionNotAllowed as exc:  # ready, completed or cancelled already: nothing to cook
            self.skip(exc.order, f"Order {number} is already {exc.order.status}")
            return
        # Already cooking: a dead worker's order is resumed, a person's (started on the display) is theirs.
        if not started and order_held_by_person(order):
            self.skip(order, f"Order {number} was started by a person on the display: left to them")
            return
        action = "order_processing_started" if started else "order_processing_resumed"
        log.info(action, f"Cooking order {number}", details={**_ids(number), "order_type": order.order_type})
        remaining = (order.estimated_completion - timezone.now()).total_seconds()
        if moved := self.wait_while_cooking(number, remaining):
            status, changed_by = moved
            log.info(
                "order_moved_by_person",
                f"Order {number} was made {status} by {changed_by} while cooking: going on to the next",
                details={**_ids(number), "status": status, "changed_by": changed_by},
            )
            return
        try:
            order, finished = services.worker_finish_order(number=number, worker_name=self.config.name)
        except TransitionNotAllowed as exc:
            finished, order = False, exc.order
        if finished:
            log.info(
                "order_completed", f"Order {number} is ready", details={**_ids(number), "worker": self.config.name}
            )
        else:
            self.skip(order, f"Order {number} became {order.status} while cooking")

    def wait_while_cooking(self, number: str, seconds: float) -> tuple[str, str] | None:
        """Wait until the order is due, looking every STATUS_POLL_SECONDS whether a person moved it
        meanwhile (returns its new status and who). A stop does not cut the wait short: the order in
        hand is finished."""
        deadline = time.monotonic() + seconds
        while (remaining := deadline - time.monotonic()) > 0:
            self.sleep(min(STATUS_POLL_SECONDS, remaining), interruptible=False)
            try:
                if moved := order_moved_on(number):
                    return moved
            except DatabaseError:
                connection.close()  # the database is down: cook on; finishing the order will tell
        return None

    def skip(self, order, message: str) -> None:
        """Leave the order alone (the caller acks its message); the log says who has it."""
        if order.processed_by:
            message = f"{message} (processed by {order.processed_by})"
        details = {**_ids(order.number), "status": order.status, "processed_by": order.processed_by}
        log.info("order_skipped", message, details=details)

    def ack(self, delivery: Delivery) -> None:
        if not self.connected:
            # The connection dropped while we cooked: the broker redelivers the message, and the
            # redelivery finds the order ready and is acked then.
            raise BrokerLost("connection lost while cooking")
        self.channel.basic_ack(delivery.method.delivery_tag)

    def retry_later(self, delivery: Delivery, number: str, exc: Exception, *, counts: bool) -> None:
        attempts = self.failures.get(number, 0) + (1 if counts else 0)
        self.failures[number] = attempts
        if attempts >= MAX_ATTEMPTS:
            self.failures.pop(number, None)
            self.dead_letter(delivery, f"failed {attempts} times: {type(exc).__name__}: {exc}"[:500])
            return
        delay = self.retry_backoff.next_delay()
        log.error(
            "order_requeued",
            f"Order {number} failed, requeued after {delay:.1f}s",
            details={**_ids(number), "attempts": attempts, "retry_in_seconds": round(delay, 2)},
            exc_info=exc,
        )
        self.sleep(delay)
        if not self.connected:
            raise BrokerLost("connection lost during back-off")
        self.channel.basic_nack(delivery.method.delivery_tag, requeue=True)


def _failure_key(delivery: Delivery) -> str:
    """What a delivery's failed attempts are counted under: its order number, else its message id
    or a hash of its body."""
    try:
        return parse_order_message(delivery.body)["order_number"]
    except Exception:  # whatever made `handle` fail may be in the parse too
        return delivery.properties.message_id or "body-" + hashlib.sha256(delivery.body).hexdigest()[:16]


def _ids(number: str) -> dict[str, str]:
    return {"order_number": number}
