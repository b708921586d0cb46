"""The kitchen worker (SPEC §4) as the real command, against the real PostgreSQL and RabbitMQ.

Orders are written in-process through `order_create` and published by a real relay; workers run
as subprocesses. Cooking times are scaled by COOKING_TIME_SCALE (0.05 unless a test needs a long cook).
"""

import json
import signal
import subprocess
from collections import defaultdict
from datetime import datetime, timedelta

import pika
import pytest

from kitchen.models import Worker, WorkerStatus
from kitchen.services import WorkerAlreadyOnline, worker_register
from kitchen.topology import kitchen_queue
from orders.models import Order, OrderStatus, OrderStatusLog
from orders.timing import cooking_time
from restaurant import broker
from restaurant.models import OutboxMessage
from tests.amqp import NESTED_BODIES, bind_probe_queue, get_messages, queue_depth, rabbitmqctl, wait_for_queue_depth
from tests.factories import create_order, logged
from tests.support import REPO, manage, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

DINE_IN = {"order_type": "dine_in", "table_number": 4}
TAKEOUT = {"order_type": "takeout"}
DELIVERY = {"order_type": "delivery", "delivery_address": "12 Long Street, Springfield"}
BY_TYPE = {"dine_in": DINE_IN, "takeout": TAKEOUT, "delivery": DELIVERY}
BANQUET = [{"name": "Banquet for Ten", "quantity": 1, "price": 120}]  # total > 100: priority 10
TAKEOUT_QUEUE = kitchen_queue("takeout")
LONG_COOK = "0.5"  # takeout cooks 5 s: time enough to signal a worker mid-cook


# --- helpers ----------------------------------------------------------------------------------


def status_of(order: Order) -> str:
    return Order.objects.values_list("status", flat=True).get(pk=order.pk)


def wait_until_ready(*orders: Order, timeout: float = 30) -> None:
    wait_for(
        lambda: all(status_of(order) == OrderStatus.READY for order in orders),
        timeout=timeout,
        message=f"{[order.number for order in orders]} to be ready",
    )


def log_rows(order: Order) -> list[OrderStatusLog]:
    return list(OrderStatusLog.objects.filter(order=order).order_by("changed_at", "id"))


def queue_stats(vhost: str) -> dict[str, tuple[int, int, int]]:
    """{queue: (messages_ready, messages_unacknowledged, consumers)} as the broker reports them."""
    out = rabbitmqctl(
        "list_queues", "-p", vhost, "--silent", "name", "messages_ready", "messages_unacknowledged", "consumers"
    )
    stats = {}
    for line in out.splitlines():
        fields = line.split()
        if len(fields) == 4 and fields[1].isdigit():
            stats[fields[0]] = tuple(int(field) for field in fields[1:])
    return stats


def outbox_drained() -> bool:
    return not OutboxMessage.objects.filter(published_at__isnull=True).exists()


def worker_row(name: str) -> Worker:
    return Worker.objects.get(name=name)


def started_numbers(worker) -> list[str]:
    return [line["details"]["order_number"] for line in worker.actions("order_processing_started")]


def utc(text: str) -> datetime:
    """An ISO 8601 timestamp that must carry the UTC offset."""
    moment = datetime.fromisoformat(text)
    assert moment.utcoffset() == timedelta(0), text
    return moment


# --- cooking ----------------------------------------------------------------------------------


