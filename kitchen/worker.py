"""The kitchen worker (SPEC §4): cooks orders off the kitchen queues, one at a time.

Shape (as healthchecks' sendalerts): signal handlers only set a flag; `run` loops over small
steps; connections are re-made with capped back-off. Deliveries are only appended to a local
queue by pika's callback and cooked by the main loop, so cooking never runs inside a pika
callback. While cooking, `connection.sleep` keeps the AMQP heartbeats flowing and the loop
keeps the worker's DB heartbeat going.
"""

import re
import time
import uuid
from collections import deque
from dataclasses import dataclass
from typing import Any

import pika
from django.db import DatabaseError, InterfaceError, OperationalError, connection
from django.utils import timezone
from pika.exceptions import AMQPError

from kitchen import services
from orders.models import OrderType
from orders.services import OrderNotFound, TransitionNotAllowed, order_start_cooking
from restaurant import broker
from restaurant.broker import Delivery, TopologyMismatch
from restaurant.lifecycle import Backoff, StopFlag
from restaurant.logging import request_id_bound, service_logger

log = service_logger("kitchen-worker")

MAX_ATTEMPTS = 5
ORDER_NUMBER = re.compile(r"ORD_\d{8}_\d{3,}")


class PoisonMessage(Exception):
    """A message that can never succeed: it goes to the dead-letter queue with this reason."""


class BrokerLost(Exception):
    """The AMQP connection or our consumer is gone; reconnect (unacked messages are redelivered)."""


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


