"""The skeleton of every long-running process that talks to RabbitMQ (STYLE.md §4, healthchecks'
`sendalerts` shape): signal handlers only set a StopFlag; `run` loops over small steps; a lost
connection is closed, waited out with capped back-off and made again; a topology clash is not
retried (an operator must act) and ends the loop with TopologyMismatch.

- `ReconnectingLoop`: that loop alone. The outbox relay (restaurant/relay.py) is one.
- `QueueConsumer`: a loop that consumes queues on one connection. pika's callback only appends
  deliveries to `pending`; `step` hands one to `handle` in the main loop (so the work never runs
  inside a pika callback), or waits briefly for one while serving heartbeats; a stop cancels the
  consumers and requeues what was prefetched but not handled. Subclasses say what to `declare`,
  which `queues()` to consume and how to `handle(delivery)`: the kitchen worker
  (kitchen/worker.py), the notification subscriber (notifications/subscriber.py) and each display
  process's bridge (kitchen/bridge.py). An exception `handle` raises that is not the process's own
  trouble (a lost broker, a topology clash, `process_errors`) is about that one delivery: it goes to
  `handle_failed` (logged, the delivery settled) and the loop goes on; it never ends the process.
"""

from collections import deque
from datetime import UTC, datetime

import pika
from pika.exceptions import AMQPError

from restaurant import broker
from restaurant.broker import Delivery, TopologyMismatch
from restaurant.lifecycle import Backoff, StopFlag, sleep
from restaurant.logging import ServiceLogger, request_id_bound, service_logger


class BrokerLost(Exception):
    """The AMQP connection, the channel or our consumer is gone: reconnect (and redeclare); the
    broker redelivers whatever was not acked."""


def close_quietly(amqp: pika.BlockingConnection | None) -> None:
    """Close a connection that may already be broken: then there is nothing more to release."""
    try:
        if amqp is not None and amqp.is_open:
            amqp.close()
    except (AMQPError, OSError):
        pass


class ReconnectingLoop:
    """`run()`: connect, step, until the stop flag is set; then `shutdown()`. An error of
    `transient_errors` closes everything (`disconnect()`), is logged as `lost_action`, and the loop
    waits the back-off out before connecting again."""

    log: ServiceLogger = service_logger()
    lost_action = "broker_connection_lost"
    lost_message = "RabbitMQ connection lost, reconnecting in {delay:.1f}s"
    transient_errors: tuple[type[Exception], ...] = (BrokerLost, AMQPError, OSError)

    def __init__(self, *, stop: StopFlag) -> None:
        self.stop = stop
        self.backoff = Backoff()

    def run(self) -> int:
        while not self.stop.is_set:
            try:
                self.connect()
                self.step()
                # The one back-off policy: reset once a connection is made and a step went through
                # on it (for a consumer: it consumes), so a broker that takes connections and then
                # fails straight away is still retried ever more slowly.
                self.backoff.reset()
            except TopologyMismatch:
                self.disconnect()
                raise
            except self.transient_errors as exc:
                self.disconnect()
                self.wait_to_reconnect(exc)
        self.shutdown()
        return 0

    def wait_to_reconnect(self, exc: Exception) -> None:
        delay = self.backoff.next_delay()
        self.log.error(
            self.lost_action,
            self.lost_message.format(delay=delay),
            details={**self.log_details(), "retry_in_seconds": round(delay, 2)},
            exc_info=exc,
        )
        sleep(delay, stop=self.stop)

    def log_details(self) -> dict:
        """What every lifecycle line of this process names (a subscriber its name)."""
        return {}

    # --- the hooks ----------------------------------------------------------------------------

    def connect(self) -> None:
        """Make whatever connection is missing; a no-op when all are open."""
        raise NotImplementedError

    def step(self) -> bool:
        """One small piece of work; True when there was work to do."""
        raise NotImplementedError

    def disconnect(self) -> None:
        """Close every connection, quietly: it may be broken already."""
        raise NotImplementedError

    def shutdown(self) -> None:
        self.disconnect()