def test_order_of_each_type_goes_received_cooking_ready_with_one_log_row_and_one_update_per_change(
    relay, amqp_channel, start_worker
):
    probe = bind_probe_queue(amqp_channel, broker.NOTIFICATIONS_EXCHANGE)
    worker = start_worker("chef_mario")
    orders = {
        order_type: create_order(request_id=f"req-{order_type}", **payload) for order_type, payload in BY_TYPE.items()
    }

    wait_until_ready(*orders.values())
    worker.wait_for_action("order_completed", count=3)

    updates = defaultdict(list)
    for _, properties, body in get_messages(amqp_channel, probe, 6, timeout=30):
        message = json.loads(body)
        updates[message["order_number"]].append((message, properties))
    for order_type, order in orders.items():
        order.refresh_from_db()
        received, cooking, ready = log_rows(order)
        assert logged(order) == [("received", "order-service"), ("cooking", "chef_mario"), ("ready", "chef_mario")]
        assert order.processed_by == "chef_mario"
        # The worker runs with this process's COOKING_TIME_SCALE (the environment is passed on).
        assert abs(order.estimated_completion - cooking.changed_at - cooking_time(order_type)) < timedelta(seconds=0.5)
        assert order.completed_at is not None and cooking.changed_at < order.completed_at
        assert order.completed_at >= order.estimated_completion - timedelta(seconds=0.05)

        (to_cooking, cooking_props), (to_ready, ready_props) = updates[order.number]
        fields = {"order_number", "old_status", "new_status", "changed_by", "timestamp", "estimated_completion"}
        assert set(to_cooking) == fields and set(to_ready) == fields
        assert (to_cooking["old_status"], to_cooking["new_status"]) == ("received", "cooking")
        assert (to_ready["old_status"], to_ready["new_status"]) == ("cooking", "ready")
        assert to_cooking["changed_by"] == to_ready["changed_by"] == "chef_mario"
        assert utc(to_cooking["timestamp"]) == cooking.changed_at
        assert utc(to_ready["timestamp"]) == ready.changed_at
        assert utc(to_cooking["estimated_completion"]) == order.estimated_completion
        assert utc(to_ready["estimated_completion"]) == order.estimated_completion
        for properties in (cooking_props, ready_props):
            assert properties.headers["request_id"] == f"req-{order_type}"
            assert properties.delivery_mode == 2
        assert received.changed_at < cooking.changed_at < ready.changed_at
        # The request that placed the order is named on the worker's log lines about it (SPEC §7).
        lines = [
            line
            for action in ("order_processing_started", "order_completed")
            for line in worker.actions(action)
            if line["details"]["order_number"] == order.number
        ]
        assert [(line["request_id"], line["service"]) for line in lines] == [
            (f"req-{order_type}", "kitchen-worker")
        ] * 2
    assert amqp_channel.basic_get(probe, auto_ack=True)[0] is None  # nothing notified twice
    assert worker_row("chef_mario").orders_processed == 3


def test_worker_limited_to_dine_in_never_takes_a_takeout_order(relay, amqp_channel, start_worker, rabbitmq_vhost):
    dine_in_chef = start_worker("dine_in_chef", "--order-types=dine_in")
    takeout = create_order()
    dine_in = create_order(**DINE_IN)

    # The takeout message was published before the dine_in one, and stayed queued through its cook.
    wait_until_ready(dine_in)
    wait_for_queue_depth(amqp_channel, TAKEOUT_QUEUE, 1)
    assert logged(takeout) == [("received", "order-service")]
    stats = queue_stats(rabbitmq_vhost)
    assert stats[TAKEOUT_QUEUE] == (1, 0, 0)  # ready, none unacked, nobody consuming it
    assert stats[kitchen_queue("dine_in")][2] == 1
    assert not dine_in_chef.actions("order_not_ours")
    assert started_numbers(dine_in_chef) == [dine_in.number]
    # Peek: the broker has never delivered it to anyone (the peek itself hands it back).
    method, _, body = amqp_channel.basic_get(TAKEOUT_QUEUE, auto_ack=False)
    assert method.redelivered is False
    assert json.loads(body)["order_number"] == takeout.number
    amqp_channel.basic_nack(method.delivery_tag, requeue=True)

    general_chef = start_worker("general_chef")
    wait_until_ready(takeout)

    assert logged(takeout) == [("received", "order-service"), ("cooking", "general_chef"), ("ready", "general_chef")]
    assert Order.objects.get(pk=dine_in.pk).processed_by == "dine_in_chef"
    assert started_numbers(general_chef) == [takeout.number]
    assert worker_row("dine_in_chef").type == "dine_in"
    assert worker_row("general_chef").type == "all"
    assert (worker_row("dine_in_chef").orders_processed, worker_row("general_chef").orders_processed) == (1, 1)


