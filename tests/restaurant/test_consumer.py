"""The consumer skeleton (restaurant/consumer.py) and the wait it shares (restaurant/lifecycle.py),
step by step in-process: a tiny QueueConsumer against a queue of its own on this run's vhost of
the real RabbitMQ, and a ReconnectingLoop whose hooks fail on purpose."""

import logging
import threading
import time
import uuid

import pika
import pytest
from pika.exceptions import ChannelClosedByBroker

from restaurant import broker
from restaurant.broker import Delivery, TopologyMismatch
from restaurant.consumer import BrokerLost, QueueConsumer, ReconnectingLoop
from restaurant.lifecycle import Backoff, StopFlag, sleep
from restaurant.logging import request_id_var
from tests.amqp import queue_depth
from tests.support import wait_for

TIMEOUT = 20


class Recorder(QueueConsumer):
    """Consumes one queue and acks every delivery, noting its body and the request ID it ran under."""

    label = "Recorder"
    client_name = "pytest-recorder"

    def __init__(self, queue: str, *, prefetch: int = 10) -> None:
        super().__init__(stop=StopFlag(), prefetch=prefetch)
        self.queue = queue
        self.handled: list[tuple[bytes, str | None]] = []
        self.ticks = 0

    def declare(self) -> None:
        with broker.topology_checked():
            self.channel.queue_declare(self.queue, durable=True)

    def queues(self) -> list[str]:
        return [self.queue]

    def handle(self, delivery: Delivery) -> None:
        self.handled.append((delivery.body, request_id_var.get()))
        self.channel.basic_ack(delivery.method.delivery_tag)

    def tick(self) -> None:
        self.ticks += 1


@pytest.fixture
def queue(amqp_channel):
    name = f"pytest-consumer-{uuid.uuid4().hex[:8]}"
    amqp_channel.queue_declare(name, durable=True)
    yield name
    amqp_channel.queue_delete(name)


@pytest.fixture
def recorder(queue):
    consumer = Recorder(queue)
    yield consumer
    consumer.disconnect()


def publish(channel, queue: str, body: bytes, *, request_id: str | None = None) -> None:
    properties = pika.BasicProperties(headers={"request_id": request_id} if request_id else None)
    channel.basic_publish("", queue, body, properties)


# --- step -------------------------------------------------------------------------------------


def test_a_delivery_reaches_handle_under_its_request_id_and_step_says_it_found_work(amqp_channel, queue, recorder):
    recorder.connect()
    publish(amqp_channel, queue, b"first", request_id="req-consumer-1")

    assert wait_for(recorder.step, timeout=TIMEOUT, message="a step that handled a delivery") is True
    assert recorder.handled == [(b"first", "req-consumer-1")]
    assert request_id_var.get() is None  # bound for the handling only
    assert recorder.ticks >= 1
    recorder.disconnect()
    assert queue_depth(amqp_channel, queue) == 0  # acked: closing the connection gave nothing back


def test_a_step_with_nothing_pending_handles_nothing_and_returns_false(recorder):
    recorder.connect()
    assert recorder.step() is False
    assert recorder.handled == []
    assert recorder.connected


def test_a_consumer_cancelled_by_the_broker_raises_broker_lost(amqp_channel, queue, recorder):
    recorder.connect()
    amqp_channel.queue_delete(queue)

    def lost():
        try:
            recorder.step()
        except BrokerLost as exc:
            return exc
        return None

    assert "cancelled" in str(wait_for(lost, timeout=TIMEOUT, message="BrokerLost from step"))


