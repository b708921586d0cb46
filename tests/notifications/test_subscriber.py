"""The notification subscriber (SPEC §6), step by step in-process and as the real command, against
the real RabbitMQ (and, where an order is cooked, the real PostgreSQL, relay and kitchen worker).

Status updates reach the subscribers either the real way (an order written through `order_create`,
cooked by a worker, its updates published by the relay) or, where only the subscriber is under
test, published straight onto `notifications_fanout` as the relay would.
"""

import argparse
import io
import logging
import signal
import subprocess

import pika
import pytest
from pika.exceptions import ChannelClosedByBroker

from notifications.management.commands.run_notification_subscriber import subscriber_name
from notifications.subscriber import (
    MalformedMessage,
    NotificationSubscriber,
    notification_line,
    parse_status_update,
)
from orders.models import Order, OrderStatus
from restaurant import broker
from restaurant.lifecycle import StopFlag
from tests import settings as test_settings
from tests.amqp import NESTED_BODIES, queue_depth, rabbitmqctl
from tests.factories import create_order
from tests.support import REPO, manage, wait_for

TIMEOUT = 30
PREFIX = "Notification for order "


# --- helpers ----------------------------------------------------------------------------------


def wait_until_ready(order: Order) -> None:
    wait_for(
        lambda: Order.objects.values_list("status", flat=True).get(pk=order.pk) == OrderStatus.READY,
        timeout=TIMEOUT,
        message=f"{order.number} to be ready",
    )


def cooked_lines(order: Order, by: str) -> list[str]:
    """The two lines SPEC §6 wants printed for an order that a worker cooked."""
    return [
        f"Notification for order {order.number}: Status changed from 'received' to 'cooking' by {by}.",
        f"Notification for order {order.number}: Status changed from 'cooking' to 'ready' by {by}.",
    ]


def printed(process) -> list[str]:
    """The notification lines the subscriber printed, each a whole line of its stdout."""
    return [line for line in process.output().splitlines() if PREFIX in line]


def wait_for_printed(process, count: int) -> list[str]:
    def enough():
        if process.proc.poll() is not None:
            raise AssertionError(f"{process.name} exited {process.proc.returncode}:\n{process.output()}")
        lines = printed(process)
        return lines if len(lines) >= count else None

    return wait_for(enough, timeout=TIMEOUT, message=f"{count} notification lines from {process.name}")


def update(number: str = "ORD_20241216_001", **overrides) -> dict:
    body = {
        "order_number": number,
        "old_status": "received",
        "new_status": "cooking",
        "changed_by": "chef_mario",
        "timestamp": "2024-12-16T12:00:00+00:00",
        "estimated_completion": "2024-12-16T12:10:00+00:00",
    }
    body.update(overrides)
    return body


def publish(channel, body: bytes | dict, *, request_id: str | None = None, message_id: str | None = None) -> None:
    """Onto `notifications_fanout`, as the relay publishes a status update."""
    raw = body if isinstance(body, bytes) else broker.dumps(body).encode()
    properties = pika.BasicProperties(
        content_type="application/json",
        delivery_mode=pika.DeliveryMode.Persistent,
        headers={"request_id": request_id} if request_id else None,
        message_id=message_id,
    )
    channel.basic_publish(broker.NOTIFICATIONS_EXCHANGE, "", raw, properties)


def named_queue(name: str) -> str:
    return f"notifications_queue.{name}"


def queue_exists(queue: str) -> bool:
    """A passive declare on a connection of its own (a 404 closes the channel it is made on)."""
    with broker.connect(client_name="pytest-probe") as conn:
        try:
            conn.channel().queue_declare(queue, passive=True)
        except ChannelClosedByBroker as exc:
            if exc.reply_code == 404:
                return False
            raise
        return True


