"""Publishing a batch of messages with publisher confirms, all of them in flight at once.

pika's BlockingChannel waits for each message's confirm before the next publish. This holds a
SelectConnection instead and runs its I/O loop only inside our calls, in the caller's thread, the
way BlockingConnection itself does (`poll()`, then `process_timeouts()`): one thread still owns
one connection (STYLE.md §4), and heartbeats are served whenever the owner calls `service()`.

RabbitMQ sends a mandatory message's basic.return before its basic.ack, so by the time a delivery
tag is acked we know whether that message was routed.
"""

import enum
import time
from collections.abc import Callable
from typing import Any

import pika
from pika.adapters.select_connection import IOLoop
from pika.exceptions import AMQPConnectionError, AMQPError

CONNECT_TIMEOUT = 20.0  # past the socket (5 s) and AMQP handshake timeouts of the parameters
CALL_TIMEOUT = 10.0


class BrokerTimeout(AMQPError):
    """The broker did not answer in time (a resource alarm blocks publishers, or it is overloaded)."""


class Confirm(enum.Enum):
    ACKED = "acked"
    NACKED = "nacked"
    RETURNED = "returned"  # acked, but it reached no queue


class ConfirmingPublisher:
    """One connection and one channel in confirm mode. `publish_all` sends a batch and waits for
    the broker to settle each message; `declare` runs broker.declare_topology on the channel."""

    def __init__(self, params: pika.ConnectionParameters) -> None:
        self.error: BaseException | None = None  # why the connection or the channel closed
        self.closed = False
        self.ioloop = IOLoop()
        self.ioloop.activate_poller()
        self.channel = None
        self.next_tag = 1
        self.floor = 1  # no tag below it is unsettled
        self.unsettled: dict[int, tuple[int, str]] = {}  # delivery tag: (index in the batch, message_id)
        self.outcomes: list[Confirm | None] = []
        self.returned: set[str] = set()
        opened: list = []
        self.connection = pika.SelectConnection(
            params,
            on_open_callback=opened.append,
            on_open_error_callback=self._on_closed,
            on_close_callback=self._on_closed,
            custom_ioloop=self.ioloop,
        )
        try:
            self._run_until(lambda: opened or self.error, CONNECT_TIMEOUT)
            if not opened:
                raise self.error or AMQPConnectionError("timed out connecting to RabbitMQ")
            self.channel = self.call(lambda done: self.connection.channel(on_open_callback=done))
            self.channel.add_on_close_callback(self._on_closed)
            self.channel.add_on_return_callback(self._on_return)
            self.call(lambda done: self.channel.confirm_delivery(self._on_confirm, callback=done))
        except BaseException:
            self.close()
            raise

    @property
    def is_open(self) -> bool:
        return self.error is None and self.connection.is_open

    def declare(self, declare: Callable[[Any], None]) -> None:
        """`declare(channel)` (broker.declare_topology) on a view of the channel whose calls wait
        for their answer, as a BlockingChannel's do."""
        declare(_WaitingChannel(self))

    def publish_all(self, messages: list[tuple[str, str, bytes, pika.BasicProperties]], timeout: float) -> list:
        """Publish `messages` (exchange, routing key, body, properties with a unique message_id),
        mandatory, then wait up to `timeout` s for the broker to settle them. Returns a Confirm for
        each message in order, None for one still unsettled when the connection closed (`error`
        says why) or the time ran out."""
        self.outcomes = [None] * len(messages)
        self.floor = self.next_tag
        self.unsettled.clear()
        self.returned.clear()
        for index, (exchange, routing_key, body, properties) in enumerate(messages):
            if not self.is_open:
                break
            self.channel.basic_publish(exchange, routing_key, body, properties, mandatory=True)
            self.unsettled[self.next_tag] = (index, properties.message_id)
            self.next_tag += 1
        self._run_until(lambda: not self.unsettled or self.error, timeout)
        return self.outcomes

    def service(self, seconds: float = 0) -> None:
        """Serve the connection (heartbeats) for up to `seconds`; raise if it is gone."""
        self._run_until(lambda: self.error, seconds)
        if self.error is not None:
            raise self.error

    def call(self, start: Callable[[Callable], None], timeout: float = CALL_TIMEOUT) -> Any:
        """`start(done)` begins an asynchronous pika call whose callback is `done`; wait for it and
        return what the callback got."""
        results: list = []
        start(results.append)
        self._run_until(lambda: results or self.error, timeout)
        if results:
            return results[0]
        raise self.error or BrokerTimeout(f"no answer from RabbitMQ within {timeout:g}s")

    def close(self) -> None:
        """Close the connection (quietly: it may be broken already) and release the I/O loop."""
        if self.closed:
            return
        self.closed = True
        try:
            if not (self.connection.is_closing or self.connection.is_closed):
                self.connection.close()
            self._run_until(lambda: self.connection.is_closed, 5.0)
        except (AMQPError, OSError):
            pass
        self.ioloop.close()

    # --- the I/O loop and its callbacks -----------------------------------------------------------

    def _run_until(self, done: Callable[[], Any], timeout: float) -> None:
        """Run the I/O loop until `done()`, for `timeout` s at most (once at least, if not done)."""
        deadline = time.monotonic() + timeout
        wake_up = self.ioloop.call_later(timeout, lambda: None)  # poll() returns by the deadline
        try:
            while not done():
                self.ioloop.poll()
                self.ioloop.process_timeouts()
                if time.monotonic() >= deadline:
                    return
        finally:
            self.ioloop.remove_timeout(wake_up)

    def _on_closed(self, _connection_or_channel, reason: BaseException) -> None:
        if self.error is None:
            self.error = reason

    def _on_return(self, _channel, _method, properties, _body) -> None:
        self.returned.add(properties.message_id)

    def _on_confirm(self, frame) -> None:
        method = frame.method
        if method.multiple:  # every tag up to this one (0: every one so far)
            last = method.delivery_tag or self.next_tag - 1
            tags = range(self.floor, last + 1)
            self.floor = max(self.floor, last + 1)
        else:
            tags = (method.delivery_tag,)
        acked = isinstance(method, pika.spec.Basic.Ack)
        for tag in tags:
            settled = self.unsettled.pop(tag, None)
            if settled is None:
                continue  # settled already, or a late confirm of an earlier batch
            index, message_id = settled
            if not acked:
                self.outcomes[index] = Confirm.NACKED
            else:
                self.outcomes[index] = Confirm.RETURNED if message_id in self.returned else Confirm.ACKED


class _WaitingChannel:
    """The publisher's channel, each method called through `ConfirmingPublisher.call` (pika's
    asynchronous methods take their completion callback as `callback`)."""

    def __init__(self, publisher: ConfirmingPublisher) -> None:
        self._publisher = publisher

    def __getattr__(self, name: str) -> Callable:
        method = getattr(self._publisher.channel, name)
        return lambda *args, **kwargs: self._publisher.call(lambda done: method(*args, callback=done, **kwargs))
