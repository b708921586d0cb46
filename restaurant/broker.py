"""RabbitMQ: the exchanges of SPEC §5, how to connect (pika, one connection per thread) and how to
read and write a message. The apps' queues are theirs (the kitchen's: kitchen/topology.py), named
to `declare_topology` by the `BROKER_TOPOLOGY` setting."""

import json
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pika
from django.conf import settings
from django.utils.module_loading import import_string
from pika.exceptions import AMQPError, ChannelClosedByBroker

from restaurant.logging import json_value

ORDERS_EXCHANGE = "orders_topic"
NOTIFICATIONS_EXCHANGE = "notifications_fanout"
DEAD_LETTER_QUEUE = "dead_letter_queue"


def connection_parameters(
    *, heartbeat: int | None = None, url: str | None = None, client_name: str | None = None
) -> pika.URLParameters:
    params = pika.URLParameters(url or settings.RABBITMQ_URL)
    params.connection_attempts = 1
    params.socket_timeout = 5
    params.blocked_connection_timeout = 30
    if heartbeat is not None:
        params.heartbeat = heartbeat
    if client_name is not None:
        params.client_properties = {"connection_name": client_name}
    return params


def connect(*, heartbeat: int | None = None, client_name: str = "restaurant") -> pika.BlockingConnection:
    return pika.BlockingConnection(connection_parameters(heartbeat=heartbeat, client_name=client_name))


@dataclass
class Delivery:
    """A message a consumer's callback received, kept until the main loop handles it."""

    method: Any
    properties: Any
    body: bytes


class TopologyMismatch(Exception):
    """The broker holds a queue or exchange declared with other arguments: an operator must act."""


@contextmanager
def topology_checked():
    """Turn the broker's PRECONDITION_FAILED (a queue or exchange declared elsewhere with other
    arguments) into TopologyMismatch, which our commands report and exit 1 on."""
    try:
        yield
    except ChannelClosedByBroker as exc:
        if exc.reply_code == 406:
            raise TopologyMismatch(exc.reply_text) from exc
        raise


def declare_notifications_exchange(channel) -> None:
    channel.exchange_declare(NOTIFICATIONS_EXCHANGE, exchange_type="fanout", durable=True)


def declare_topology(channel) -> None:
    """Declare every exchange and queue of SPEC §5, so no message is unroutable for lack of a queue:
    the exchanges and the dead-letter queue, then the apps' queues (each `BROKER_TOPOLOGY` function).

    Arguments that clash with an existing queue or exchange raise TopologyMismatch.
    """
    with topology_checked():
        channel.exchange_declare(ORDERS_EXCHANGE, exchange_type="topic", durable=True)
        declare_notifications_exchange(channel)
        channel.queue_declare(DEAD_LETTER_QUEUE, durable=True)
        for path in settings.BROKER_TOPOLOGY:
            import_string(path)(channel)


def stop_consuming(channel, pending) -> int:
    """Cancel the channel's consumers and requeue the deliveries in `pending` (a deque of objects
    with `.method`) that were prefetched but not handled; returns how many went back. If the
    channel is already broken, the broker requeues whatever it held when the channel closes."""
    requeued = 0
    try:
        for tag in list(channel.consumer_tags):
            channel.basic_cancel(tag)
        while pending:
            channel.basic_nack(pending.popleft().method.delivery_tag, requeue=True)
            requeued += 1
    except AMQPError:
        pass
    return requeued


def json_object(body: bytes) -> dict[str, Any]:
    """A message body as a JSON object; ValueError saying what is wrong otherwise, whatever the body
    (a body nested too deeply raises RecursionError in the parser: that too is "not JSON")."""
    try:
        message = json.loads(body)
    except Exception as exc:  # ValueError, UnicodeDecodeError, RecursionError, whatever comes next
        raise ValueError(f"body is not JSON: {exc}") from None
    if not isinstance(message, dict):
        raise ValueError("body is not a JSON object")
    return message


def dumps(body: dict[str, Any]) -> str:
    """JSON text of a message: Decimal amounts become JSON numbers with their exact digits."""
    return json.dumps(body, default=json_value, ensure_ascii=False, separators=(",", ":"))
