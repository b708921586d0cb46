"""The notification subscriber (SPEC §6): prints one line per status update off `notifications_fanout`.

Every subscriber has a queue of its own bound to the fanout, so two subscribers both see every
update. A named one (`notifications_queue.{name}`) is durable and catches up on what it missed
while down; an anonymous one gets an exclusive, auto-delete queue that is gone when it stops.

A QueueConsumer (restaurant/consumer.py: the loop, the reconnections, which redeclare the queue,
the drain on stop). A body that is not a status update is logged and dead-lettered with its reason.
A delivery is acked only after its line is printed, so a crash prints it again rather than never
(at-least-once).
"""

import re
import uuid
from collections import OrderedDict
from typing import Any, TextIO

from restaurant import broker
from restaurant.broker import Delivery
from restaurant.consumer import QueueConsumer
from restaurant.lifecycle import StopFlag
from restaurant.logging import service_logger

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


def declare_subscriber_queue(channel, name: str | None) -> str:
    """The fanout exchange (as SPEC §5 declares it) and a subscriber's queue bound to it (durable
    when named, else exclusive and auto-delete); returns the queue. Only what a subscriber needs: a
    kitchen queue declared otherwise is no reason to stop notifications."""
    queue = queue_for(name)
    with broker.topology_checked():
        broker.declare_notifications_exchange(channel)
        if name:
            channel.queue_declare(queue, durable=True)
        else:
            channel.queue_declare(queue, exclusive=True, auto_delete=True)
        channel.queue_bind(queue, broker.NOTIFICATIONS_EXCHANGE)
    return queue


class NotificationSubscriber(QueueConsumer):
    log = log
    dead_letter_action = "notification_dead_lettered"

    def __init__(self, *, name: str | None, stop: StopFlag, out: TextIO, prefetch: int = 10) -> None:
        super().__init__(stop=stop, prefetch=prefetch)
        self.name = name
        self.out = out
        self.queue: str | None = None
        self.seen_ids: OrderedDict[str, None] = OrderedDict()

    @property
    def client_name(self) -> str:
        return f"notification-subscriber:{self.name or 'anonymous'}"

    @property
    def label(self) -> str:
        return f"Notification subscriber {self.name or '(anonymous)'}"

    def log_details(self) -> dict:
        return {"subscriber": self.name}

    def declare(self) -> None:
        self.queue = declare_subscriber_queue(self.channel, self.name)
        with broker.topology_checked():
            self.channel.queue_declare(broker.DEAD_LETTER_QUEUE, durable=True)  # where a malformed body goes

    def queues(self) -> list[str]:
        return [self.queue]

    def on_connected(self) -> None:
        log.info(
            "broker_connected",
            f"Consuming {self.queue}",
            details={"subscriber": self.name, "queue": self.queue, "durable": bool(self.name)},
        )

    def handle(self, delivery: Delivery) -> None:
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
            # Not requeued (it would only come back): kept in the dead-letter queue with its reason.
            self.dead_letter(delivery, f"not a status update: {exc}"[:500])
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
