"""The kitchen worker (SPEC §4) as a real subprocess while PostgreSQL or RabbitMQ misbehave.

Every test runs `run_kitchen_worker` against this run's database and vhost (the `start_worker`
fixture of tests/conftest.py), breaks something real, and restores it in a `finally` or a
context manager, so a failing test never leaves the services broken for the next one.
"""

import json
import os
import signal
from urllib.parse import unquote, urlsplit

import pytest
from django.db import transaction

from kitchen.models import Worker, WorkerStatus
from kitchen.topology import kitchen_queue
from orders.models import Order, OrderStatus, OrderStatusLog
from restaurant import broker
from restaurant.models import OutboxMessage
from tests.amqp import get_messages, queue_depth, rabbitmqctl
from tests.factories import create_order, logged_statuses
from tests.support import database_outage, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

TIMEOUT = 30  # two cores shared with other test runs: be generous


# --- helpers ------------------------------------------------------------------------------


def wait_until_status(order: Order, status: str, timeout: float = TIMEOUT) -> None:
    wait_for(
        lambda: Order.objects.get(pk=order.pk).status == status,
        timeout=timeout,
        interval=0.2,
        message=f"order {order.number} to be {status}",
    )


def wait_for_about(process, action: str, order: Order) -> list[dict]:
    """`about`, once there is such a line: the worker logs after its transaction commits, so the line
    can follow the status a test saw in the database by a moment."""
    return wait_for(lambda: about(process, action, order), timeout=TIMEOUT, message=f"{action} about {order.number}")


def about(process, action: str, order: Order) -> list[dict]:
    """`process`'s log lines with `action` about `order`."""
    return [line for line in process.actions(action) if (line.get("details") or {}).get("order_number") == order.number]


def restore_topology(*delete_first: str) -> None:
    """Put SPEC §5's topology back (deleting `delete_first` queues first), on a connection of its own:
    the test's channel may be the thing a failure closed."""
    with broker.connect(client_name="pytest-restore") as conn:
        channel = conn.channel()
        for queue in delete_first:
            channel.queue_delete(queue)
        broker.declare_topology(channel)


def vhost() -> str:
    return unquote(urlsplit(os.environ["RABBITMQ_URL"]).path.lstrip("/"))


def worker_connections(name: str) -> list[dict[str, str]]:
    """The worker's AMQP connections as RabbitMQ lists them: `pid`, `state` and heartbeat `timeout`.
    Empty when rabbitmqctl fails (it can time out on a loaded machine): callers poll with wait_for."""
    output = rabbitmqctl(
        "list_connections", "-p", vhost(), "--silent", "pid", "state", "timeout", "client_properties", check=False
    )
    connections = []
    for line in output.splitlines():
        pid, state, timeout, properties = (line.split("\t", 3) + ["", "", ""])[:4]
        if f'{{"connection_name","kitchen-worker:{name}"}}' in properties:
            connections.append({"pid": pid, "state": state, "timeout": timeout})
    return connections


# --- PostgreSQL -------------------------------------------------------------------------------


def test_database_outage_while_cooking_requeues_the_order_which_completes_once_it_is_back(
    relay, start_worker, amqp_channel, test_database_name
):
    worker = start_worker("chef_pg", COOKING_TIME_SCALE="0.3")  # a takeout cooks 3 s
    order = create_order()
    worker.wait_for_action("order_processing_started", timeout=TIMEOUT)

    with database_outage(test_database_name):
        # Marking the order ready fails, and so does the redelivery's first step: requeued both times.
        worker.wait_for_action("order_requeued", count=2, timeout=TIMEOUT)

    wait_until_status(order, OrderStatus.READY)
    assert logged_statuses(order) == ["cooking", "ready", "received"]
    assert len(wait_for_about(worker, "order_completed", order)) == 1
    # The redelivery found the order already cooking: it resumed rather than starting again.
    assert about(worker, "order_processing_resumed", order)
    # A database outage is not the message's fault: never a dead letter, however many requeues.
    assert all(line["details"]["attempts"] == 0 for line in about(worker, "order_requeued", order))
    assert worker.actions("order_dead_lettered") == []
    assert queue_depth(amqp_channel, broker.DEAD_LETTER_QUEUE) == 0
    assert worker.proc.poll() is None
    # The relay lost the database too, and caught up: the status updates of the order went out.
    wait_for(
        lambda: not OutboxMessage.objects.filter(published_at__isnull=True).exists(),
        timeout=TIMEOUT,
        interval=0.2,
        message="the outbox to be published",
    )
    assert OutboxMessage.objects.filter(exchange=broker.NOTIFICATIONS_EXCHANGE).count() == 2  # cooking, ready