def queue_info(queue: str) -> dict[str, str] | None:
    """`durable`, `auto_delete`, `exclusive`, `messages_ready`, `messages_unacknowledged` of `queue`
    as RabbitMQ lists them; None when it is not listed (or rabbitmqctl failed: callers poll)."""
    columns = ["name", "durable", "auto_delete", "exclusive", "messages_ready", "messages_unacknowledged"]
    output = rabbitmqctl("list_queues", "-p", test_settings.TEST_VHOST, "--silent", *columns, check=False)
    for line in output.splitlines():
        fields = line.split("\t")
        if len(fields) == len(columns) and fields[0] == queue:
            return dict(zip(columns[1:], fields[1:], strict=True))
    return None


def subscriber_connections(name: str) -> list[dict[str, str]]:
    """The subscriber's AMQP connections (`pid`) as RabbitMQ lists them; empty when rabbitmqctl fails."""
    output = rabbitmqctl(
        "list_connections", "-p", test_settings.TEST_VHOST, "--silent", "pid", "client_properties", check=False
    )
    connections = []
    for line in output.splitlines():
        pid, _, properties = line.partition("\t")
        if f'{{"connection_name","notification-subscriber:{name}"}}' in properties:
            connections.append({"pid": pid})
    return connections


# --- the message and the name -----------------------------------------------------------------


def test_a_status_update_becomes_the_exact_line_of_spec_6():
    assert (
        notification_line(parse_status_update(broker.dumps(update()).encode()))
        == "Notification for order ORD_20241216_001: Status changed from 'received' to 'cooking' by chef_mario."
    )


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"not json", "not JSON"),
        (b"\xff\xfe", "not JSON"),
        (b'["ORD_20241216_001"]', "not a JSON object"),
        (broker.dumps({k: v for k, v in update().items() if k != "changed_by"}).encode(), "invalid changed_by"),
        (broker.dumps(update(new_status=7)).encode(), "invalid new_status"),
        (broker.dumps(update(old_status="  ")).encode(), "invalid old_status"),
        (broker.dumps(update(changed_by="chef\nmario")).encode(), "control characters"),
        (broker.dumps(update(number="ORD_1\u2028")).encode(), "control characters"),
    ],
    ids=["text", "bytes", "array", "missing", "number", "blank", "newline", "line-separator"],
)
def test_a_message_that_cannot_make_one_clean_line_is_malformed(body, reason):
    with pytest.raises(MalformedMessage, match=reason):
        parse_status_update(body)


@pytest.mark.parametrize("name", ["front_desk", "a", "x" * 100, "Front-Desk.2_b"])
def test_a_subscriber_name_of_1_to_100_safe_characters_is_accepted(name):
    assert subscriber_name(name) == name


@pytest.mark.parametrize("name", ["", "x" * 101, "front desk", "front/desk", "ünïcode", "a*"])
def test_any_other_subscriber_name_is_refused(name):
    with pytest.raises(argparse.ArgumentTypeError, match="1 to 100 characters"):
        subscriber_name(name)


