"""Kitchen workers and people on the display share one state machine (kitchen/worker.py, the cook
step): a worker leaves alone an order a person started or finished, still resumes one a dead worker
left cooking, and a person racing a real worker subprocess for an order ends with one `cooking` and
one `ready` row, whoever wins."""

import logging

import pytest

from kitchen.models import Worker
from kitchen.services import worker_go_offline, worker_register
from kitchen.topology import kitchen_queue
from orders.models import Order, OrderStatus
from orders.services import order_mark_ready, order_start_cooking
from tests.amqp import publish_order_message, queue_depth
from tests.factories import KITCHEN, create_order, logged, staff_user
from tests.support import handle_one, wait_for

pytestmark = pytest.mark.django_db(transaction=True)  # the workers commit their own transactions

TAKEOUT_QUEUE = kitchen_queue("takeout")


def skips(caplog) -> list[logging.LogRecord]:
    return [record for record in caplog.records if getattr(record, "action", "") == "order_skipped"]


# --- one delivery, in-process ------------------------------------------------------------------


def test_a_worker_acks_and_leaves_alone_an_order_a_person_started(amqp_channel, in_process_worker, caplog):
    worker = in_process_worker("chef_auto")
    person = staff_user(KITCHEN, "anna", is_staff=False).username
    order = create_order()
    order_start_cooking(number=order.number, changed_by=person)
    publish_order_message(amqp_channel, order)

    with caplog.at_level(logging.INFO):
        handle_one(worker)

    order.refresh_from_db()
    assert order.status == OrderStatus.COOKING and order.processed_by == "anna"
    assert logged(order) == [("received", "order-service"), ("cooking", "anna")]  # no ready by the worker
    [skip] = skips(caplog)
    assert "anna" in skip.getMessage() and order.number in skip.getMessage()
    assert Worker.objects.get(name="chef_auto").orders_processed == 0
    assert worker.step() is False  # acked: nothing redelivered
    worker.shutdown()
    assert queue_depth(amqp_channel, TAKEOUT_QUEUE) == 0

    order_mark_ready(number=order.number, changed_by=person)  # the person finishes it
    assert logged(order)[1:] == [("cooking", "anna"), ("ready", "anna")]


def test_a_worker_acks_and_leaves_alone_an_order_a_person_already_made_ready(amqp_channel, in_process_worker, caplog):
    worker = in_process_worker("chef_auto")
    order = create_order()
    order_start_cooking(number=order.number, changed_by="anna")
    order_mark_ready(number=order.number, changed_by="anna")
    publish_order_message(amqp_channel, order)

    with caplog.at_level(logging.INFO):
        handle_one(worker)

    assert logged(order) == [("received", "order-service"), ("cooking", "anna"), ("ready", "anna")]
    [skip] = skips(caplog)
    assert "already ready" in skip.getMessage() and "anna" in skip.getMessage()
    worker.shutdown()
    assert queue_depth(amqp_channel, TAKEOUT_QUEUE) == 0


def test_a_worker_resumes_an_order_a_dead_worker_left_cooking(amqp_channel, in_process_worker, caplog):
    worker_register(name="chef_dead", order_types=None, heartbeat_interval=30, instance_id="gone")
    order = create_order()
    order_start_cooking(number=order.number, changed_by="chef_dead")
    worker_go_offline(name="chef_dead", instance_id="gone")
    worker = in_process_worker("chef_rescue")
    publish_order_message(amqp_channel, order)

    with caplog.at_level(logging.INFO):
        handle_one(worker)

    assert logged(order) == [("received", "order-service"), ("cooking", "chef_dead"), ("ready", "chef_rescue")]
    assert skips(caplog) == []
    assert Worker.objects.get(name="chef_rescue").orders_processed == 1


# --- a person racing a real worker -------------------------------------------------------------


def test_a_person_and_a_worker_racing_for_orders_end_with_one_cooking_and_one_ready_row(amqp_channel, start_worker):
    """Ten orders, the person's start issued before the publish (the person wins), after the worker
    has started (the worker wins), right after the publish or the moment the worker has taken the
    message off the queue (real races, either may win)."""
    worker = start_worker("chef_race", COOKING_TIME_SCALE="0.05")  # a takeout cooks 0.5 s
    person = staff_user(KITCHEN, "anna", is_staff=False).username
    plans = ["person first", "worker first"] + ["race at publish", "race at delivery"] * 4
    outcomes = {}
    for plan in plans:
        order = create_order()
        if plan == "person first":
            first = order_start_cooking(number=order.number, changed_by=person)
            publish_order_message(amqp_channel, order)
        else:
            publish_order_message(amqp_channel, order)
            if plan == "worker first":
                wait_for(lambda n=order.number: started(worker, n), timeout=20, message="the worker to start it")
            elif plan == "race at delivery":
                wait_for(lambda: queue_depth(amqp_channel, TAKEOUT_QUEUE) == 0, timeout=20, message="the delivery")
            first = order_start_cooking(number=order.number, changed_by=person)

        def settled(number=order.number):
            ready = Order.objects.get(number=number).status == OrderStatus.READY
            return ready or skipped(worker, number)

        wait_for(settled, timeout=20, message=f"the worker to finish or leave {order.number}")
        if skipped(worker, order.number):  # the person has it: they finish it
            assert order_mark_ready(number=order.number, changed_by=person).changed
        outcomes[order.number] = (plan, first.changed)

    person_won = {number for number, (_, changed) in outcomes.items() if changed}
    assert outcomes[next(iter(outcomes))] == ("person first", True)
    assert list(outcomes.values())[1] == ("worker first", False)
    for number, (plan, changed) in outcomes.items():
        order = Order.objects.get(number=number)
        cook = person if changed else "chef_race"
        assert order.status == OrderStatus.READY, (plan, number)
        assert logged(order) == [("received", "order-service"), ("cooking", cook), ("ready", cook)], (plan, number)
        # The loser's part was a clear no-op: a skip logged by the worker, or False for the person.
        assert skipped(worker, number) == changed, (plan, number)
        assert started(worker, number) != changed, (plan, number)
    worker_ready = [line["details"]["order_number"] for line in worker.actions("order_completed")]
    assert sorted(worker_ready) == sorted(set(outcomes) - person_won)
    wait_for(
        lambda: Worker.objects.get(name="chef_race").orders_processed == len(outcomes) - len(person_won), timeout=5
    )
    wait_for(lambda: queue_depth(amqp_channel, TAKEOUT_QUEUE) == 0, timeout=10, message="every message acked")


def started(worker, number: str) -> bool:
    return any(line["details"]["order_number"] == number for line in worker.actions("order_processing_started"))


def skipped(worker, number: str) -> bool:
    return any(line["details"]["order_number"] == number for line in worker.actions("order_skipped"))
