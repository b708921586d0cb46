"""The customer notifier (`manage.py run_customer_notifier`, issue 18): tells a guest who left a
phone or an email that their order was received, is ready, or was cancelled.

Its durable queue (`customer_notifications`) is bound to the status updates of
`notifications_fanout` (ready, cancelled) and to the order messages of `orders_topic` (a new order:
received), so a notifier that was down catches up on what it missed. A delivery only writes the
rows to send (notifications/services.py: one per order, event and channel, so a redelivery or a
replay writes nothing twice) and is acked; a thread per channel sends the rows, retrying with capped
back-off apart from the queue, so a failing SMS provider delays neither the queue nor the emails.

The poison-message rule of the consumers holds here: a body that is not a message of ours is
dead-lettered with its reason; a database outage requeues the delivery after a back-off.
"""

import threading

from django.db import DatabaseError, InterfaceError, OperationalError, connection

from notifications.models import Channel, Event
from notifications.services import ensure_templates, notifications_record, notifications_send_due
from orders.messages import held_order_binding_key, order_binding_key
from orders.models import OrderType
from restaurant import broker
from restaurant.broker import Delivery
from restaurant.consumer import BrokerLost, QueueConsumer
from restaurant.lifecycle import Backoff, StopFlag, sleep
from restaurant.logging import service_logger

log = service_logger("customer-notifier")

QUEUE = "customer_notifications"
EVENTS_OF_STATUS = {"ready": Event.READY, "cancelled": Event.CANCELLED}
SEND_EVERY = 1.0  # s between a sender's looks for due rows, when nothing wakes it sooner


class NotAMessage(ValueError):
    """A body that is neither an order message nor a status update."""


def event_of(exchange: str, body: bytes) -> tuple[str, str | None]:
    """The order number a message is about, and the event it is for the guest (None: nothing to tell)."""
    message = broker.json_object(body)  # ValueError for whatever is not a JSON object
    number = message.get("order_number")
    if not isinstance(number, str) or not 0 < len(number) <= 32 or "\x00" in number:
        raise NotAMessage(f"invalid order_number: {str(number)[:40]!r}")
    if exchange == broker.ORDERS_EXCHANGE:
        return number, Event.RECEIVED
    status = message.get("new_status")
    if not isinstance(status, str):
        raise NotAMessage(f"invalid new_status: {str(status)[:40]!r}")
    return number, EVENTS_OF_STATUS.get(status)


class Sender(threading.Thread):
    """Sends the due rows of one channel until the stop flag is set; woken early by `wake`."""

    def __init__(self, channel: str, stop: StopFlag) -> None:
        super().__init__(name=f"customer-notifier-{channel}", daemon=True)
        self.channel, self.stop = channel, stop
        self.wake = threading.Event()
        self.backoff = Backoff()

    def run(self) -> None:
        try:
            while not self.stop.is_set:
                try:
                    busy = notifications_send_due(channel=self.channel)
                    self.backoff.reset()
                except (OperationalError, InterfaceError) as exc:
                    connection.close()
                    delay = self.backoff.next_delay()
                    log.error("database_unavailable", f"Sender waits {delay:.1f}s", exc_info=exc)
                    sleep(delay, stop=self.stop)
                    continue
                except Exception as exc:  # a bug must not end the thread: log it, go on after a pause
                    connection.close()
                    log.error("notification_sender_failed", f"The {self.channel} sender failed", exc_info=exc)
                    sleep(self.backoff.next_delay(), stop=self.stop)
                    continue
                if not busy:
                    self.wake.wait(SEND_EVERY)
                    self.wake.clear()
        finally:
            connection.close()


class CustomerNotifier(QueueConsumer):
    log = log
    dead_letter_action = "notification_dead_lettered"

    def __init__(self, *, stop: StopFlag, prefetch: int = 20) -> None:
        super().__init__(stop=stop, prefetch=prefetch)
        self.senders = [Sender(channel, stop) for channel in Channel.values]
        self.retry_backoff = Backoff()

    @property
    def client_name(self) -> str:
        return "customer-notifier"

    @property
    def label(self) -> str:
        return "Customer notifier"

    def run(self) -> int:
        try:
            ensure_templates()
        except DatabaseError as exc:  # the defaults in code apply meanwhile (notifications_record)
            connection.close()
            log.error("database_unavailable", "Default templates not written", exc_info=exc)
        for sender in self.senders:
            sender.start()
        return super().run()

    def declare(self) -> None:
        with broker.topology_checked():
            broker.declare_topology(self.channel)  # the exchanges and the dead-letter queue
            self.channel.queue_declare(QUEUE, durable=True)
            self.channel.queue_bind(QUEUE, broker.NOTIFICATIONS_EXCHANGE)
            # The order messages of each order type, as the kitchen's queues take them: a message no
            # kitchen queue takes (an unknown type) stays unroutable, as the relay and replay expect.
            for order_type in OrderType.values:
                self.channel.queue_bind(QUEUE, broker.ORDERS_EXCHANGE, routing_key=order_binding_key(order_type))
                # An order for later is received now; its kitchen message comes at its fire time.
                self.channel.queue_bind(QUEUE, broker.ORDERS_EXCHANGE, routing_key=held_order_binding_key(order_type))

    def queues(self) -> list[str]:
        return [QUEUE]

    def on_connected(self) -> None:
        log.info("broker_connected", f"Consuming {QUEUE}", details={"queue": QUEUE})

    def handle(self, delivery: Delivery) -> None:
        try:
            number, event = event_of(delivery.method.exchange, delivery.body)
        except ValueError as exc:
            self.dead_letter(delivery, str(exc)[:500])
            return
        if event is not None:
            try:
                if notifications_record(number=number, event=event):
                    log.info("notification_queued", f"{event} for {number}", details={"order_number": number})
                    for sender in self.senders:
                        sender.wake.set()
            except (OperationalError, InterfaceError) as exc:
                # Not the message's fault: it goes back, after a pause, and counts no attempt.
                connection.close()
                delay = self.retry_backoff.next_delay()
                log.error("database_unavailable", f"Requeued after {delay:.1f}s", exc_info=exc)
                self.sleep(delay)
                if not self.connected:
                    raise BrokerLost("connection lost during back-off") from None
                self.channel.basic_nack(delivery.method.delivery_tag, requeue=True)
                return
            except DatabaseError as exc:  # this message's data cannot be written: it would only loop
                connection.close()
                self.dead_letter(delivery, f"{type(exc).__name__}: {exc}"[:500])
                return
        self.retry_backoff.reset()
        if not self.connected:
            raise BrokerLost("connection lost while handling a message")
        self.channel.basic_ack(delivery.method.delivery_tag)

    def handle_failed(self, delivery: Delivery, exc: Exception) -> None:
        """A bug tripped by this delivery: logged with its stack and dead-lettered, and the notifier goes on."""
        connection.close()
        log.error("delivery_failed", f"Handling raised {type(exc).__name__}", exc_info=exc)
        self.dead_letter(delivery, f"handling raised {type(exc).__name__}"[:500])

    def on_stopped(self) -> None:
        for sender in self.senders:
            sender.wake.set()
            sender.join(timeout=30)