# --- RabbitMQ ---------------------------------------------------------------------------------


def test_connection_closed_by_the_broker_mid_cook_reconnects_and_the_order_ends_ready_once(
    relay, start_worker, amqp_channel
):
    worker = start_worker("chef_conn", COOKING_TIME_SCALE="0.5")  # a takeout cooks 5 s
    [old] = wait_for(lambda: worker_connections("chef_conn"), timeout=TIMEOUT, message="the worker's connection")
    first = create_order()
    worker.wait_for_action("order_processing_started", timeout=TIMEOUT)

    rabbitmqctl("close_connection", old["pid"], "test")
    assert about(worker, "order_completed", first) == [], "the connection must drop while the order cooks"

    worker.wait_for_action("broker_connection_lost", timeout=TIMEOUT)
    worker.wait_for_action("broker_connected", count=2, timeout=TIMEOUT)
    wait_until_status(first, OrderStatus.READY)
    # The unacked delivery came back on the new connection, found the order ready, and was acked.
    wait_for(lambda: about(worker, "order_skipped", first), timeout=TIMEOUT, message="the redelivery to be skipped")
    assert logged_statuses(first) == ["cooking", "ready", "received"]
    assert len(about(worker, "order_completed", first)) == 1

    second = create_order()
    wait_until_status(second, OrderStatus.READY)
    assert logged_statuses(second) == ["cooking", "ready", "received"]
    [new] = wait_for(lambda: worker_connections("chef_conn"), timeout=TIMEOUT, message="the worker's connection")
    assert new["pid"] != old["pid"]
    assert queue_depth(amqp_channel, kitchen_queue("takeout")) == 0
    assert queue_depth(amqp_channel, broker.DEAD_LETTER_QUEUE) == 0
    assert worker.proc.poll() is None


def test_amqp_heartbeats_keep_flowing_through_long_cooks_with_a_prefetched_backlog(relay, start_worker, amqp_channel):
    queue = kitchen_queue("takeout")
    orders = [create_order() for _ in range(3)]
    relay.wait_for_action("order_published", count=3, timeout=TIMEOUT)
    assert queue_depth(amqp_channel, queue) == 3
    # A takeout cooks 6 s: three heartbeat intervals; the last prefetched order waits 12 s unacked.
    worker = start_worker("chef_hb", "--amqp-heartbeat=2", "--prefetch=3", COOKING_TIME_SCALE="0.6")
    [connection] = wait_for(lambda: worker_connections("chef_hb"), timeout=TIMEOUT, message="the worker's connection")
    assert connection["timeout"] == "2"  # the heartbeat RabbitMQ enforces
    worker.wait_for_action("order_processing_started", timeout=TIMEOUT)
    # The whole backlog is in the worker's hands while it cooks the first order.
    wait_for(lambda: queue_depth(amqp_channel, queue) == 0, timeout=5, message="the backlog to be prefetched")
    assert worker.actions("order_completed") == []

    for order in orders:
        wait_until_status(order, OrderStatus.READY, timeout=60)

    assert worker.actions("broker_connection_lost") == []
    assert len(worker.actions("broker_connected")) == 1
    assert len(worker.actions("order_processing_started")) == 3
    assert worker.actions("order_processing_resumed") == []  # nothing was redelivered
    # RabbitMQ never closed it: the same connection, still running.
    assert wait_for(lambda: worker_connections("chef_hb"), timeout=TIMEOUT) == [{**connection, "state": "running"}]
    for order in orders:
        assert logged_statuses(order) == ["cooking", "ready", "received"]