def test_run_reconnects_and_redeclares_after_its_queue_is_deleted_then_stops_with_0(
    amqp_channel, queue, recorder, caplog
):
    result: list[int] = []
    recorder.backoff = Backoff(initial=0.05, cap=0.1)
    with caplog.at_level(logging.INFO):
        thread = threading.Thread(target=lambda: result.append(recorder.run()))
        thread.start()
        try:
            wait_for(lambda: consumers(queue) == 1, timeout=TIMEOUT, message="consuming")
            amqp_channel.queue_delete(queue)
            wait_for(lambda: actions(caplog, "broker_connection_lost"), timeout=TIMEOUT, message="the loss logged")
            wait_for(lambda: consumers(queue) == 1, timeout=TIMEOUT, message="consuming again")
            publish(amqp_channel, queue, b"after")
            wait_for(lambda: recorder.handled, timeout=TIMEOUT, message="a delivery on the new connection")
        finally:
            recorder.stop.set()
            thread.join(TIMEOUT)
    assert result == [0]
    assert recorder.handled == [(b"after", None)]
    [lost] = actions(caplog, "broker_connection_lost")
    assert lost.exc_info[0] is BrokerLost and 0 < lost.details["retry_in_seconds"] <= 0.1
    [stopped] = actions(caplog, "graceful_shutdown")
    assert stopped.getMessage() == "Recorder stopped" and stopped.details["requeued"] == 0


def test_a_stop_cancels_the_consumer_and_requeues_what_was_prefetched_unhandled(amqp_channel, queue, recorder, caplog):
    recorder.connect()
    for body in (b"one", b"two", b"three"):
        publish(amqp_channel, queue, body)

    # A wait serves the connection: the callback fills `pending`, nothing is handled.
    wait_for(lambda: recorder.sleep(0.1) or len(recorder.pending) == 3, timeout=TIMEOUT, message="3 prefetched")
    recorder.stop.set()
    with caplog.at_level(logging.INFO):
        assert recorder.run() == 0

    assert recorder.handled == []
    assert not recorder.connected and not recorder.pending
    [stopped] = actions(caplog, "graceful_shutdown")
    assert stopped.details["requeued"] == 3
    wait_for(lambda: queue_depth(amqp_channel, queue) == 3, timeout=TIMEOUT, message="three deliveries back")


# --- a delivery whose handling fails -----------------------------------------------------------


class Fragile(Recorder):
    """A Recorder whose handling of a b"boom" body raises `error` (a bug a message trips, or trouble
    of the process itself), before settling it."""

    def __init__(self, queue: str, error: Exception) -> None:
        super().__init__(queue)
        self.error = error

    def handle(self, delivery: Delivery) -> None:
        if delivery.body == b"boom":
            raise self.error
        super().handle(delivery)


def test_a_delivery_whose_handling_raises_is_logged_with_its_stack_and_rejected_and_the_next_is_handled(
    amqp_channel, queue, caplog
):
    consumer = Fragile(queue, RecursionError("maximum recursion depth exceeded"))
    consumer.connect()
    try:
        publish(amqp_channel, queue, b"boom", request_id="req-boom")
        publish(amqp_channel, queue, b"after", request_id="req-after")
        with caplog.at_level(logging.INFO):
            wait_for(lambda: consumer.step() and consumer.handled, timeout=TIMEOUT, message="the next delivery")
    finally:
        consumer.disconnect()

    assert consumer.handled == [(b"after", "req-after")]
    [failed] = actions(caplog, "delivery_failed")
    assert failed.levelno == logging.ERROR and failed.exc_info[0] is RecursionError  # one line, with the stack
    assert failed.getMessage() == "Message dropped: handling it raised RecursionError"
    assert request_id_var.get() is None
    assert queue_depth(amqp_channel, queue) == 0  # rejected, not requeued: it does not come round again


@pytest.mark.parametrize(
    "error",
    [BrokerLost("channel gone"), TopologyMismatch("inequivalent arg"), OSError("connection reset")],
    ids=["broker-lost", "topology-mismatch", "os-error"],
)
def test_the_processs_own_trouble_raised_while_handling_goes_through_step_to_the_loop(amqp_channel, queue, error):
    consumer = Fragile(queue, error)
    consumer.connect()
    try:
        publish(amqp_channel, queue, b"boom")
        with pytest.raises(type(error)):
            wait_for(consumer.step, timeout=TIMEOUT, message="a step that handled a delivery")
    finally:
        consumer.disconnect()
    # Not settled: the broker hands it back once the connection is closed (run() would reconnect).
    wait_for(lambda: queue_depth(amqp_channel, queue) == 1, timeout=TIMEOUT, message="the delivery back")


# --- the loop's back-off ------------------------------------------------------------------------


