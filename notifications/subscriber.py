"""The notification subscriber (SPEC §6): prints one line per status update off `notifications_fanout`.

Every subscriber has a queue of its own bound to the fanout, so two subscribers both see every
update. A named one (`notifications_queue.{name}`) is durable and catches up on what it missed
while down; an anonymous one gets an exclusive, auto-delete queue that is gone when it stops.

Shape (as the kitchen worker): signal handlers only set a flag; `run` loops over small steps;
pika's callback only appends deliveries to a local queue, handled by the loop; the connection is
re-made (and the queue redeclared) with capped back-off. A delivery is acked only after its line
is printed, so a crash prints it again rather than never (at-least-once).
"""

import re
import uuid
from collections import OrderedDict, deque
from typing import Any, TextIO

import pika
from pika.exceptions import AMQPError

from restaurant import broker
from restaurant.broker import Delivery, TopologyMismatch
from restaurant.lifecycle import Backoff, StopFlag, sleep_unless_stopped
from restaurant.logging import request_id_bound, service_logger

log = service_logger("notification-subscriber")

QUEUE_PREFIX = "notifications_queue."
SUBSCRIBER_NAME = re.compile(r"[A-Za-z0-9_.-]{1,100}")
PRINTED_FIELDS = ("order_number", "old_status", "new_status", "changed_by")
# Control characters (a newline above all) would break "one line per update".
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# Message ids remembered to drop a relay's duplicate (SPEC §5: at-least-once) within one run.
REMEMBERED_IDS = 10_000


class MalformedMessage(Exception):
    """A message that is not a status update: logged and dropped, never requeued."""


class BrokerLost(Exception):
    """The connection, the channel or our consumer is gone: reconnect and redeclare."""


def parse_status_update(body: bytes) -> dict[str, Any]:
    """The status update of SPEC §5, with the fields the printed line needs checked."""
    try:
        message = broker.json_object(body)
    except ValueError as exc:
        raise MalformedMessage(str(exc)) from None
    for field in PRINTED_FIELDS:
        value = message.get(field)
        if not isinstance(value, str) or not value.strip():
            raise MalformedMessage(f"invalid {field}: {value!r}")
        if CONTROL_CHARACTERS.search(value):
            raise MalformedMessage(f"{field} holds control characters: {value!r}")
    return message


def notification_line(update: dict[str, Any]) -> str:
    return (
        f"Notification for order {update['order_number']}: Status changed from "
        f"'{update['old_status']}' to '{update['new_status']}' by {update['changed_by']}."
    )


def queue_for(name: str | None) -> str:
    """A named subscriber's queue; an anonymous one gets a fresh name on every connection (the
    previous connection's exclusive queue may not be deleted yet when we redeclare)."""
    return f"{QUEUE_PREFIX}{name}" if name else f"{QUEUE_PREFIX}anonymous-{uuid.uuid4().hex[:12]}"