def test_consumer_cancelled_by_a_queue_deletion_reconnects_redeclares_and_keeps_cooking(
    relay, start_worker, amqp_channel
):
    worker = start_worker("chef_cancel")
    queue = kitchen_queue("takeout")

    try:
        amqp_channel.queue_delete(queue)

        [lost] = worker.wait_for_action("broker_connection_lost", timeout=TIMEOUT)
        assert lost["level"] == "ERROR"
        assert "cancelled" in lost["error"]["msg"]
        worker.wait_for_action("broker_connected", count=2, timeout=TIMEOUT)
    finally:
        restore_topology()  # a no-op when the worker has redeclared the queue, as it should
    assert worker.proc.poll() is None  # noticed, and carried on: not a silent exit
    assert amqp_channel.queue_declare(queue, passive=True).method.consumer_count == 1

    order = create_order()
    wait_until_status(order, OrderStatus.READY)
    assert logged_statuses(order) == ["cooking", "ready", "received"]


def test_a_kitchen_queue_declared_with_other_arguments_stops_the_worker_with_topology_mismatch(
    start_worker, amqp_channel
):
    queue = kitchen_queue("dine_in")
    try:
        amqp_channel.queue_delete(queue)
        amqp_channel.queue_declare(queue, durable=True)  # no x-max-priority, no dead-lettering

        worker = start_worker("chef_topology", wait=False)

        assert worker.wait(timeout=TIMEOUT) == 1
        [mismatch] = worker.actions("topology_mismatch")
        assert mismatch["level"] == "ERROR"
        assert "inequivalent arg" in mismatch["message"] and queue in mismatch["message"]
        assert worker.actions("broker_connected") == []
        assert Worker.objects.get(name="chef_topology").status == WorkerStatus.OFFLINE
    finally:
        restore_topology(queue)


# --- poison messages --------------------------------------------------------------------------


def test_a_message_failing_for_a_lasting_reason_is_dead_lettered_after_five_attempts(relay, start_worker, amqp_channel):
    worker = start_worker("chef_poison")
    # A stray `cooking` log row (left by hand-written SQL, say) makes every attempt to start the
    # order violate the one-row-per-status constraint: an IntegrityError that no retry can cure.
    with transaction.atomic():
        order = create_order()
        OrderStatusLog.objects.create(order=order, status=OrderStatus.COOKING, changed_by="operator")

    [dead_lettered] = worker.wait_for_action("order_dead_lettered", timeout=TIMEOUT)
    [(_, properties, body)] = get_messages(amqp_channel, broker.DEAD_LETTER_QUEUE, 1)

    assert json.loads(body)["order_number"] == order.number
    reason = properties.headers["x-dead-letter-reason"]
    assert "failed 5 times" in reason and "IntegrityError" in reason
    assert properties.headers["x-dead-lettered-by"] == "chef_poison"
    requeues = about(worker, "order_requeued", order)
    assert [line["details"]["attempts"] for line in requeues] == [1, 2, 3, 4]
    assert dead_lettered["level"] == "ERROR" and "IntegrityError" in dead_lettered["details"]["reason"]
    assert Order.objects.get(pk=order.pk).status == OrderStatus.RECEIVED
    assert logged_statuses(order) == ["cooking", "received"]  # nothing written by the failed attempts

    # The queue is not blocked: the next order is cooked.
    later = create_order()
    wait_until_status(later, OrderStatus.READY)
    assert queue_depth(amqp_channel, kitchen_queue("takeout")) == 0


# --- taken over ---------------------------------------------------------------------------


def test_a_stalled_worker_whose_name_was_taken_over_stops_when_it_wakes(start_worker):
    first = start_worker("chef_twin", "--heartbeat-interval=1")
    first.send(signal.SIGSTOP)
    try:
        wait_for(
            lambda: Worker.objects.get(name="chef_twin").is_stale(),
            timeout=TIMEOUT,
            interval=0.2,
            message="the stalled worker to go stale",
        )
        second = start_worker("chef_twin", "--heartbeat-interval=1")
        second.wait_for_action("worker_registered", timeout=TIMEOUT)
    finally:
        first.send(signal.SIGCONT)

    assert first.wait(timeout=TIMEOUT) == 1
    [taken_over] = first.actions("worker_taken_over")
    assert taken_over["level"] == "ERROR"
    assert first.actions("graceful_shutdown") == []  # it must not mark the new owner's row offline

    beats = len(second.actions("heartbeat_sent"))
    second.wait_for_action("heartbeat_sent", count=beats + 2, timeout=TIMEOUT)
    assert second.proc.poll() is None
    worker = Worker.objects.get(name="chef_twin")
    assert worker.status == WorkerStatus.ONLINE and not worker.is_stale()