# --- registration -----------------------------------------------------------------------------


def test_name_that_is_online_is_refused_until_its_worker_stops(start_worker):
    first = start_worker("chef_luigi")
    holder = worker_row("chef_luigi").instance_id

    second = start_worker("chef_luigi", wait=False)

    assert second.wait(timeout=30) == 1
    [failure] = second.actions("worker_registration_failed")
    assert failure["level"] == "ERROR"
    assert failure["details"]["worker_name"] == "chef_luigi"
    assert not second.actions("broker_connected")
    assert first.proc.poll() is None
    assert worker_row("chef_luigi").instance_id == holder  # the refused process took nothing over

    first.send(signal.SIGTERM)
    assert first.wait() == 0
    assert worker_row("chef_luigi").status == WorkerStatus.OFFLINE

    start_worker("chef_luigi")
    row = worker_row("chef_luigi")
    assert row.status == WorkerStatus.ONLINE
    assert row.instance_id != holder
    assert Worker.objects.count() == 1


def test_name_of_a_killed_worker_is_refused_until_its_heartbeat_is_stale(start_worker):
    killed = start_worker("chef_gone", "--heartbeat-interval=1")
    # Kill it just after a heartbeat, so the row is as fresh as it gets (stale 2 s later).
    first_seen = worker_row("chef_gone").last_seen
    wait_for(lambda: worker_row("chef_gone").last_seen > first_seen, timeout=20, message="a heartbeat")
    killed.send(signal.SIGKILL)
    killed.wait()
    row = worker_row("chef_gone")
    assert row.status == WorkerStatus.ONLINE  # it had no chance to say goodbye

    # Before it is stale the name is refused: the registration the command makes, made right now.
    with pytest.raises(WorkerAlreadyOnline):
        worker_register(name="chef_gone", order_types=None, heartbeat_interval=1, instance_id="too-early")
    assert worker_row("chef_gone").instance_id == row.instance_id

    wait_for(lambda: worker_row("chef_gone").is_stale(), timeout=20, message="the heartbeat to go stale")
    successor = start_worker("chef_gone", "--heartbeat-interval=1")

    taken = worker_row("chef_gone")
    assert taken.status == WorkerStatus.ONLINE
    assert taken.instance_id not in (row.instance_id, "too-early")
    assert taken.last_seen > row.last_seen
    assert successor.actions("worker_registered")


@pytest.mark.parametrize(
    ("flags", "problem"),
    [
        (
            ["--worker-name=chef_bad", "--order-types=dine_in,brunch"],
            "argument --order-types: unknown order type 'brunch'",
        ),
        (["--worker-name=chef_bad", "--prefetch=0"], "argument --prefetch: must be at least 1"),
        ([], "the following arguments are required: --worker-name"),
    ],
    ids=["unknown-order-type", "zero-prefetch", "no-worker-name"],
)
def test_bad_flags_exit_non_zero_with_a_usage_message_naming_the_problem(flags, problem, service_env):
    result = subprocess.run(
        manage("run_kitchen_worker", *flags), cwd=REPO, env=service_env, capture_output=True, text=True, timeout=60
    )

    assert result.returncode != 0
    assert "usage: manage.py run_kitchen_worker" in result.stderr
    assert problem in result.stderr
    assert "Traceback" not in result.stderr
    assert not Worker.objects.exists()


def test_worker_row_is_online_with_advancing_last_seen_and_offline_after_sigterm(start_worker):
    worker = start_worker("chef_beat", "--order-types=takeout,delivery", "--heartbeat-interval=1")
    row = worker_row("chef_beat")
    assert (row.status, row.type, row.heartbeat_interval, row.orders_processed) == ("online", "takeout,delivery", 1, 0)

    later = wait_for(lambda: (r := worker_row("chef_beat")).last_seen > row.last_seen and r, timeout=20)
    latest = wait_for(lambda: (r := worker_row("chef_beat")).last_seen > later.last_seen and r, timeout=20)
    assert latest.status == WorkerStatus.ONLINE
    worker.wait_for_action("heartbeat_sent", count=2)  # logged just after the row is written

    worker.send(signal.SIGTERM)

    assert worker.wait() == 0
    stopped = worker_row("chef_beat")
    assert stopped.status == WorkerStatus.OFFLINE
    assert stopped.last_seen >= latest.last_seen
    [shutdown] = worker.actions("graceful_shutdown")
    assert shutdown["details"]["signal"] == "SIGTERM"


