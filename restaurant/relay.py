"""The outbox relay (SPEC §5): publishes committed outbox rows to RabbitMQ, oldest first.

One step (`publish_batch`) runs in one transaction that holds a PostgreSQL advisory lock, so two
relays never publish the same rows at once nor interleave an order's messages: the second one
waits as a standby and takes over when the first stops or loses its database session. Rows are
marked published only after the broker has confirmed them; a crash between the confirm and the
commit republishes them (at-least-once; consumers are idempotent).
"""

import json
import time
from datetime import timedelta

import pika
import psycopg
from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.utils import timezone
from pika.exceptions import AMQPError, UnroutableError

from restaurant import broker
from restaurant.consumer import ReconnectingLoop, close_quietly
from restaurant.lifecycle import StopFlag
from restaurant.logging import request_id_bound, service_logger
from restaurant.models import OutboxMessage

log = service_logger("outbox-relay")

# pg_advisory_xact_lock key held while a relay publishes a batch ("outbox" in ASCII).
RELAY_LOCK_KEY = 0x6F7574626F78
NOTIFY_CHANNEL = "outbox"
PURGE_EVERY = timedelta(hours=1)
KEEP_PUBLISHED = timedelta(days=7)


class OutboxRelay(ReconnectingLoop):
    """Not a queue consumer, but the same loop (restaurant/consumer.py): its connections are
    RabbitMQ, the LISTEN connection and Django's, and any of them lost is retried with back-off."""

    log = log
    lost_action = "relay_connection_lost"
    lost_message = "Relay lost a connection, retrying in {delay:.1f}s"
    transient_errors = (AMQPError, DatabaseError, psycopg.Error, OSError)

    def __init__(self, *, stop: StopFlag, batch_size: int = 200, poll_interval: float | None = None) -> None:
        super().__init__(stop=stop)
        self.batch_size = batch_size
        self.poll_interval = settings.OUTBOX_POLL_INTERVAL if poll_interval is None else poll_interval
        self.amqp: pika.BlockingConnection | None = None
        self.channel = None
        self.listener: psycopg.Connection | None = None
        self.last_purge = 0.0

    # --- the loop -------------------------------------------------------------------------

    def run(self) -> int:
        log.info("relay_started", "Outbox relay started", details={"batch_size": self.batch_size})
        return super().run()

    def step(self) -> bool:
        published = self.publish_batch()
        if published < self.batch_size:
            self.purge_old_rows()
            if published == 0:
                self.wait_for_work()
        return published > 0

    def shutdown(self) -> None:
        self.disconnect()
        log.info("graceful_shutdown", "Outbox relay stopped")

    # --- steps ----------------------------------------------------------------------------

    def connect(self) -> None:
        if self.amqp is None or self.amqp.is_closed:
            self.amqp = broker.connect(client_name="outbox-relay")
            self.channel = self.amqp.channel()
            self.channel.confirm_delivery()
            broker.declare_topology(self.channel)
            log.info("broker_connected", "Connected to RabbitMQ, topology declared")
        if self.listener is None or self.listener.closed:
            self.listener = psycopg.connect(**listener_params(), autocommit=True)
            self.listener.execute(f"LISTEN {NOTIFY_CHANNEL}")

    def publish_batch(self) -> int:
        """Publish up to `batch_size` pending rows in id order; returns how many were confirmed."""
        failure: Exception | None = None
        confirmed: list[int] = []
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [RELAY_LOCK_KEY])
                (locked,) = cursor.fetchone()
            if not locked:
                return 0  # another relay is publishing: stand by
            rows = list(OutboxMessage.objects.filter(published_at__isnull=True).order_by("id")[: self.batch_size])
            for row in rows:
                try:
                    self.publish(row)
                except (AMQPError, OSError) as exc:
                    failure = exc
                    break
                confirmed.append(row.id)
            if confirmed:
                OutboxMessage.objects.filter(id__in=confirmed).update(published_at=timezone.now())
            if failure is not None and rows:
                OutboxMessage.objects.filter(id=rows[len(confirmed)].id).update(
                    attempts=rows[len(confirmed)].attempts + 1, last_error=repr(failure)[:1000]
                )
        # Leaving the block committed what the broker confirmed; now report the failure.
        if failure is not None:
            raise failure
        return len(confirmed)

    def publish(self, row: OutboxMessage) -> None:
        with request_id_bound(row.headers.get("request_id")):
            properties = pika.BasicProperties(
                content_type="application/json",
                delivery_mode=pika.DeliveryMode.Persistent,
                priority=row.priority,
                headers=row.headers or None,
                message_id=f"outbox-{row.id}",
                timestamp=int(row.created_at.timestamp()),
                app_id="restaurant",
            )
            body = row.body.encode()
            try:
                self.channel.basic_publish(row.exchange, row.routing_key, body, properties, mandatory=True)
            except UnroutableError:
                if row.exchange == broker.NOTIFICATIONS_EXCHANGE:
                    # A fanout with no subscriber queue bound: nobody is listening, nothing to keep.
                    log.debug("notification_unrouted", "No subscriber bound to notifications", details=_ids(row))
                    return
                # An order message must reach a kitchen queue: redeclare (a queue was deleted) and retry once.
                broker.declare_topology(self.channel)
                self.channel.basic_publish(row.exchange, row.routing_key, body, properties, mandatory=True)
            action = "order_published" if row.exchange == broker.ORDERS_EXCHANGE else "status_update_published"
            log.info(action, f"Published {row.routing_key or row.exchange}", details=_ids(row))

    def wait_for_work(self) -> None:
        """Sleep until a NOTIFY arrives, the poll interval passes, or a stop is asked for,
        servicing AMQP heartbeats meanwhile."""
        deadline = time.monotonic() + self.poll_interval
        while not self.stop.is_set:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            for _ in self.listener.notifies(timeout=min(remaining, 1.0), stop_after=1):
                return
            self.amqp.process_data_events(0)

    def purge_old_rows(self) -> None:
        """Published rows are kept a week for operators, then deleted (checked hourly)."""
        if time.monotonic() - self.last_purge < PURGE_EVERY.total_seconds():
            return
        self.last_purge = time.monotonic()
        cutoff = timezone.now() - KEEP_PUBLISHED
        deleted, _ = OutboxMessage.objects.filter(published_at__lt=cutoff).delete()
        if deleted:
            log.info("outbox_purged", f"Deleted {deleted} published outbox rows", details={"deleted": deleted})

    def disconnect(self) -> None:
        close_quietly(self.amqp)
        for closer in (lambda: self.listener and self.listener.close(), connection.close):
            try:
                closer()
            except Exception:  # already broken: nothing more to release
                pass
        self.amqp = self.channel = self.listener = None


def _ids(row: OutboxMessage) -> dict:
    details = {"outbox_id": row.id, "exchange": row.exchange, "routing_key": row.routing_key}
    try:
        details["order_number"] = json.loads(row.body).get("order_number")
    except (ValueError, AttributeError):
        pass
    return details


def listener_params() -> dict:
    """psycopg.connect() arguments for the LISTEN connection, from Django's DATABASES."""
    db = connection.settings_dict
    params = {
        "dbname": db["NAME"],
        "user": db["USER"],
        "password": db["PASSWORD"],
        "host": db["HOST"],
        "port": db["PORT"],
        "connect_timeout": db["OPTIONS"].get("connect_timeout", 2),
    }
    return {key: value for key, value in params.items() if value not in ("", None)}