class KitchenWorker:
    def __init__(self, config: WorkerConfig, *, stop: StopFlag) -> None:
        self.config = config
        self.stop = stop
        self.instance_id = uuid.uuid4().hex
        self.backoff = Backoff()
        self.amqp: pika.BlockingConnection | None = None
        self.channel = None
        self.pending: deque[Delivery] = deque()
        self.consumer_cancelled = False
        self.failures: dict[str, int] = {}
        self.next_heartbeat = 0.0

    # --- lifecycle --------------------------------------------------------------------------

    def register(self) -> None:
        """Raises WorkerAlreadyOnline when the name is live elsewhere."""
        cfg = self.config
        services.worker_register(
            name=cfg.name,
            order_types=None if cfg.all_types else cfg.order_types,
            heartbeat_interval=cfg.heartbeat_interval,
            instance_id=self.instance_id,
        )
        self.next_heartbeat = time.monotonic() + cfg.heartbeat_interval
        log.info(
            "worker_registered",
            f"Worker {cfg.name} online",
            details={"worker_name": cfg.name, "order_types": list(cfg.order_types), "prefetch": cfg.prefetch},
        )

    def run(self) -> int:
        while not self.stop.is_set:
            try:
                self.connect()
                self.step()
            except TopologyMismatch:
                raise
            except TakenOver as exc:
                log.error("worker_taken_over", str(exc), details={"worker_name": self.config.name})
                self.disconnect()
                return 1
            except (BrokerLost, AMQPError, OSError) as exc:
                self.disconnect()
                delay = self.backoff.next_delay()
                log.error(
                    "broker_connection_lost",
                    f"RabbitMQ connection lost, reconnecting in {delay:.1f}s",
                    details={"retry_in_seconds": round(delay, 2)},
                    exc_info=exc,
                )
                self.idle(delay, interruptible=True)
        self.shutdown()
        return 0

    def connect(self) -> None:
        if self.amqp is not None and self.amqp.is_open:
            return
        cfg = self.config
        self.pending.clear()  # deliveries of a dead channel are redelivered by the broker
        self.consumer_cancelled = False
        self.amqp = broker.connect(heartbeat=cfg.amqp_heartbeat, client_name=f"kitchen-worker:{cfg.name}")
        self.channel = self.amqp.channel()
        self.channel.confirm_delivery()  # for dead-letter publishes
        broker.declare_topology(self.channel)
        # global_qos: the prefetch limit is for the whole worker, across its queues.
        self.channel.basic_qos(prefetch_count=cfg.prefetch, global_qos=True)
        self.channel.add_on_cancel_callback(self._on_consumer_cancelled)
        for order_type in cfg.order_types:
            self.channel.basic_consume(broker.kitchen_queue(order_type), self._on_delivery)
        log.info(
            "broker_connected",
            "Consuming kitchen queues",
            details={"queues": [broker.kitchen_queue(t) for t in cfg.order_types]},
        )

    def _on_delivery(self, channel, method, properties, body) -> None:
        self.pending.append(Delivery(method, properties, body))

    def _on_consumer_cancelled(self, frame) -> None:
        self.consumer_cancelled = True

    def step(self) -> None:
        """Handle one delivery, or wait briefly for one."""
        self.heartbeat_if_due()
        if self.consumer_cancelled:
            raise BrokerLost("the broker cancelled our consumer (was a queue deleted?)")
        if self.pending:
            self.handle(self.pending.popleft())
        else:
            self.amqp.process_data_events(time_limit=0.25)

    def shutdown(self) -> None:
        """Stop consuming, hand back what was prefetched, go offline."""
        requeued = 0
        if self.amqp is not None and self.amqp.is_open:
            requeued = broker.stop_consuming(self.channel, self.pending)
        self.disconnect()
        try:
            services.worker_go_offline(name=self.config.name, instance_id=self.instance_id)
        except DatabaseError as exc:
            log.error("database_unavailable", "Could not mark the worker offline", exc_info=exc)
        log.info(
            "graceful_shutdown",
            f"Worker {self.config.name} stopped",
            details={"signal": self.stop.signal_name, "requeued": requeued},
        )

    def disconnect(self) -> None:
        if self.amqp is not None:
            try:
                if self.amqp.is_open:
                    self.amqp.close()
            except AMQPError:
                pass
        self.amqp = self.channel = None
        self.pending.clear()

    # --- waiting and heartbeats -------------------------------------------------------------

    def idle(self, seconds: float, *, interruptible: bool = False) -> None:
        """Wait, servicing AMQP heartbeats (when connected) and the DB heartbeat."""
        deadline = time.monotonic() + seconds
        while (remaining := deadline - time.monotonic()) > 0:
            if interruptible and self.stop.is_set:
                return
            chunk = min(remaining, 0.25)
            if self.amqp is not None and self.amqp.is_open:
                try:
                    self.amqp.sleep(chunk)
                except (AMQPError, OSError):
                    self.amqp = self.channel = None  # noticed again, and handled, after the cook
            else:
                time.sleep(chunk)
            self.heartbeat_if_due()

    def heartbeat_if_due(self) -> None:
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
        with request_id_bound((delivery.properties.headers or {}).get("request_id")):
            self._handle(delivery)

    def _handle(self, delivery: Delivery) -> None:
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
        self.backoff.reset()
        self.ack(delivery)

    def cook(self, number: str) -> None:
        try:
            order, started = order_start_cooking(number=number, changed_by=self.config.name)
        except TransitionNotAllowed as exc:  # ready, completed or cancelled already: nothing to cook
            log.info("order_skipped", f"Order {number} is already {exc.order.status}", details=_ids(number))
            return
        action = "order_processing_started" if started else "order_processing_resumed"
        log.info(action, f"Cooking order {number}", details={**_ids(number), "order_type": order.order_type})
        remaining = (order.estimated_completion - timezone.now()).total_seconds()
        self.idle(max(0.0, remaining))
        try:
            order, finished = services.worker_finish_order(number=number, worker_name=self.config.name)
        except TransitionNotAllowed as exc:
            finished, order = False, exc.order
        if finished:
            log.info(
                "order_completed", f"Order {number} is ready", details={**_ids(number), "worker": self.config.name}
            )
        else:
            log.info("order_skipped", f"Order {number} became {order.status} while cooking", details=_ids(number))

    def ack(self, delivery: Delivery) -> None:
        if self.channel is None:
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
        delay = self.backoff.next_delay()
        log.error(
            "order_requeued",
            f"Order {number} failed, requeued after {delay:.1f}s",
            details={**_ids(number), "attempts": attempts, "retry_in_seconds": round(delay, 2)},
            exc_info=exc,
        )
        self.idle(delay, interruptible=True)
        if self.channel is None:
            raise BrokerLost("connection lost during back-off")
        self.channel.basic_nack(delivery.method.delivery_tag, requeue=True)

    def dead_letter(self, delivery: Delivery, reason: str) -> None:
        """Move a message to the dead-letter queue with the reason, then ack it. Published here, not
        through the outbox: it moves a broker message, and must work while the database is down."""
        if self.channel is None:
            raise BrokerLost("connection lost before dead-lettering")
        props = delivery.properties
        headers = dict(props.headers or {})
        headers.update(
            {
                "x-dead-letter-reason": reason,
                "x-original-exchange": delivery.method.exchange,
                "x-original-routing-key": delivery.method.routing_key,
                "x-dead-lettered-by": self.config.name,
                "x-dead-lettered-at": timezone.now().isoformat(),
            }
        )
        self.channel.basic_publish(
            "",
            broker.DEAD_LETTER_QUEUE,
            delivery.body,
            pika.BasicProperties(
                content_type=props.content_type,
                delivery_mode=pika.DeliveryMode.Persistent,
                headers=headers,
                message_id=props.message_id,
                priority=props.priority,
            ),
            mandatory=True,
        )
        self.channel.basic_ack(delivery.method.delivery_tag)
        log.error("order_dead_lettered", f"Message dead-lettered: {reason}", details={"reason": reason})


def _ids(number: str) -> dict[str, str]:
    return {"order_number": number}
