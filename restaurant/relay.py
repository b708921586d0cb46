"""The outbox relay (SPEC §5): publishes committed outbox rows to RabbitMQ, oldest first.

One step (`publish_batch`) runs in one transaction that holds a PostgreSQL advisory lock, so two
relays never publish the same rows at once nor interleave an order's messages: the second one
waits as a standby and takes over when the first stops or loses its database session. A batch's
messages are all in flight at once (restaurant/publisher.py); rows are marked published only once
the broker has confirmed them, and only up to the first one it did not (nacked, an order message
that reached no queue, or no confirm before the connection broke or the time ran out): the rest go
again in a later batch, so an order's rows are never marked out of order. A crash between the
confirms and the commit republishes the batch (at-least-once; consumers are idempotent).
"""

import json
import logging
import time
from datetime import timedelta

import pika
import psycopg
from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import F, Q
from django.db.models.functions import Now
from django.utils import timezone
from pika.exceptions import AMQPError, NackError, UnroutableError

from restaurant import broker
from restaurant.consumer import ReconnectingLoop
from restaurant.database import listener_params
from restaurant.lifecycle import StopFlag
from restaurant.logging import request_id_bound, service_logger
from restaurant.models import OutboxMessage
from restaurant.outbox import OPTIONAL
from restaurant.publisher import BrokerTimeout, Confirm, ConfirmingPublisher

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
    confirm_timeout = 30.0  # s a batch may wait for its confirms (the advisory lock is held meanwhile)
    # s to let more rows commit after a batch that was not full: under steady load a batch per
    # commit costs a transaction and a confirm round trip per message; this makes it one per ~10 ms.
    gather_window = 0.01

    def __init__(self, *, stop: StopFlag, batch_size: int = 500, poll_interval: float | None = None) -> None:
        super().__init__(stop=stop)
        self.batch_size = batch_size
        self.poll_interval = settings.OUTBOX_POLL_INTERVAL if poll_interval is None else poll_interval
        self.publisher: ConfirmingPublisher | None = None
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
            else:
                self.gather()
        return published > 0

    def shutdown(self) -> None:
        self.disconnect()
        log.info("graceful_shutdown", "Outbox relay stopped")

    # --- steps ----------------------------------------------------------------------------

    def connect(self) -> None:
        if self.publisher is None or not self.publisher.is_open:
            if self.publisher is not None:
                self.publisher.close()
            self.publisher = ConfirmingPublisher(broker.connection_parameters(client_name="outbox-relay"))
            self.publisher.declare(broker.declare_topology)
            log.info("broker_connected", "Connected to RabbitMQ, topology declared")
        if self.listener is None or self.listener.closed:
            self.listener = psycopg.connect(**listener_params(), autocommit=True)
            self.listener.execute(f"LISTEN {NOTIFY_CHANNEL}")

    def publish_batch(self) -> int:
        """Publish up to `batch_size` pending rows in id order; returns how many were confirmed
        (and marked). A failure is raised once the confirmed rows before it are committed."""
        with transaction.atomic():
            rows = self.lock_and_select()
            if not rows:
                return 0  # nothing pending, or another relay is publishing: stand by
            done, failure = self.publish(rows)
            if isinstance(failure, UnroutableError):
                # An order message must reach a kitchen queue: redeclare (a queue was deleted) and retry once.
                try:
                    self.publisher.declare(broker.declare_topology)
                except (AMQPError, OSError) as exc:
                    failure = exc
                else:
                    more, failure = self.publish(rows[done:])
                    done += more
            if done:
                with connection.cursor() as cursor:
                    cursor.execute(
                        "UPDATE outbox SET published_at = %s WHERE id = ANY(%s)",
                        [timezone.now(), [row.id for row in rows[:done]]],
                    )
            if failure is not None:
                OutboxMessage.objects.filter(id=rows[done].id).update(
                    attempts=F("attempts") + 1, last_error=repr(failure)[:1000]
                )
        # Leaving the block committed what the broker confirmed; now report it, and the failure.
        self.log_published(rows[:done])
        if failure is not None:
            raise failure
        return done

    def lock_and_select(self) -> list[OutboxMessage]:
        """The advisory lock and, only if it was taken, the oldest pending rows: two statements, so
        that the rows are read after the lock. (As one statement, its snapshot was taken before the
        lock: a relay could take the lock just as the other committed its batch, and still see that
        batch pending, and publish it again.)"""
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [RELAY_LOCK_KEY])
            (taken,) = cursor.fetchone()
        if not taken:
            return []
        return list(due_rows().order_by("id")[: self.batch_size])

    def publish(self, rows: list[OutboxMessage]) -> tuple[int, Exception | None]:
        """Publish `rows` all at once; how many of them, from the first, the broker took, and why
        the next one failed (None if none did)."""
        outcomes = self.publisher.publish_all([message(row) for row in rows], timeout=self.confirm_timeout)
        for done, (row, outcome) in enumerate(zip(rows, outcomes, strict=True)):
            if outcome is Confirm.ACKED:
                continue
            optional = row.exchange == broker.NOTIFICATIONS_EXCHANGE or row.headers.get(OPTIONAL)
            if outcome is Confirm.RETURNED and optional:
                # A fanout with no subscriber queue bound, or a message only for whoever listens (an
                # order for later's announcement): nobody is listening, nothing to keep.
                log.debug("notification_unrouted", "No subscriber bound to notifications", details=_ids(row))
                continue
            if outcome is Confirm.RETURNED:
                return done, UnroutableError([row.routing_key])
            if outcome is Confirm.NACKED:
                return done, NackError([row.routing_key])
            return done, self.publisher.error or BrokerTimeout(f"no confirm within {self.confirm_timeout:g}s")
        return len(rows), None

    def log_published(self, rows: list[OutboxMessage]) -> None:
        """An order's trail (SPEC §7) has its `order_published` line at INFO; the status updates,
        two or three an order, at DEBUG: a JSON line costs the relay more CPU than publishing its
        message (and the subscribers log each update they receive)."""
        for row in rows:
            with request_id_bound(row.headers.get("request_id")):
                if row.exchange == broker.ORDERS_EXCHANGE:
                    log.info("order_published", f"Published {row.routing_key}", details=_ids(row))
                elif log.is_enabled_for(logging.DEBUG):
                    log.debug("status_update_published", f"Published {row.exchange}", details=_ids(row))

    def wait_for_work(self) -> None:
        """Sleep until a NOTIFY arrives, the poll interval passes, a held row falls due, or a stop is
        asked for, servicing AMQP heartbeats meanwhile."""
        deadline = time.monotonic() + min(self.poll_interval, self.next_due_in())
        while not self.stop.is_set:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            for _ in self.listener.notifies(timeout=min(remaining, 1.0), stop_after=1):
                return
            self.publisher.service()

    def next_due_in(self) -> float:
        """Seconds until the first held row (an order for later's kitchen message) falls due."""
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT extract(epoch FROM min(not_before) - now()) FROM outbox"
                " WHERE published_at IS NULL AND not_before IS NOT NULL"
            )
            (seconds,) = cursor.fetchone()
        # At least a moment: a standby relay sees rows due that the other one is publishing.
        return self.poll_interval if seconds is None else max(float(seconds), 0.1)

    def gather(self) -> None:
        """Busy, but the last batch was not full: give the writers `gather_window` to commit more
        rows, and drop the NOTIFYs of the rows the next batch will take anyway."""
        self.publisher.service(self.gather_window)
        for _ in self.listener.notifies(timeout=0):
            pass

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
        if self.publisher is not None:
            self.publisher.close()
        for closer in (lambda: self.listener and self.listener.close(), connection.close):
            try:
                closer()
            except Exception:  # already broken: nothing more to release
                pass
        self.publisher = self.listener = None


def due_rows():
    """The rows to publish: not yet published, and not held (`not_before`, by the database's clock)."""
    pending = OutboxMessage.objects.filter(published_at__isnull=True)
    return pending.filter(Q(not_before__isnull=True) | Q(not_before__lte=Now()))


def message(row: OutboxMessage) -> tuple[str, str, bytes, pika.BasicProperties]:
    properties = pika.BasicProperties(
        content_type="application/json",
        delivery_mode=pika.DeliveryMode.Persistent,
        priority=row.priority,
        headers=row.headers or None,
        message_id=f"outbox-{row.id}",
        timestamp=int(row.created_at.timestamp()),
        app_id="restaurant",
    )
    return row.exchange, row.routing_key, row.body.encode(), properties


def _ids(row: OutboxMessage) -> dict:
    details = {"outbox_id": row.id, "exchange": row.exchange, "routing_key": row.routing_key}
    try:
        details["order_number"] = json.loads(row.body).get("order_number")
    except (ValueError, AttributeError):
        pass
    return details