class FlakyLoop(ReconnectingLoop):
    """Fails to connect `failures` times, then steps once and stops."""

    def __init__(self, failures: int, error: Exception) -> None:
        super().__init__(stop=StopFlag())
        self.backoff = Backoff(initial=0.02, cap=0.08)
        self.failures = failures
        self.error = error
        self.disconnects = 0

    def connect(self) -> None:
        if self.failures:
            self.failures -= 1
            raise self.error

    def step(self) -> bool:
        self.stop.set()
        return True

    def disconnect(self) -> None:
        self.disconnects += 1


def test_backoff_doubles_up_to_its_cap_with_jitter_and_starts_over_after_a_reset():
    backoff = Backoff(initial=0.5, cap=2.0)
    delays = [backoff.next_delay() for _ in range(5)]
    for delay, nominal in zip(delays, [0.5, 1.0, 2.0, 2.0, 2.0], strict=True):
        assert 0.8 * nominal <= delay <= nominal
    backoff.reset()
    assert 0.4 <= backoff.next_delay() <= 0.5


def test_the_loop_backs_off_longer_after_each_failed_connect_and_resets_once_a_step_went_through(caplog):
    loop = FlakyLoop(failures=4, error=OSError("connection refused"))
    with caplog.at_level(logging.ERROR):
        assert loop.run() == 0

    retries = [record.details["retry_in_seconds"] for record in actions(caplog, "broker_connection_lost")]
    assert len(retries) == 4
    assert retries[0] < retries[1] < retries[2] and retries[3] <= 0.08  # doubling, then capped
    assert loop.backoff.failures == 0  # the successful connect and step reset it
    assert loop.disconnects == 4 + 1  # after each failure, and at shutdown


def test_a_topology_clash_is_not_retried_it_ends_the_loop_disconnected():
    loop = FlakyLoop(failures=1, error=TopologyMismatch("inequivalent arg 'x-max-priority'"))
    with pytest.raises(TopologyMismatch):
        loop.run()
    assert loop.disconnects == 1 and loop.backoff.failures == 0


class NonDurable(Recorder):
    def declare(self) -> None:
        with broker.topology_checked():
            self.channel.queue_declare(self.queue, durable=False)


def test_declaring_a_queue_that_exists_with_other_arguments_raises_topology_mismatch(queue):
    clash = NonDurable(queue)
    try:
        with pytest.raises(TopologyMismatch, match="durable"):
            clash.connect()
    finally:
        clash.disconnect()


# --- the one wait -------------------------------------------------------------------------------


def test_the_wait_returns_early_once_the_stop_flag_is_set():
    stop = StopFlag()
    timer = threading.Timer(0.2, stop.set)
    started = time.monotonic()
    timer.start()
    sleep(30, stop=stop)
    assert time.monotonic() - started < 5
    assert stop.is_set


def test_a_wait_without_a_stop_flag_runs_its_course_calling_between_after_each_chunk():
    calls = []
    started = time.monotonic()
    sleep(0.6, stop=None, between=lambda: calls.append(time.monotonic()))
    assert time.monotonic() - started >= 0.6
    assert len(calls) >= 3  # 0.25 s chunks


def test_a_wait_on_a_connection_serves_it_so_a_delivery_arrives_meanwhile(amqp_channel, queue, recorder):
    recorder.connect()
    publish(amqp_channel, queue, b"during the wait")
    wait_for(lambda: recorder.sleep(0.3) or recorder.pending, timeout=TIMEOUT, message="a delivery while waiting")
    assert [delivery.body for delivery in recorder.pending] == [b"during the wait"]
    assert recorder.handled == []  # only appended by the callback: handled by a step


# --- helpers ------------------------------------------------------------------------------------


def actions(caplog, action: str) -> list[logging.LogRecord]:
    return [record for record in caplog.records if getattr(record, "action", None) == action]


def consumers(queue: str) -> int | None:
    """On a connection of its own: a passive declare of a missing queue closes its channel."""
    with broker.connect(client_name="pytest-probe") as conn:
        try:
            return conn.channel().queue_declare(queue, passive=True).method.consumer_count
        except ChannelClosedByBroker:
            return None