# --- crashes and shutdown ---------------------------------------------------------------------


def test_order_whose_worker_is_killed_mid_cook_is_finished_by_another_worker(relay, start_worker):
    doomed = start_worker("chef_doomed", COOKING_TIME_SCALE=LONG_COOK)
    order = create_order()
    doomed.wait_for_action("order_processing_started")
    assert status_of(order) == OrderStatus.COOKING

    doomed.send(signal.SIGKILL)
    doomed.wait()
    rescuer = start_worker("chef_rescue")
    wait_until_ready(order)

    assert logged(order) == [("received", "order-service"), ("cooking", "chef_doomed"), ("ready", "chef_rescue")]
    assert Order.objects.get(pk=order.pk).processed_by == "chef_rescue"
    # The redelivery found it cooking: resumed, not started (nor logged or notified) again.
    assert [line["details"]["order_number"] for line in rescuer.actions("order_processing_resumed")] == [order.number]
    assert not rescuer.actions("order_processing_started")
    assert (worker_row("chef_doomed").orders_processed, worker_row("chef_rescue").orders_processed) == (0, 1)


def test_sigterm_mid_cook_finishes_the_order_in_hand_and_requeues_the_prefetched_rest(
    relay, amqp_channel, start_worker
):
    orders = [create_order() for _ in range(5)]
    wait_for_queue_depth(amqp_channel, TAKEOUT_QUEUE, 5)
    worker = start_worker("chef_term", "--prefetch=3", COOKING_TIME_SCALE=LONG_COOK)
    [started] = worker.wait_for_action("order_processing_started")
    wait_for_queue_depth(amqp_channel, TAKEOUT_QUEUE, 2)  # three delivered: one cooking, two waiting

    worker.send(signal.SIGTERM)

    assert worker.wait(timeout=30) == 0
    in_hand = Order.objects.get(number=started["details"]["order_number"])
    assert in_hand.status == OrderStatus.READY
    assert logged(in_hand) == [("received", "order-service"), ("cooking", "chef_term"), ("ready", "chef_term")]
    rest = [order for order in orders if order.pk != in_hand.pk]
    assert [logged(order) for order in rest] == [[("received", "order-service")]] * 4
    assert queue_depth(amqp_channel, TAKEOUT_QUEUE) == 4
    [shutdown] = worker.actions("graceful_shutdown")
    assert shutdown["details"]["signal"] == "SIGTERM"
    row = worker_row("chef_term")
    assert (row.status, row.orders_processed) == (WorkerStatus.OFFLINE, 1)

    successor = start_worker("chef_next")
    wait_until_ready(*rest)
    for order in rest:
        assert logged(order) == [("received", "order-service"), ("cooking", "chef_next"), ("ready", "chef_next")]
    assert sorted(started_numbers(successor)) == sorted(order.number for order in rest)
    assert len(log_rows(in_hand)) == 3


# --- poison messages and priority -------------------------------------------------------------