def test_the_command_refuses_a_bad_subscriber_name_with_a_usage_error():
    result = subprocess.run(
        manage("run_notification_subscriber", "--subscriber-name=front desk"),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert result.returncode == 2
    assert "usage:" in result.stderr and "--subscriber-name" in result.stderr
    assert "'front desk': must be 1 to 100 characters" in result.stderr
    assert PREFIX not in result.stdout


# --- step by step -----------------------------------------------------------------------------


def test_step_by_step_each_update_is_printed_once_then_acked_and_a_redelivered_duplicate_is_not_reprinted(
    amqp_channel,
):
    out = io.StringIO()
    subscriber = NotificationSubscriber(name="step_print", stop=StopFlag(), out=out)
    subscriber.connect()
    try:
        publish(amqp_channel, update(), message_id="outbox-1")
        publish(amqp_channel, update(), message_id="outbox-1")  # the relay's duplicate after a crash
        publish(amqp_channel, update(old_status="cooking", new_status="ready"), message_id="outbox-2")

        def handled_all():
            subscriber.step()
            return len(out.getvalue().splitlines()) >= 2 and not subscriber.pending

        wait_for(handled_all, timeout=TIMEOUT, message="every update handled")
        assert out.getvalue().splitlines() == [
            "Notification for order ORD_20241216_001: Status changed from 'received' to 'cooking' by chef_mario.",
            "Notification for order ORD_20241216_001: Status changed from 'cooking' to 'ready' by chef_mario.",
        ]
        # Acked, the duplicate too, while the subscriber is still connected: nothing left to come back.
        wait_for(
            lambda: (queue_info(named_queue("step_print")) or {}).get("messages_unacknowledged") == "0",
            timeout=TIMEOUT,
            message="every delivery acked",
        )
        assert queue_info(named_queue("step_print")) == {
            "durable": "true",
            "auto_delete": "false",
            "exclusive": "false",
            "messages_ready": "0",
            "messages_unacknowledged": "0",
        }
    finally:
        subscriber.stop.set()
        subscriber.run()
        amqp_channel.queue_delete(named_queue("step_print"))


def test_step_by_step_a_stop_hands_back_the_prefetched_updates_unprinted(amqp_channel, caplog):
    out = io.StringIO()
    subscriber = NotificationSubscriber(name="step_stop", stop=StopFlag(), out=out)
    subscriber.connect()
    try:
        for number in ("ORD_20241216_001", "ORD_20241216_002", "ORD_20241216_003"):
            publish(amqp_channel, update(number))

        def prefetched():
            subscriber.amqp.process_data_events(time_limit=0.1)  # fills `pending`, handles nothing
            return len(subscriber.pending) == 3

        wait_for(prefetched, timeout=TIMEOUT, message="three updates prefetched")
        subscriber.stop.set()
        with caplog.at_level(logging.INFO):
            assert subscriber.run() == 0

        assert out.getvalue() == ""
        [shutdown] = [record for record in caplog.records if getattr(record, "action", "") == "graceful_shutdown"]
        assert shutdown.details["requeued"] == 3
        wait_for(lambda: queue_depth(amqp_channel, named_queue("step_stop")) == 3, message="3 updates back")
    finally:
        amqp_channel.queue_delete(named_queue("step_stop"))


# --- the real command -------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_a_named_and_an_anonymous_subscriber_both_print_each_update_of_a_cooked_order_under_its_request_id(
    relay, start_worker, start_subscriber
):
    named = start_subscriber("front_desk")
    anonymous = start_subscriber()
    start_worker("chef_notify")

    order = create_order(request_id="req-notify-e2e")
    wait_until_ready(order)

    expected = cooked_lines(order, "chef_notify")
    for subscriber in (named, anonymous):
        assert wait_for_printed(subscriber, 2) == expected
        received = subscriber.wait_for_action("notification_received", count=2, timeout=TIMEOUT)
        assert [line["details"] for line in received] == [
            {
                "order_number": order.number,
                "old_status": "received",
                "new_status": "cooking",
                "changed_by": "chef_notify",
            },
            {"order_number": order.number, "old_status": "cooking", "new_status": "ready", "changed_by": "chef_notify"},
        ]
        # The order request's ID followed the order through the relay, the worker and the relay again.
        assert {(line["request_id"], line["service"], line["level"]) for line in received} == {
            ("req-notify-e2e", "notification-subscriber", "INFO")
        }
        assert subscriber.proc.poll() is None
    assert named.actions("broker_connected")[0]["details"]["queue"] == "notifications_queue.front_desk"


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_a_named_subscriber_stopped_by_sigterm_prints_on_restart_exactly_the_updates_it_missed(
    relay, start_worker, start_subscriber, amqp_channel
):
    queue = named_queue("catch_up")
    first_run = start_subscriber("catch_up")
    start_worker("chef_catch_up")
    before = create_order()
    assert wait_for_printed(first_run, 2) == cooked_lines(before, "chef_catch_up")

    first_run.send(signal.SIGTERM)
    assert first_run.wait(timeout=TIMEOUT) == 0
    [shutdown] = first_run.actions("graceful_shutdown")
    assert shutdown["details"]["signal"] == "SIGTERM"

    missed = create_order()
    wait_until_ready(missed)
    # Nobody consumes while it is down: its durable queue keeps both updates.
    wait_for(lambda: queue_depth(amqp_channel, queue) == 2, timeout=TIMEOUT, message=f"2 updates kept on {queue}")

    second_run = start_subscriber("catch_up")
    assert wait_for_printed(second_run, 2) == cooked_lines(missed, "chef_catch_up")
    wait_for(lambda: queue_depth(amqp_channel, queue) == 0, timeout=TIMEOUT, message=f"{queue} drained")
    assert printed(second_run) == cooked_lines(missed, "chef_catch_up")  # nothing acked before came back


