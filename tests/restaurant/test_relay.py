"""The outbox relay (SPEC §5): step by step in-process, then as the real command under faults."""

import json
import os
import signal
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
import requests
from django.db import connections, transaction
from django.test.utils import CaptureQueriesContext
from pika.exceptions import AMQPError, NackError, UnroutableError

from kitchen.topology import kitchen_queue, kitchen_queue_arguments
from restaurant import broker
from restaurant.database import listener_params
from restaurant.lifecycle import StopFlag
from restaurant.models import OutboxMessage
from restaurant.outbox import outbox_enqueue
from restaurant.relay import RELAY_LOCK_KEY, OutboxRelay
from tests.amqp import bind_probe_queue, connection_pids, get_messages, rabbitmqctl
from tests.factories import create_order
from tests.support import database_outage, manage, order_payload, url_through, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def enqueue_order_message(order_number: str, sequence: int, routing_key: str = "kitchen.takeout.1") -> int:
    """One more message about an order, in a transaction of its own (as a later change would add it)."""
    with transaction.atomic():
        row = outbox_enqueue(
            exchange=broker.ORDERS_EXCHANGE,
            routing_key=routing_key,
            body={"order_number": order_number, "sequence": sequence},
        )
    return row.id


def enqueue_status_update(order_number: str) -> int:
    with transaction.atomic():
        row = outbox_enqueue(
            exchange=broker.NOTIFICATIONS_EXCHANGE,
            routing_key="",
            body={"order_number": order_number, "old_status": "received", "new_status": "cooking"},
        )
    return row.id