def test_poison_messages_are_dead_lettered_with_a_reason_and_good_orders_behind_them_are_cooked(
    relay, amqp_channel, start_worker
):
    unknown = {
        "order_number": "ORD_20000101_001",
        "customer_name": "Nobody Known",
        "order_type": "takeout",
        "table_number": None,
        "delivery_address": None,
        "items": [{"name": "Ghost Pizza", "quantity": 1, "price": 9.5}],
        "total_amount": 9.5,
        "priority": 1,
    }
    bodies = [b"{not json at all", json.dumps({"customer_name": "Jane Doe"}).encode(), json.dumps(unknown).encode()]
    for body in bodies:
        amqp_channel.basic_publish(
            broker.ORDERS_EXCHANGE,
            "kitchen.takeout.1",
            body,
            pika.BasicProperties(delivery_mode=2, priority=1, headers={"request_id": "req-poison"}),
        )
    wait_for_queue_depth(amqp_channel, TAKEOUT_QUEUE, 3)
    good = [create_order(), create_order()]
    wait_for_queue_depth(amqp_channel, TAKEOUT_QUEUE, 5)

    worker = start_worker("chef_poison")
    wait_until_ready(*good)

    dead = get_messages(amqp_channel, broker.DEAD_LETTER_QUEUE, 3, timeout=30)
    assert [body for _, _, body in dead] == bodies
    reasons = [properties.headers["x-dead-letter-reason"] for _, properties, _ in dead]
    assert "not JSON" in reasons[0]
    assert "order_number" in reasons[1]
    assert "unknown order ORD_20000101_001" in reasons[2]
    for _, properties, _ in dead:
        assert properties.headers["x-original-routing-key"] == "kitchen.takeout.1"
        assert properties.headers["request_id"] == "req-poison"
    for order in good:
        assert logged(order) == [("received", "order-service"), ("cooking", "chef_poison"), ("ready", "chef_poison")]
    assert len(worker.wait_for_action("order_dead_lettered", count=3)) == 3
    assert queue_depth(amqp_channel, TAKEOUT_QUEUE) == 0
    assert not Order.objects.filter(number="ORD_20000101_001").exists()


def test_deeply_nested_bodies_are_dead_lettered_and_the_worker_lives_on_to_cook_the_next_order(
    relay, amqp_channel, start_worker
):
    worker = start_worker("chef_nested")
    for body in NESTED_BODIES:
        amqp_channel.basic_publish(
            broker.ORDERS_EXCHANGE,
            "kitchen.takeout.1",
            body,
            pika.BasicProperties(delivery_mode=2, priority=1, headers={"request_id": "req-nested"}),
        )
    dead = get_messages(amqp_channel, broker.DEAD_LETTER_QUEUE, 2, timeout=30)
    good = create_order()

    wait_until_ready(good)

    assert [body for _, _, body in dead] == list(NESTED_BODIES)
    for _, properties, _ in dead:
        headers = properties.headers
        assert headers["x-dead-letter-reason"].startswith("body is not JSON: maximum recursion depth exceeded")
        assert headers["x-original-routing-key"] == "kitchen.takeout.1"
        assert headers["x-dead-lettered-by"] == "chef_nested"
    lines = worker.wait_for_action("order_dead_lettered", count=2)
    assert [line["request_id"] for line in lines] == ["req-nested"] * 2
    assert logged(good) == [("received", "order-service"), ("cooking", "chef_nested"), ("ready", "chef_nested")]
    assert worker.proc.poll() is None
    assert "Traceback" not in worker.output()
    assert worker_row("chef_nested").status == WorkerStatus.ONLINE
    assert queue_depth(amqp_channel, TAKEOUT_QUEUE) == 0


def test_high_priority_order_is_cooked_before_earlier_low_priority_ones(relay, amqp_channel, start_worker):
    low = [create_order() for _ in range(6)]
    high = create_order(items=BANQUET)
    assert [order.priority for order in low] == [1] * 6 and high.priority == 10
    wait_for(outbox_drained, timeout=30, message="the relay to publish every order")
    wait_for_queue_depth(amqp_channel, TAKEOUT_QUEUE, 7)

    worker = start_worker("chef_prio", "--prefetch=1")
    worker.wait_for_action("order_processing_started", count=7, timeout=30)
    wait_until_ready(high, *low)

    expected = [high.number] + [order.number for order in low]
    assert started_numbers(worker) == expected
    cooking = OrderStatusLog.objects.filter(status=OrderStatus.COOKING).order_by("changed_at", "id")
    assert [row.order.number for row in cooking.select_related("order")] == expected