@pytest.mark.slow
def test_an_anonymous_subscriber_has_an_exclusive_queue_that_is_gone_once_sigterm_stopped_it(start_subscriber):
    subscriber = start_subscriber()
    [connected] = subscriber.actions("broker_connected")
    queue = connected["details"]["queue"]
    assert queue.startswith("notifications_queue.") and connected["details"]["durable"] is False
    info = wait_for(lambda: queue_info(queue), timeout=TIMEOUT, message=f"{queue} listed")
    assert (info["durable"], info["auto_delete"], info["exclusive"]) == ("false", "true", "true")

    subscriber.send(signal.SIGTERM)

    assert subscriber.wait(timeout=TIMEOUT) == 0
    [shutdown] = subscriber.actions("graceful_shutdown")
    assert shutdown["service"] == "notification-subscriber" and shutdown["details"]["signal"] == "SIGTERM"
    wait_for(lambda: not queue_exists(queue), timeout=TIMEOUT, message=f"{queue} to be deleted")


@pytest.mark.slow
def test_malformed_messages_are_logged_as_errors_and_dropped_and_the_subscriber_goes_on_printing(
    start_subscriber, amqp_channel
):
    subscriber = start_subscriber("poison_check")
    malformed = [
        b"not json",
        b'["ORD_20241216_001"]',
        broker.dumps({k: v for k, v in update().items() if k != "changed_by"}).encode(),
        broker.dumps(update(changed_by="chef\nmario")).encode(),
    ]
    for body in malformed:
        publish(amqp_channel, body, request_id="req-poison")
    publish(amqp_channel, update("ORD_20241216_042"), request_id="req-after-poison")

    assert wait_for_printed(subscriber, 1) == [
        "Notification for order ORD_20241216_042: Status changed from 'received' to 'cooking' by chef_mario."
    ]
    errors = subscriber.actions("notification_malformed")
    # Exactly one line each: none was requeued to come round again.
    assert len(errors) == len(malformed)
    for line in errors:
        assert line["level"] == "ERROR" and line["request_id"] == "req-poison"
        assert line["error"]["msg"] and line["error"]["stack"]
    assert [line["details"]["reason"].split(":")[0] for line in errors] == [
        "body is not JSON",
        "body is not a JSON object",
        "invalid changed_by",
        "changed_by holds control characters",
    ]
    [received] = subscriber.actions("notification_received")
    assert received["request_id"] == "req-after-poison"
    info = wait_for(lambda: queue_info(named_queue("poison_check")), timeout=TIMEOUT, message="the queue listed")
    assert (info["messages_ready"], info["messages_unacknowledged"]) == ("0", "0")
    assert subscriber.proc.poll() is None
    # Each is kept in the dead-letter queue with its reason, not lost.
    dead = [amqp_channel.basic_get(broker.DEAD_LETTER_QUEUE, auto_ack=True) for _ in malformed]
    assert [body for _, _, body in dead] == malformed
    assert all(props.headers["x-dead-letter-reason"].startswith("not a status update") for _, props, _ in dead)