def enqueue_many(count: int, orders: int) -> list[int]:
    """`count` order messages, in one transaction, going round `orders` orders (ORD_0, ORD_1, ...)
    with a sequence number each."""
    with transaction.atomic():
        rows = OutboxMessage.objects.bulk_create(
            OutboxMessage(
                exchange=broker.ORDERS_EXCHANGE,
                routing_key="kitchen.takeout.1",
                body=json.dumps({"order_number": f"ORD_{i % orders}", "sequence": i // orders}),
                headers={"request_id": f"req-{i}"},
                priority=1,
            )
            for i in range(count)
        )
    return [row.id for row in rows]


def published_ids() -> list[int]:
    return list(OutboxMessage.objects.filter(published_at__isnull=False).order_by("id").values_list("id", flat=True))


def outbox_id(properties) -> int:
    return int(properties.message_id.removeprefix("outbox-"))


def received_ids(channel, queue: str) -> list[int]:
    return [outbox_id(properties) for _, properties, _ in drain(channel, queue)]


def drain(channel, queue: str) -> list[tuple]:
    """Every message left on `queue` right now."""
    messages = []
    while True:
        method, properties, body = channel.basic_get(queue, auto_ack=True)
        if method is None:
            return messages
        messages.append((method, properties, body))


def outbox_fully_published() -> bool:
    return OutboxMessage.objects.exists() and not OutboxMessage.objects.filter(published_at__isnull=True).exists()


@pytest.fixture
def outbox_relay(amqp_channel):
    """An in-process relay, connected, for calling its steps one at a time."""
    relay = OutboxRelay(stop=StopFlag(), batch_size=50, poll_interval=0.1)
    relay.connect()
    yield relay
    relay.disconnect()


def start_relay(processes, name: str = "relay", *flags: str, **env: str):
    return processes(name, manage("run_outbox_relay", *flags), **env)


# --- steps --------------------------------------------------------------------------------


def test_publish_batch_publishes_pending_rows_in_id_order_and_marks_them(outbox_relay, amqp_channel):
    probe = bind_probe_queue(amqp_channel, broker.ORDERS_EXCHANGE, "kitchen.#")
    orders = [
        create_order(),
        create_order(order_type="dine_in", table_number=4),
        create_order(order_type="delivery", delivery_address="12 Long Street, Springfield"),
    ]
    rows = list(OutboxMessage.objects.order_by("id"))

    assert outbox_relay.publish_batch() == 3

    messages = get_messages(amqp_channel, probe, 3)
    assert [outbox_id(properties) for _, properties, _ in messages] == [row.id for row in rows]
    assert [json.loads(body)["order_number"] for _, _, body in messages] == [order.number for order in orders]
    assert [method.routing_key for method, _, _ in messages] == [
        "kitchen.takeout.1",
        "kitchen.dine_in.1",
        "kitchen.delivery.1",
    ]
    assert all(properties.delivery_mode == 2 for _, properties, _ in messages)
    assert not OutboxMessage.objects.filter(published_at__isnull=True).exists()
    assert outbox_relay.publish_batch() == 0  # nothing left: nothing published twice
    assert drain(amqp_channel, probe) == []


def test_publish_batch_leaves_a_row_the_broker_refused_pending(outbox_relay, amqp_channel):
    # A queue that takes one message and makes the broker nack the next: a negative publisher confirm.
    full = amqp_channel.queue_declare(
        "", exclusive=True, arguments={"x-max-length": 1, "x-overflow": "reject-publish"}
    ).method.queue
    amqp_channel.queue_bind(full, broker.ORDERS_EXCHANGE, routing_key="kitchen.#")
    first, second = create_order(), create_order()
    first_row, second_row = OutboxMessage.objects.order_by("id")

    with pytest.raises(NackError):
        outbox_relay.publish_batch()

    first_row.refresh_from_db()
    second_row.refresh_from_db()
    assert first_row.published_at is not None
    assert second_row.published_at is None
    assert second_row.attempts == 1
    assert "NackError" in second_row.last_error
    [(_, _, body)] = drain(amqp_channel, full)
    assert json.loads(body)["order_number"] == first.number

    # Once the broker accepts it again, the refused row goes out (only it: the first stays published once).
    outbox_relay.disconnect()
    outbox_relay.connect()
    assert outbox_relay.publish_batch() == 1
    [(_, _, body)] = get_messages(amqp_channel, full, 1)
    assert json.loads(body)["order_number"] == second.number


def test_publish_batch_stands_by_while_another_relay_holds_the_lock(outbox_relay, amqp_channel):
    probe = bind_probe_queue(amqp_channel, broker.ORDERS_EXCHANGE, "kitchen.#")
    order = create_order()

    with psycopg.connect(**listener_params()) as other_relay:
        other_relay.execute("SELECT pg_advisory_xact_lock(%s)", [RELAY_LOCK_KEY])
        assert outbox_relay.publish_batch() == 0
        assert OutboxMessage.objects.get().published_at is None
        other_relay.rollback()  # the other relay's transaction ends: the lock is free

    assert outbox_relay.publish_batch() == 1
    [(_, _, body)] = get_messages(amqp_channel, probe, 1)
    assert json.loads(body)["order_number"] == order.number


def test_a_batch_is_one_transaction_that_reads_its_rows_only_after_taking_the_lock(outbox_relay):
    create_order(), create_order()

    with CaptureQueriesContext(connections["default"]) as queries:
        assert outbox_relay.publish_batch() == 2

    statements = [query["sql"].split()[0] for query in queries]
    assert statements == ["BEGIN", "SELECT", "SELECT", "UPDATE", "COMMIT"], queries.captured_queries
    # The rows in a statement of their own, after the lock's: read in one with it, they were read in a
    # snapshot taken before the lock, which could still show the batch another relay had just published.
    assert "pg_try_advisory_xact_lock" in queries[1]["sql"] and '"outbox"' in queries[2]["sql"]


def test_after_a_batch_that_was_not_full_the_relay_gathers_then_drops_the_notifies_of_what_it_took(outbox_relay):
    create_order()
    outbox_relay.gather_window = 0.2  # the insert's NOTIFY is on the listener connection by then

    started = time.monotonic()
    assert outbox_relay.step() is True  # published the row, then gathered

    assert time.monotonic() - started >= 0.2
    assert list(outbox_relay.listener.notifies(timeout=0)) == []
    assert OutboxMessage.objects.get().published_at is not None


def test_status_update_without_any_subscriber_is_done_and_does_not_block_the_outbox(outbox_relay, amqp_channel):
    # Recreate the fanout so no subscriber queue of another test is bound to it.
    amqp_channel.exchange_delete(broker.NOTIFICATIONS_EXCHANGE)
    broker.declare_topology(amqp_channel)
    probe = bind_probe_queue(amqp_channel, broker.ORDERS_EXCHANGE, "kitchen.#")
    with transaction.atomic():
        update = outbox_enqueue(
            exchange=broker.NOTIFICATIONS_EXCHANGE,
            routing_key="",
            body={"order_number": "ORD_20240101_001", "old_status": "received", "new_status": "cooking"},
        )
    order = create_order()

    assert outbox_relay.publish_batch() == 2

    update.refresh_from_db()
    assert update.published_at is not None
    assert update.attempts == 0
    [(_, _, body)] = get_messages(amqp_channel, probe, 1)
    assert json.loads(body)["order_number"] == order.number


def test_order_message_is_delivered_after_its_kitchen_queue_was_deleted(outbox_relay, amqp_channel):
    takeout_queue = kitchen_queue("takeout")
    amqp_channel.queue_delete(takeout_queue)  # an operator deleted it after the relay declared it
    order = create_order(order_type="takeout")

    assert outbox_relay.publish_batch() == 1

    [(method, properties, body)] = get_messages(amqp_channel, takeout_queue, 1)
    assert json.loads(body)["order_number"] == order.number
    assert properties.priority == order.priority
    # Redeclared with the SPEC arguments (a plain redeclare would clash with them).
    amqp_channel.queue_declare(takeout_queue, durable=True, arguments=kitchen_queue_arguments())
    assert OutboxMessage.objects.get().published_at is not None


def test_a_nack_mid_batch_marks_only_the_rows_before_it_and_the_rest_go_again_later(outbox_relay, amqp_channel):
    # A queue that takes two messages and makes the broker nack the rest.
    full = amqp_channel.queue_declare(
        "", exclusive=True, arguments={"x-max-length": 2, "x-overflow": "reject-publish"}
    ).method.queue
    amqp_channel.queue_bind(full, broker.ORDERS_EXCHANGE, routing_key="kitchen.#")
    updates = bind_probe_queue(amqp_channel, broker.NOTIFICATIONS_EXCHANGE)
    a, a_update, b, c, d, d_update = (
        enqueue_order_message("ORD_A", 0),
        enqueue_status_update("ORD_A"),
        enqueue_order_message("ORD_B", 0),
        enqueue_order_message("ORD_C", 0),  # nacked: the queue is full
        enqueue_order_message("ORD_D", 0),  # nacked too
        enqueue_status_update("ORD_D"),  # confirmed, but after a failure
    )

    with pytest.raises(NackError):
        outbox_relay.publish_batch()

    assert published_ids() == [a, a_update, b]
    refused = OutboxMessage.objects.get(id=c)
    assert refused.attempts == 1
    assert "NackError" in refused.last_error
    assert set(OutboxMessage.objects.filter(id__in=[d, d_update]).values_list("attempts", flat=True)) == {0}
    assert received_ids(amqp_channel, full) == [a, b]

    # Once the queue has room again, the rows from the nacked one on go out, in order.
    outbox_relay.disconnect()
    outbox_relay.connect()
    assert outbox_relay.publish_batch() == 3
    assert published_ids() == [a, a_update, b, c, d, d_update]
    assert received_ids(amqp_channel, full) == [c, d]
    # The update after the failure went out twice (it was not marked); the one before it once.
    assert received_ids(amqp_channel, updates) == [a_update, d_update, d_update]


def test_an_order_message_unroutable_even_after_redeclaring_stops_the_batch_there(outbox_relay, amqp_channel):
    takeout = bind_probe_queue(amqp_channel, broker.ORDERS_EXCHANGE, "kitchen.takeout.*")
    a = enqueue_order_message("ORD_A", 0)
    b = enqueue_order_message("ORD_B", 0, routing_key="kitchen.catering.1")  # no kitchen queue for it
    c = enqueue_order_message("ORD_C", 0)

    with pytest.raises(UnroutableError):
        outbox_relay.publish_batch()

    assert published_ids() == [a]
    returned = OutboxMessage.objects.get(id=b)
    assert returned.attempts == 1
    assert "UnroutableError" in returned.last_error
    assert OutboxMessage.objects.get(id=c).published_at is None

    catering = bind_probe_queue(amqp_channel, broker.ORDERS_EXCHANGE, "kitchen.catering.*")
    outbox_relay.disconnect()
    outbox_relay.connect()
    assert outbox_relay.publish_batch() == 2
    assert received_ids(amqp_channel, catering) == [b]
    # C reached its queue in the first try and in the retry after redeclaring, unmarked both times.
    assert received_ids(amqp_channel, takeout) == [a, c, c, c]


def test_a_batch_with_a_deleted_kitchen_queue_is_republished_from_the_returned_message_on(outbox_relay, amqp_channel):
    amqp_channel.queue_delete(kitchen_queue("takeout"))
    create_order(order_type="dine_in", table_number=4)
    second, third = create_order(order_type="takeout"), create_order(order_type="takeout")

    assert outbox_relay.publish_batch() == 3

    assert outbox_fully_published()
    rows = list(OutboxMessage.objects.order_by("id").values_list("id", flat=True))
    assert received_ids(amqp_channel, kitchen_queue("dine_in")) == rows[:1]  # before the return: once
    takeout = [json.loads(body)["order_number"] for _, _, body in drain(amqp_channel, kitchen_queue("takeout"))]
    assert takeout == [second.number, third.number]


def test_broker_connection_lost_mid_batch_marks_only_what_was_confirmed(
    broker_proxy, amqp_channel, settings, monkeypatch
):
    settings.RABBITMQ_URL = url_through(os.environ["RABBITMQ_URL"], broker_proxy)
    probe = bind_probe_queue(amqp_channel, broker.ORDERS_EXCHANGE, "kitchen.#")
    ids = enqueue_many(900, orders=30)
    relay = OutboxRelay(stop=StopFlag(), batch_size=1000)
    relay.connect()
    publisher = relay.publisher
    publish, published = publisher.channel.basic_publish, []

    def cut_halfway_once_some_are_confirmed(*args, **kwargs):
        # Halfway through the batch, once the broker has confirmed some of it (not all: half is
        # not even sent), the connection is lost. Waiting for that confirm here, rather than cutting
        # at the first confirm, keeps the broker from confirming the whole batch first.
        if len(published) == len(ids) // 2:
            publisher._run_until(lambda: len(publisher.unsettled) < len(published), timeout=10)
            assert len(publisher.unsettled) < len(published), "the broker confirmed nothing in 10 s"
            broker_proxy.cut()
        published.append(args)
        return publish(*args, **kwargs)

    monkeypatch.setattr(publisher.channel, "basic_publish", cut_halfway_once_some_are_confirmed)
    try:
        with pytest.raises(AMQPError):
            relay.publish_batch()
        marked = published_ids()
        assert 0 < len(marked) < len(ids)
        assert marked == ids[: len(marked)]  # a prefix, up to the first unconfirmed row
        first_unconfirmed = OutboxMessage.objects.get(id=ids[len(marked)])
        assert first_unconfirmed.attempts == 1

        broker_proxy.restore()
        relay.disconnect()
        relay.connect()
        assert relay.publish_batch() == len(ids) - len(marked)
    finally:
        relay.disconnect()

    assert outbox_fully_published()
    received = received_ids(amqp_channel, probe)  # all there: the broker confirmed them
    # What reached the broker before the cut (a prefix, at least the marked rows), then every unmarked row again.
    reached = len(received) - (len(ids) - len(marked))
    assert len(marked) <= reached <= len(ids)
    assert received == ids[:reached] + ids[len(marked) :]


# --- the command ------------------------------------------------------------------------


def test_orders_taken_while_broker_unreachable_are_published_once_it_returns(
    broker_proxy, processes, web_url, amqp_channel
):
    relay = start_relay(processes, RABBITMQ_URL=url_through(os.environ["RABBITMQ_URL"], broker_proxy))
    relay.wait_for_action("broker_connected")
    probe = bind_probe_queue(amqp_channel, broker.ORDERS_EXCHANGE, "kitchen.#")

    broker_proxy.cut()
    numbers = []
    for _ in range(5):
        response = requests.post(f"{web_url}/orders", json=order_payload(), timeout=15)
        assert response.status_code == 201, response.text
        numbers.append(response.json()["order_number"])
    relay.wait_for_action("relay_connection_lost")
    assert relay.proc.poll() is None
    assert drain(amqp_channel, probe) == []
    broker_proxy.restore()

    wait_for(outbox_fully_published, timeout=30, message="every outbox row published")
    received = [json.loads(body)["order_number"] for _, _, body in drain(amqp_channel, probe)]
    assert sorted(received) == sorted(numbers)  # each order exactly once
    assert relay.proc.poll() is None


def test_relay_started_while_broker_unreachable_keeps_retrying_then_publishes(broker_proxy, processes, amqp_channel):
    orders = [create_order(), create_order()]
    probe = bind_probe_queue(amqp_channel, broker.ORDERS_EXCHANGE, "kitchen.#")
    broker_proxy.cut()

    relay = start_relay(processes, RABBITMQ_URL=url_through(os.environ["RABBITMQ_URL"], broker_proxy))
    lost = relay.wait_for_action("relay_connection_lost", count=2)
    assert relay.proc.poll() is None
    assert lost[1]["details"]["retry_in_seconds"] > lost[0]["details"]["retry_in_seconds"]  # backing off
    assert not OutboxMessage.objects.filter(published_at__isnull=False).exists()
    broker_proxy.restore()

    messages = get_messages(amqp_channel, probe, 2, timeout=30)
    assert [json.loads(body)["order_number"] for _, _, body in messages] == [order.number for order in orders]
    wait_for(outbox_fully_published, message="outbox rows marked published")


def test_two_relays_publish_each_message_once_and_in_order_per_order(processes, web_url, amqp_channel):
    first = start_relay(processes, "relay-1")
    second = start_relay(processes, "relay-2")
    first.wait_for_action("broker_connected")
    second.wait_for_action("broker_connected")
    probe = bind_probe_queue(amqp_channel, broker.ORDERS_EXCHANGE, "kitchen.#")
    extra_messages = 2

    def place_order(index: int) -> str:
        try:
            response = requests.post(f"{web_url}/orders", json=order_payload(), timeout=15)
            assert response.status_code == 201, response.text
            number = response.json()["order_number"]
            for sequence in range(1, extra_messages + 1):
                enqueue_order_message(number, sequence)
            return number
        finally:
            connections.close_all()  # this thread's connection

    with ThreadPoolExecutor(max_workers=6) as pool:
        numbers = list(pool.map(place_order, range(60)))
    assert len(set(numbers)) == 60

    wait_for(outbox_fully_published, timeout=30, message="every outbox row published")
    total = OutboxMessage.objects.count()
    assert total == 60 * (1 + extra_messages)
    messages = drain(amqp_channel, probe)

    per_order: dict[str, list[tuple[int, int | None]]] = defaultdict(list)
    for _, properties, body in messages:
        message = json.loads(body)
        per_order[message["order_number"]].append((outbox_id(properties), message.get("sequence")))
    assert sorted(per_order) == sorted(numbers)
    for number, received in per_order.items():
        # exactly once each: the order message, then its later messages, in outbox id order
        assert [sequence for _, sequence in received] == [None, 1, 2], (number, received)
        ids = [row_id for row_id, _ in received]
        assert ids == sorted(ids), (number, received)
    assert len(messages) == total
    assert first.proc.poll() is None and second.proc.poll() is None


def test_two_relays_keep_each_orders_messages_in_order_across_many_small_batches(processes, amqp_channel):
    probe = bind_probe_queue(amqp_channel, broker.ORDERS_EXCHANGE, "kitchen.#")
    first = start_relay(processes, "relay-1", "--batch-size=7")
    second = start_relay(processes, "relay-2", "--batch-size=7")
    first.wait_for_action("broker_connected")
    second.wait_for_action("broker_connected")
    ids = enqueue_many(300, orders=20)  # a backlog: one of them publishes it, 7 rows a batch
    for sequence in range(15, 20):  # and more while it does, each in a transaction of its own
        for order in range(20):
            ids.append(enqueue_order_message(f"ORD_{order}", sequence))

    wait_for(outbox_fully_published, timeout=60, message="every outbox row published")
    messages = drain(amqp_channel, probe)
    assert sorted(outbox_id(properties) for _, properties, _ in messages) == ids  # each exactly once
    # They took turns: each NOTIFY wakes both, and the one that gets the lock publishes the next batches.
    assert first.actions("order_published") and second.actions("order_published")
    per_order: dict[str, list[int]] = defaultdict(list)
    for _, _, body in messages:
        message = json.loads(body)
        per_order[message["order_number"]].append(message["sequence"])
    assert per_order == {f"ORD_{order}": list(range(20)) for order in range(20)}
    assert first.proc.poll() is None and second.proc.poll() is None


@pytest.mark.parametrize("broker_reachable", [True, False], ids=["idle", "retrying"])
def test_sigterm_stops_the_relay_cleanly(broker_proxy, processes, amqp_channel, broker_reachable):
    if not broker_reachable:
        broker_proxy.cut()
    relay = start_relay(processes, RABBITMQ_URL=url_through(os.environ["RABBITMQ_URL"], broker_proxy))
    relay.wait_for_action("broker_connected" if broker_reachable else "relay_connection_lost")

    started = time.monotonic()
    relay.send(signal.SIGTERM)
    assert relay.wait(timeout=10) == 0
    assert time.monotonic() - started < 5
    [line] = relay.actions("graceful_shutdown")
    assert line["service"] == "outbox-relay"


def test_relay_reconnects_when_the_broker_closes_its_connection(relay, amqp_channel):
    probe = bind_probe_queue(amqp_channel, broker.ORDERS_EXCHANGE, "kitchen.#")
    [pid] = wait_for(lambda: connection_pids("outbox-relay"), message="the relay's connection")

    rabbitmqctl("close_connection", pid, "test")

    relay.wait_for_action("relay_connection_lost")
    relay.wait_for_action("broker_connected", count=2)
    order = create_order()
    [(_, _, body)] = get_messages(amqp_channel, probe, 1, timeout=30)
    assert json.loads(body)["order_number"] == order.number
    wait_for(outbox_fully_published, message="the order's row marked published")
    assert relay.proc.poll() is None


def test_relay_survives_database_refusing_connections(processes, relay, amqp_channel, test_database_name):
    probe = bind_probe_queue(amqp_channel, broker.ORDERS_EXCHANGE, "kitchen.#")
    create_order()
    get_messages(amqp_channel, probe, 1)
    wait_for(outbox_fully_published, message="the first order's row marked published")

    with database_outage(test_database_name):
        relay.wait_for_action("relay_connection_lost", count=3, timeout=20)  # retried for a few seconds
        assert relay.proc.poll() is None

    after = [create_order(), create_order()]
    messages = get_messages(amqp_channel, probe, 2, timeout=30)
    assert [json.loads(body)["order_number"] for _, _, body in messages] == [order.number for order in after]
    wait_for(outbox_fully_published, message="the later rows marked published")
    assert drain(amqp_channel, probe) == []  # nothing published twice
    assert relay.proc.poll() is None


def test_relay_exits_1_when_a_kitchen_queue_clashes_with_the_topology(processes, amqp_channel):
    takeout_queue = kitchen_queue("takeout")
    amqp_channel.queue_delete(takeout_queue)
    amqp_channel.queue_declare(takeout_queue, durable=True)  # no x-max-priority, no dead-lettering
    try:
        relay = start_relay(processes)
        assert relay.wait(timeout=20) == 1
        [line] = relay.actions("topology_mismatch")
        assert line["level"] == "ERROR"
        assert takeout_queue in line["message"]
        assert not relay.actions("broker_connected")
    finally:
        amqp_channel.queue_delete(takeout_queue)
        broker.declare_topology(amqp_channel)