class NotificationSubscriber:
    def __init__(self, *, name: str | None, stop: StopFlag, out: TextIO, prefetch: int = 10) -> None:
        self.name = name
        self.stop = stop
        self.out = out
        self.prefetch = prefetch
        self.backoff = Backoff()
        self.amqp: pika.BlockingConnection | None = None
        self.channel = None
        self.queue: str | None = None
        self.pending: deque[Delivery] = deque()
        self.consumer_cancelled = False
        self.seen_ids: OrderedDict[str, None] = OrderedDict()

    @property
    def client_name(self) -> str:
        return f"notification-subscriber:{self.name or 'anonymous'}"

    # --- the loop -------------------------------------------------------------------------

    def run(self) -> int:
        while not self.stop.is_set:
            try:
                self.connect()
                self.step()
            except TopologyMismatch:
                raise
            except (BrokerLost, AMQPError, OSError) as exc:
                self.disconnect()
                delay = self.backoff.next_delay()
                log.error(
                    "broker_connection_lost",
                    f"RabbitMQ connection lost, reconnecting in {delay:.1f}s",
                    details={"subscriber": self.name, "retry_in_seconds": round(delay, 2)},
                    exc_info=exc,
                )
                sleep_unless_stopped(self.stop, delay)
        self.shutdown()
        return 0

    # --- steps ----------------------------------------------------------------------------

    def connect(self) -> None:
        if self.amqp is not None and self.amqp.is_open:
            return
        self.pending.clear()  # deliveries of a dead channel are redelivered by the broker
        self.consumer_cancelled = False
        self.amqp = broker.connect(client_name=self.client_name)
        self.channel = self.amqp.channel()
        self.queue = queue_for(self.name)
        self.declare()
        self.channel.basic_qos(prefetch_count=self.prefetch)
        self.channel.add_on_cancel_callback(self._on_consumer_cancelled)
        self.channel.basic_consume(self.queue, self._on_delivery)
        self.backoff.reset()
        log.info(
            "broker_connected",
            f"Consuming {self.queue}",
            details={"subscriber": self.name, "queue": self.queue, "durable": bool(self.name)},
        )

    def declare(self) -> None:
        """The fanout exchange (as SPEC §5 declares it) and our queue bound to it. Only what a
        subscriber needs: a kitchen queue declared otherwise is no reason to stop notifications."""
        with broker.topology_checked():
            broker.declare_notifications_exchange(self.channel)
            if self.name:
                self.channel.queue_declare(self.queue, durable=True)
            else:
                self.channel.queue_declare(self.queue, exclusive=True, auto_delete=True)
            self.channel.queue_bind(self.queue, broker.NOTIFICATIONS_EXCHANGE)

    def _on_delivery(self, channel, method, properties, body) -> None:
        self.pending.append(Delivery(method, properties, body))

    def _on_consumer_cancelled(self, frame) -> None:
        self.consumer_cancelled = True

    def step(self) -> None:
        """Handle one delivery, or wait briefly for one (servicing heartbeats)."""
        if self.consumer_cancelled:
            raise BrokerLost("the broker cancelled our consumer (was our queue deleted?)")
        if self.pending:
            self.handle(self.pending.popleft())
        else:
            self.amqp.process_data_events(time_limit=0.25)

    def handle(self, delivery: Delivery) -> None:
        with request_id_bound((delivery.properties.headers or {}).get("request_id")):
            self._handle(delivery)

    def _handle(self, delivery: Delivery) -> None:
        message_id = delivery.properties.message_id
        try:
            update = parse_status_update(delivery.body)
        except MalformedMessage as exc:
            log.error(
                "notification_malformed",
                f"Dropped a message that is not a status update: {exc}",
                details={
                    "reason": str(exc),
                    "message_id": message_id,
                    "body": delivery.body[:500].decode(errors="replace"),
                },
            )
            # No requeue: it would only come back, and this queue has nowhere better to send it.
            self.channel.basic_reject(delivery.method.delivery_tag, requeue=False)
            return
        details = {field: update[field] for field in PRINTED_FIELDS}
        if message_id and message_id in self.seen_ids:
            log.debug("notification_duplicate", f"Duplicate of {message_id} ignored", details=details)
        else:
            self.out.write(notification_line(update) + "\n")
            self.out.flush()
            log.info(
                "notification_received",
                f"Order {update['order_number']}: {update['old_status']} -> {update['new_status']}",
                details=details,
            )
            if message_id:
                self.remember(message_id)
        self.channel.basic_ack(delivery.method.delivery_tag)

    def remember(self, message_id: str) -> None:
        self.seen_ids[message_id] = None
        if len(self.seen_ids) > REMEMBERED_IDS:
            self.seen_ids.popitem(last=False)

    # --- stopping -------------------------------------------------------------------------

    def shutdown(self) -> None:
        """Stop consuming and hand back what was prefetched but not printed."""
        requeued = 0
        if self.amqp is not None and self.amqp.is_open:
            requeued = broker.stop_consuming(self.channel, self.pending)
        self.disconnect()
        log.info(
            "graceful_shutdown",
            f"Notification subscriber {self.name or '(anonymous)'} stopped",
            details={"subscriber": self.name, "signal": self.stop.signal_name, "requeued": requeued},
        )

    def disconnect(self) -> None:
        if self.amqp is not None:
            try:
                if self.amqp.is_open:
                    self.amqp.close()
            except (AMQPError, OSError):
                pass
        self.amqp = self.channel = None
        self.pending.clear()
