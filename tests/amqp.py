"""Helpers for looking at and acting on this run's RabbitMQ vhost: `rabbitmqctl`, queue depths, probe
queues that see what is published, an order's message published as the relay publishes it, and dead
letters put as the kitchen worker leaves them.

(The TCP proxy that cuts one process off the broker is `tests.support.TcpProxy`, through the
`broker_proxy` fixture of tests/conftest.py.)
"""

import os
import subprocess
from urllib.parse import unquote, urlsplit

import pika

from restaurant import broker
from restaurant.models import OutboxMessage
from tests.support import wait_for

# The fields of the order message of SPEC §5, as a consumer sees them.
ORDER_MESSAGE_KEYS = {
    "order_number",
    "customer_name",
    "order_type",
    "table_number",
    "delivery_address",
    "items",
    "total_amount",
    "priority",
    "notes",  # an addition of the menu (issue 9)
    "promised_at",  # additions of the kitchen's slots (issue 19): when it will be ready,
    "fire_at",  # and, for an order for later, when the kitchen starts it (null: at once)
}

# Bodies nested deeper than the JSON parser's recursion limit (RecursionError, not ValueError):
# poison for any consumer that only expects a ValueError from a body it cannot parse.
NESTED_BODIES = (b"[" * 5000, b'{"a":' * 5000)

__all__ = [
    "NESTED_BODIES",
    "ORDER_MESSAGE_KEYS",
    "bind_probe_queue",
    "connection_pids",
    "get_messages",
    "publish_order_message",
    "put_dead_letter",
    "queue_depth",
    "rabbitmqctl",
    "wait_for_queue_depth",
]


def rabbitmqctl(*args: str, check: bool = True) -> str:
    result = subprocess.run(["rabbitmqctl", *args], capture_output=True, text=True, timeout=60)
    if check and result.returncode != 0:
        raise RuntimeError(f"rabbitmqctl {' '.join(args)} failed: {result.stderr or result.stdout}")
    return result.stdout


def connection_pids(connection_name: str) -> list[str]:
    """The pids RabbitMQ lists for this run's connections named `connection_name` (empty when
    rabbitmqctl fails, as it can on a loaded machine: poll with wait_for). `list_connections`
    lists every vhost's, whatever `-p` says: the vhost column picks this run's."""
    vhost = unquote(urlsplit(os.environ["RABBITMQ_URL"]).path.lstrip("/"))
    output = rabbitmqctl("list_connections", "--silent", "pid", "vhost", "client_properties", check=False)
    rows = [(line.split("\t", 2) + ["", ""])[:3] for line in output.splitlines()]
    return [pid for pid, its_vhost, properties in rows if its_vhost == vhost and f'"{connection_name}"' in properties]


def bind_probe_queue(channel, exchange: str, routing_key: str = "#") -> str:
    """An exclusive queue bound to `exchange`, to see what is published there."""
    queue = channel.queue_declare("", exclusive=True).method.queue
    channel.queue_bind(queue, exchange, routing_key=routing_key)
    return queue


def get_messages(channel, queue: str, count: int, timeout: float = 10.0) -> list[tuple]:
    messages: list[tuple] = []

    def got_all():
        method, properties, body = channel.basic_get(queue, auto_ack=True)
        if method is not None:
            messages.append((method, properties, body))
        return len(messages) >= count

    wait_for(got_all, timeout=timeout, interval=0.02, message=f"{count} messages on {queue}")
    return messages


def queue_depth(channel, queue: str) -> int:
    """Messages ready on `queue` (not counting those delivered and unacknowledged)."""
    return channel.queue_declare(queue, passive=True).method.message_count


def wait_for_queue_depth(channel, queue: str, depth: int, timeout: float = 30) -> None:
    wait_for(lambda: queue_depth(channel, queue) == depth, timeout=timeout, message=f"{depth} messages on {queue}")


def publish_order_message(channel, order, *, routing_key: str | None = None) -> None:
    """The order's message as the relay publishes it: the body and headers of its outbox row."""
    row = OutboxMessage.objects.get(exchange=broker.ORDERS_EXCHANGE, body__contains=order.number)
    properties = pika.BasicProperties(
        delivery_mode=pika.DeliveryMode.Persistent, priority=row.priority, headers=row.headers or None
    )
    channel.basic_publish(row.exchange, routing_key or row.routing_key, row.body.encode(), properties)


def put_dead_letter(
    channel,
    body: bytes,
    *,
    reason: str = "unknown order",
    routing_key: str | None = "kitchen.takeout.1",
    original_exchange: str | None = broker.ORDERS_EXCHANGE,
    message_id: str | None = None,
    priority: int | None = 1,
    request_id: str = "req-dead",
    dead_lettered_at: str | None = "2024-12-16T10:00:00+00:00",
    content_type: str | None = "application/json",
    **extra_headers,
) -> None:
    """A message in `dead_letter_queue` as `KitchenWorker.dead_letter` leaves it. A header (or the
    content type) given as None is left out: `routing_key=None` is a message without an original
    routing key."""
    headers = {
        "request_id": request_id,
        "x-dead-letter-reason": reason,
        "x-original-exchange": original_exchange,
        "x-dead-lettered-by": "chef_past",
        "x-dead-lettered-at": dead_lettered_at,
        "x-original-routing-key": routing_key,
        **extra_headers,
    }
    properties = pika.BasicProperties(
        content_type=content_type,
        delivery_mode=2,
        headers={name: value for name, value in headers.items() if value is not None},
        message_id=message_id,
        priority=priority,
    )
    channel.basic_publish("", broker.DEAD_LETTER_QUEUE, body, properties, mandatory=True)