@pytest.mark.slow
def test_deeply_nested_bodies_are_logged_and_dropped_and_the_subscriber_lives_on_to_print_the_next_update(
    start_subscriber, amqp_channel
):
    subscriber = start_subscriber("nested_check")
    for body in NESTED_BODIES:
        publish(amqp_channel, body, request_id="req-nested")
    publish(amqp_channel, update("ORD_20241216_043"), request_id="req-after-nested")

    assert wait_for_printed(subscriber, 1) == [
        "Notification for order ORD_20241216_043: Status changed from 'received' to 'cooking' by chef_mario."
    ]
    errors = subscriber.actions("notification_malformed")
    assert len(errors) == len(NESTED_BODIES)  # once each: rejected, not requeued to come round again
    for line in errors:
        assert line["level"] == "ERROR" and line["request_id"] == "req-nested"
        assert line["details"]["reason"].startswith("body is not JSON: maximum recursion depth exceeded")
    assert not subscriber.actions("delivery_failed")
    info = wait_for(lambda: queue_info(named_queue("nested_check")), timeout=TIMEOUT, message="the queue listed")
    assert (info["messages_ready"], info["messages_unacknowledged"]) == ("0", "0")
    assert subscriber.proc.poll() is None


@pytest.mark.slow
@pytest.mark.parametrize("name", ["reconnect_check", None], ids=["named", "anonymous"])
def test_a_connection_closed_by_the_broker_is_reconnected_the_queue_redeclared_and_printing_goes_on(
    start_subscriber, amqp_channel, name
):
    subscriber = start_subscriber(name)
    label = name or "anonymous"
    publish(amqp_channel, update("ORD_20241216_101"))
    wait_for_printed(subscriber, 1)
    [old] = wait_for(lambda: subscriber_connections(label), timeout=TIMEOUT, message="the subscriber's connection")

    rabbitmqctl("close_connection", old["pid"], "test")

    subscriber.wait_for_action("broker_connection_lost", timeout=TIMEOUT)
    first, second = subscriber.wait_for_action("broker_connected", count=2, timeout=TIMEOUT)
    if name:
        assert first["details"]["queue"] == second["details"]["queue"] == named_queue(name)
    else:  # a fresh exclusive queue: the old one went with the old connection
        assert first["details"]["queue"] != second["details"]["queue"]
        wait_for(lambda: not queue_exists(first["details"]["queue"]), timeout=TIMEOUT, message="the old queue gone")
    publish(amqp_channel, update("ORD_20241216_102"))
    assert wait_for_printed(subscriber, 2) == [
        "Notification for order ORD_20241216_101: Status changed from 'received' to 'cooking' by chef_mario.",
        "Notification for order ORD_20241216_102: Status changed from 'received' to 'cooking' by chef_mario.",
    ]
    # The broker may still list the closed connection for a moment beside the new one: wait until it
    # lists one only.
    [new] = wait_for(
        lambda: len(found := subscriber_connections(label)) == 1 and found,
        timeout=TIMEOUT,
        message="the new connection",
    )
    assert new["pid"] != old["pid"]
    assert subscriber.proc.poll() is None


@pytest.mark.slow
def test_a_subscriber_queue_declared_with_other_arguments_stops_the_subscriber_with_topology_mismatch(
    start_subscriber, amqp_channel
):
    queue = named_queue("clash_check")
    amqp_channel.queue_declare(queue, durable=False)  # ours is durable
    try:
        subscriber = start_subscriber("clash_check", wait=False)

        assert subscriber.wait(timeout=TIMEOUT) == 1
        [mismatch] = subscriber.actions("topology_mismatch")
        assert mismatch["level"] == "ERROR" and mismatch["service"] == "notification-subscriber"
        assert "inequivalent arg 'durable'" in mismatch["message"] and queue in mismatch["message"]
        assert subscriber.actions("broker_connected") == []
    finally:
        amqp_channel.queue_delete(queue)