class QueueConsumer(ReconnectingLoop):
    """Consumes `queues()` on one connection with `basic.qos(prefetch)`; see the module docstring."""

    amqp_heartbeat: int | None = None  # None: the broker's suggestion
    # Errors of the process itself that `handle` lets through to `run` (the worker's TakenOver),
    # besides the transient ones and TopologyMismatch; any other exception is `handle_failed`'s.
    process_errors: tuple[type[Exception], ...] = ()
    global_qos = False  # True: `prefetch` counts across all our queues, not per queue
    dead_letter_action = "message_dead_lettered"  # the log line of `dead_letter`

    def __init__(self, *, stop: StopFlag, prefetch: int) -> None:
        super().__init__(stop=stop)
        self.prefetch = prefetch
        self.amqp: pika.BlockingConnection | None = None
        self.channel = None
        self.pending: deque[Delivery] = deque()
        self.consumer_cancelled = False

    # --- the hooks ----------------------------------------------------------------------------

    @property
    def client_name(self) -> str:
        """The connection's name as RabbitMQ lists it."""
        raise NotImplementedError

    @property
    def label(self) -> str:
        """Who stopped, for the `graceful_shutdown` line."""
        raise NotImplementedError

    def declare(self) -> None:
        """Declare, on the new `self.channel`, what we consume (inside `broker.topology_checked()`,
        so that a clash raises TopologyMismatch)."""
        raise NotImplementedError

    def queues(self) -> list[str]:
        raise NotImplementedError

    def on_connected(self) -> None:
        """Called once consuming on a new connection (log `broker_connected` here)."""

    def handle(self, delivery: Delivery) -> None:
        """Settle one delivery (ack, nack or reject it) on `self.channel`."""
        raise NotImplementedError

    def handle_failed(self, delivery: Delivery, exc: Exception) -> None:
        """`handle` raised `exc` (not one of the errors `run` handles): one ERROR line with the
        stack, and the delivery rejected without requeue (dropped, or dead-lettered where its queue
        says so), as a malformed message is. The kitchen worker retries and dead-letters instead."""
        self.log.error(
            "delivery_failed",
            f"Message dropped: handling it raised {type(exc).__name__}",
            details={**self.log_details(), "message_id": delivery.properties.message_id},
            exc_info=exc,
        )
        if not self.connected:
            raise BrokerLost("connection lost while handling a message")  # the broker redelivers it
        self.channel.basic_reject(delivery.method.delivery_tag, requeue=False)

    def dead_letter(self, delivery: Delivery, reason: str) -> None:
        """Move a message to the dead-letter queue with the reason, then ack it. Published here, not
        through the outbox: it moves a broker message, and must work while the database is down."""
        if not self.connected:
            raise BrokerLost("connection lost before dead-lettering")
        props = delivery.properties
        headers = dict(props.headers or {})
        headers.update(
            {
                "x-dead-letter-reason": reason,
                "x-original-exchange": delivery.method.exchange,
                "x-original-routing-key": delivery.method.routing_key,
                "x-dead-lettered-by": self.dead_lettered_by,
                "x-dead-lettered-at": datetime.now(UTC).isoformat(),
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
        self.log.error(self.dead_letter_action, f"Message dead-lettered: {reason}", details={"reason": reason})

    @property
    def dead_lettered_by(self) -> str:
        """Who a dead letter's `x-dead-lettered-by` names."""
        return self.client_name

    def on_stopped(self) -> None:
        """Called at shutdown once the connection is closed, before `graceful_shutdown` is logged."""

    def tick(self) -> None:
        """Called at every step and between the chunks of every wait, however long a handling
        takes (the kitchen worker's DB heartbeat)."""

    # --- the loop's steps ---------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self.amqp is not None and self.amqp.is_open

    def connect(self) -> None:
        if self.connected:
            return
        self.pending.clear()  # deliveries of a dead channel are redelivered by the broker
        self.consumer_cancelled = False
        self.amqp = broker.connect(heartbeat=self.amqp_heartbeat, client_name=self.client_name)
        self.channel = self.amqp.channel()
        self.declare()
        self.channel.basic_qos(prefetch_count=self.prefetch, global_qos=self.global_qos)
        self.channel.add_on_cancel_callback(self._on_consumer_cancelled)
        for queue in self.queues():
            self.channel.basic_consume(queue, self._on_delivery)
        self.on_connected()

    def _on_delivery(self, channel, method, properties, body) -> None:
        self.pending.append(Delivery(method, properties, body))

    def _on_consumer_cancelled(self, frame) -> None:
        self.consumer_cancelled = True

    def step(self) -> bool:
        """Handle one delivery, or wait briefly for one (serving heartbeats)."""
        self.tick()
        if self.consumer_cancelled:
            raise BrokerLost("the broker cancelled our consumer (was a queue deleted?)")
        if not self.pending:
            self.amqp.process_data_events(time_limit=0.25)
            return False
        delivery = self.pending.popleft()
        # Log lines about a message carry its order's request ID (SPEC §7).
        with request_id_bound((delivery.properties.headers or {}).get("request_id")):
            try:
                self.handle(delivery)
            except (*self.transient_errors, TopologyMismatch, *self.process_errors):
                raise  # the process's own trouble, not the message's: run() handles it
            except Exception as exc:
                # One bad message (or a bug it trips) must not end the process, nor every process
                # that takes it after us: settle it and go on to the next.
                self.handle_failed(delivery, exc)
        return True

    def sleep(self, seconds: float, *, interruptible: bool = True) -> None:
        """Wait, serving this connection's heartbeats and `tick`; a stop ends an interruptible wait."""
        sleep(seconds, stop=self.stop if interruptible else None, amqp=self.amqp, between=self.tick)

    def disconnect(self) -> None:
        close_quietly(self.amqp)
        self.amqp = self.channel = None
        self.pending.clear()

    def shutdown(self) -> None:
        """Stop consuming, hand back what was prefetched but not handled, close."""
        requeued = broker.stop_consuming(self.channel, self.pending) if self.connected else 0
        self.disconnect()
        self.on_stopped()
        self.log.info(
            "graceful_shutdown",
            f"{self.label} stopped",
            details={**self.log_details(), "signal": self.stop.signal_name, "requeued": requeued},
        )
