"""The kitchen worker (kitchen/worker.py) handling one delivery at a time, in-process: registered in
this run's database, consuming this run's vhost of the real RabbitMQ, driven by calling `step()`.
The subprocess tests (test_worker.py, test_worker_faults.py) cover the command around it."""

import logging

import pytest

from kitchen.models import Worker
from kitchen.topology import kitchen_queue
from orders.messages import order_routing_key
from orders.models import OrderStatus
from restaurant import broker
from restaurant.lifecycle import Backoff
from restaurant.models import OutboxMessage
from tests.amqp import NESTED_BODIES, get_messages, publish_order_message, queue_depth
from tests.factories import create_order, load_test_menu, logged_statuses
from tests.support import handle_one, wait_for

TIMEOUT = 20

pytestmark = pytest.mark.django_db(transaction=True)  # the worker commits its own transactions


def test_one_delivery_is_cooked_to_ready_with_one_row_per_status_and_acked(amqp_channel, in_process_worker):
    worker = in_process_worker("chef_steps")
    order = create_order(request_id="req-worker-steps")
    publish_order_message(amqp_channel, order)

    handle_one(worker)

    order.refresh_from_db()
    assert order.status == OrderStatus.READY and order.processed_by == "chef_steps"
    assert logged_statuses(order) == ["cooking", "ready", "received"]
    assert Worker.objects.get(name="chef_steps").orders_processed == 1
    # Handled under the message's request ID: the status updates it wrote carry it on.
    updates = OutboxMessage.objects.filter(exchange=broker.NOTIFICATIONS_EXCHANGE).order_by("id")
    assert [(row.headers, broker.json_object(row.body.encode())["new_status"]) for row in updates] == [
        ({"request_id": "req-worker-steps"}, "cooking"),
        ({"request_id": "req-worker-steps"}, "ready"),
    ]
    assert worker.step() is False  # nothing else came: the delivery was acked, not redelivered
    worker.shutdown()
    assert queue_depth(amqp_channel, kitchen_queue(order.order_type)) == 0
    assert queue_depth(amqp_channel, broker.DEAD_LETTER_QUEUE) == 0


def test_a_poison_body_is_dead_lettered_with_its_reason_and_leaves_the_queue(amqp_channel, in_process_worker):
    worker = in_process_worker("chef_poison")
    amqp_channel.basic_publish(broker.ORDERS_EXCHANGE, order_routing_key("takeout", 1), b"not json")

    handle_one(worker)

    method, properties, body = wait_for(
        lambda: amqp_channel.basic_get(broker.DEAD_LETTER_QUEUE, auto_ack=True) or None,
        timeout=TIMEOUT,
        message="the dead letter",
    )
    assert body == b"not json"
    assert properties.headers["x-dead-letter-reason"].startswith("body is not JSON")
    assert properties.headers["x-dead-lettered-by"] == "chef_poison"
    assert properties.headers["x-original-routing-key"] == "kitchen.takeout.1"
    worker.shutdown()
    assert queue_depth(amqp_channel, kitchen_queue("takeout")) == 0


def test_a_deeply_nested_body_is_dead_lettered_as_not_json_and_the_next_order_is_cooked(
    amqp_channel, in_process_worker
):
    worker = in_process_worker("chef_nested")
    for body in NESTED_BODIES:
        amqp_channel.basic_publish(broker.ORDERS_EXCHANGE, order_routing_key("takeout", 1), body)
    order = create_order()
    publish_order_message(amqp_channel, order)

    for _ in range(3):
        handle_one(worker)

    dead = get_messages(amqp_channel, broker.DEAD_LETTER_QUEUE, 2, timeout=TIMEOUT)
    assert [body for _, _, body in dead] == list(NESTED_BODIES)
    for _, properties, _ in dead:
        assert properties.headers["x-dead-letter-reason"].startswith("body is not JSON: maximum recursion depth")
    order.refresh_from_db()
    assert order.status == OrderStatus.READY
    worker.shutdown()


def test_a_bug_outside_the_cook_is_retried_with_back_off_then_dead_lettered_and_the_worker_goes_on(
    amqp_channel, in_process_worker, monkeypatch, caplog
):
    worker = in_process_worker("chef_buggy")
    worker.retry_backoff = Backoff(initial=0.01, cap=0.02)
    order = create_order()
    publish_order_message(amqp_channel, order)

    def broken(body):
        raise RuntimeError("a bug in the parser")

    monkeypatch.setattr("kitchen.worker.parse_order_message", broken)
    with caplog.at_level(logging.INFO):
        wait_for(
            lambda: worker.step() and queue_depth(amqp_channel, broker.DEAD_LETTER_QUEUE) == 1,
            timeout=TIMEOUT,
            message="the message dead-lettered",
        )

    requeues = [record for record in caplog.records if getattr(record, "action", "") == "order_requeued"]
    assert [record.details["attempts"] for record in requeues] == [1, 2, 3, 4]
    assert all(record.exc_info[0] is RuntimeError for record in requeues)  # each one line, with its stack
    [(_, properties, _)] = get_messages(amqp_channel, broker.DEAD_LETTER_QUEUE, 1, timeout=TIMEOUT)
    assert properties.headers["x-dead-letter-reason"] == "failed 5 times: RuntimeError: a bug in the parser"
    assert worker.connected and worker.step() is False  # still consuming, nothing left to take
    worker.shutdown()
    assert queue_depth(amqp_channel, kitchen_queue("takeout")) == 0
    assert Worker.objects.get(name="chef_buggy").status == "offline"  # stopped by us, not by the bug


def test_an_order_of_a_type_the_worker_does_not_cook_is_requeued_untouched(amqp_channel, in_process_worker, caplog):
    worker = in_process_worker("chef_takeout_only", ("takeout",))
    order = create_order(order_type="dine_in", table_number=4)
    publish_order_message(amqp_channel, order, routing_key=order_routing_key("takeout", 1))  # misrouted

    with caplog.at_level(logging.INFO):
        handle_one(worker)

    assert [getattr(r, "action", "") for r in caplog.records].count("order_not_ours") == 1
    worker.shutdown()  # hands back the redelivery if it was prefetched again
    order.refresh_from_db()
    assert order.status == OrderStatus.RECEIVED and logged_statuses(order) == ["received"]
    queue = kitchen_queue("takeout")
    wait_for(lambda: queue_depth(amqp_channel, queue) == 1, timeout=TIMEOUT, message="the order back in its queue")
    method, _, _ = amqp_channel.basic_get(queue, auto_ack=True)
    assert method.redelivered  # the same message, given back, not a copy
    assert queue_depth(amqp_channel, broker.DEAD_LETTER_QUEUE) == 0


def test_an_order_of_menu_items_and_free_items_is_cooked_like_any_other(amqp_channel, in_process_worker):
    load_test_menu()
    worker = in_process_worker("chef_menu")
    menu_line = {"sku": "margherita", "quantity": 2, "modifiers": ["medium"], "notes": "well done"}
    order = create_order(items=[menu_line, {"name": "Candle", "quantity": 1, "price": 0.5}])
    publish_order_message(amqp_channel, order)

    handle_one(worker)

    order.refresh_from_db()
    assert order.status == OrderStatus.READY
    assert logged_statuses(order) == ["cooking", "ready", "received"]
    assert queue_depth(amqp_channel, kitchen_queue(order.order_type)) == 0
