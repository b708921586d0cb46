"""Operator tooling for dead letters (kitchen/dead_letters.py and `manage.py dead_letters`), against
the real RabbitMQ (and, for the replay of a real dead letter, a real kitchen worker and PostgreSQL).

Messages are put in `dead_letter_queue` either by a running worker (the real path) or, where only the
tooling is under test, published there with the headers the worker writes.
"""

import hashlib
import json
import subprocess
from datetime import datetime, timedelta
from io import StringIO

import pika
import pytest
from django.core.management import call_command
from django.utils import timezone

from kitchen.dead_letters import (
    DeadLetterNotFound,
    dead_letter_discard,
    dead_letter_list,
    dead_letter_replay,
)
from kitchen.topology import kitchen_queue
from orders.models import Order, OrderStatus
from orders.services import format_order_number
from restaurant import broker
from restaurant import logging as app_logging
from tests.amqp import (
    NESTED_BODIES,
    bind_probe_queue,
    get_messages,
    put_dead_letter,
    queue_depth,
    rabbitmqctl,
    wait_for_queue_depth,
)
from tests.factories import create_order, logged
from tests.support import REPO, manage, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

DLQ = broker.DEAD_LETTER_QUEUE
TAKEOUT_QUEUE = kitchen_queue("takeout")
DINE_IN_QUEUE = kitchen_queue("dine_in")
TIMEOUT = 30  # two cores shared with other test runs


# --- helpers ------------------------------------------------------------------------------------


def order_body(number: str, *, order_type: str = "takeout", priority: int = 1) -> bytes:
    """An order message of SPEC §5."""
    return json.dumps(
        {
            "order_number": number,
            "customer_name": "Jane Doe",
            "order_type": order_type,
            "table_number": 4 if order_type == "dine_in" else None,
            "delivery_address": None,
            "items": [{"name": "Margherita Pizza", "quantity": 1, "price": 15.99}],
            "total_amount": 15.99,
            "priority": priority,
        }
    ).encode()


def body_id(body: bytes) -> str:
    return "body-" + hashlib.sha256(body).hexdigest()[:16]


def ready_and_unacked(vhost: str, queue: str) -> tuple[int, int]:
    out = rabbitmqctl("list_queues", "-p", vhost, "--silent", "name", "messages_ready", "messages_unacknowledged")
    for line in out.splitlines():
        fields = line.split()
        if fields and fields[0] == queue:
            return int(fields[1]), int(fields[2])
    raise AssertionError(f"{queue} not in {out!r}")


def dead_letters_command(service_env, *args: str) -> subprocess.CompletedProcess:
    """`manage.py dead_letters *args`, the real command in a process of its own."""
    return subprocess.run(
        manage("dead_letters", *args), cwd=REPO, env=service_env, capture_output=True, text=True, timeout=60
    )


def log_lines(output: str, action: str) -> list[dict]:
    lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    return [line for line in lines if line.get("action") == action]


def table_rows(output: str) -> list[list[str]]:
    """The rows of `list`'s table (without its header), split on the two-space column gap."""
    lines = [line for line in output.splitlines() if line and not line.startswith("{")]
    assert lines[0].split()[:2] == ["ID", "ORDER"], output
    return [[cell.strip() for cell in line.split("  ") if cell.strip()] for line in lines[1:] if "  " in line]


# --- the real path: dead-lettered by a worker, listed, replayed, cooked ---------------------------


def test_order_dead_lettered_before_it_existed_is_listed_and_once_it_exists_a_replay_gets_it_cooked(
    channel, start_worker, service_env
):
    # The number the first order of today will get (no relay runs: that order's own message stays in
    # the outbox, so only the replay can get it cooked).
    number = format_order_number(timezone.now().date(), 1)
    body = order_body(number)
    worker = start_worker("chef_dlq", "--order-types=takeout")
    channel.basic_publish(
        broker.ORDERS_EXCHANGE,
        "kitchen.takeout.1",
        body,
        pika.BasicProperties(delivery_mode=2, priority=1, headers={"request_id": "req-too-early"}),
        mandatory=True,
    )
    worker.wait_for_action("order_dead_lettered", timeout=TIMEOUT)
    wait_for_queue_depth(channel, DLQ, 1)

    listed = dead_letters_command(service_env, "list")

    assert listed.returncode == 0, listed.stderr
    [row] = table_rows(listed.stdout)
    assert row[0] == body_id(body)  # no message_id: the id is a hash of the body
    assert row[1] == number
    assert row[2] == f"unknown order {number}"
    assert row[-1] == "kitchen.takeout.1"
    assert queue_depth(channel, DLQ) == 1  # listing took nothing away

    order = create_order()
    assert order.number == number
    probe = bind_probe_queue(channel, broker.ORDERS_EXCHANGE, "kitchen.takeout.*")

    replayed = dead_letters_command(service_env, "replay", body_id(body))

    assert replayed.returncode == 0, replayed.stderr
    assert f"replayed {body_id(body)} ({number}) to orders_topic kitchen.takeout.1" in replayed.stdout
    [line] = log_lines(replayed.stdout, "dead_letter_replayed")
    assert (line["service"], line["level"], line["request_id"]) == ("operator", "INFO", "req-too-early")
    assert line["details"]["order_number"] == number
    assert line["details"]["reason"] == f"unknown order {number}"
    wait_for(lambda: Order.objects.get(pk=order.pk).status == OrderStatus.READY, timeout=TIMEOUT, message="order ready")
    assert logged(order) == [("received", "order-service"), ("cooking", "chef_dlq"), ("ready", "chef_dlq")]
    assert queue_depth(channel, DLQ) == 0
    [cooked] = worker.wait_for_action("order_completed", timeout=TIMEOUT)
    assert cooked["request_id"] == "req-too-early"  # the replay kept the request's trail
    assert len(worker.actions("order_dead_lettered")) == 1

    # What went back to the kitchen: the same message, minus its dead-letter headers, plus the replay's.
    [(_, properties, replayed_body)] = get_messages(channel, probe, 1)
    assert replayed_body == body
    assert (properties.delivery_mode, properties.priority) == (2, 1)
    headers = properties.headers
    assert headers["request_id"] == "req-too-early"
    assert headers["x-replay-count"] == 1
    assert timezone.now() - datetime.fromisoformat(headers["x-replayed-at"]) < timedelta(minutes=1)
    assert not [key for key in headers if key.startswith("x-dead-letter") or key.startswith("x-original")]


def test_nested_body_dead_lettered_by_a_worker_is_listed_raw_refused_a_replay_and_discarded_by_the_command(
    channel, start_worker, service_env
):
    body = NESTED_BODIES[0]
    worker = start_worker("chef_nested_dlq", "--order-types=takeout")
    channel.basic_publish(
        broker.ORDERS_EXCHANGE,
        "kitchen.takeout.1",
        body,
        pika.BasicProperties(delivery_mode=2, priority=1, headers={"request_id": "req-nested"}),
        mandatory=True,
    )
    worker.wait_for_action("order_dead_lettered", timeout=TIMEOUT)
    wait_for_queue_depth(channel, DLQ, 1)

    listed = dead_letters_command(service_env, "list")

    assert listed.returncode == 0, listed.stderr
    assert "Traceback" not in listed.stderr
    [row] = table_rows(listed.stdout)[:1]
    assert row[:2] == [body_id(body), "-"]
    assert row[2].startswith("body is not JSON: maximum recursion depth exceeded")
    assert row[-1] == "kitchen.takeout.1"
    # No order to name it by: its raw start (200 characters) and its size.
    assert f"{body_id(body)}: body is not JSON (5000 bytes): {'[' * 200}…\n" in listed.stdout
    assert "[" * 201 not in listed.stdout
    [letter] = dead_letter_list()
    assert (letter.parses, letter.size, letter.order_number) == (False, 5000, None)

    # A replay would only poison the kitchen again: refused, and it stays.
    replayed = dead_letters_command(service_env, "replay", body_id(body))

    assert replayed.returncode == 1
    assert f"not replayed {body_id(body)}: its body is not JSON" in replayed.stderr
    assert "Traceback" not in replayed.stderr
    assert [letter.id for letter in dead_letter_list()] == [body_id(body)]
    assert queue_depth(channel, TAKEOUT_QUEUE) == 0
    assert len(worker.actions("order_dead_lettered")) == 1

    discarded = dead_letters_command(service_env, "discard", body_id(body))

    assert discarded.returncode == 0, discarded.stderr
    assert f"discarded {body_id(body)}: body is not JSON" in discarded.stdout
    [line] = log_lines(discarded.stdout, "dead_letter_discarded")
    assert (line["details"]["dead_letter_id"], line["details"]["size"]) == (body_id(body), 5000)
    assert "[[[" not in discarded.stdout  # the body is not logged
    assert queue_depth(channel, DLQ) == 0
    assert worker.proc.poll() is None


# --- list ---------------------------------------------------------------------------------------


def test_list_leaves_every_message_in_the_queue_in_its_order_and_respects_the_limit(
    channel, rabbitmq_vhost, service_env
):
    bodies = [order_body(f"ORD_20241216_{n:03d}") for n in range(1, 6)]
    for n, body in enumerate(bodies[:4], start=1):
        put_dead_letter(channel, body, reason=f"unknown order ORD_20241216_{n:03d}", message_id=f"outbox-{n}")
    put_dead_letter(channel, bodies[4], reason="invalid items")  # no message_id
    expected_ids = ["outbox-1", "outbox-2", "outbox-3", "outbox-4", body_id(bodies[4])]

    first = dead_letter_list()
    first_two = dead_letter_list(limit=2)
    again = dead_letter_list()

    assert [letter.id for letter in first] == expected_ids
    assert [letter.id for letter in first_two] == expected_ids[:2]
    assert [letter.id for letter in again] == expected_ids  # the partial listing did not reorder it
    letter = first[0]
    assert letter.order_number == "ORD_20241216_001"
    assert letter.reason == "unknown order ORD_20241216_001"
    assert letter.dead_lettered_at == datetime.fromisoformat("2024-12-16T10:00:00+00:00")
    assert (letter.dead_lettered_by, letter.routing_key, letter.request_id) == (
        "chef_past",
        "kitchen.takeout.1",
        "req-dead",
    )
    assert (letter.deaths, letter.replays, letter.priority) == (None, 0, 1)
    assert ready_and_unacked(rabbitmq_vhost, DLQ) == (5, 0)  # all handed back, none left held

    listed = dead_letters_command(service_env, "list", "--limit=3")

    assert listed.returncode == 0, listed.stderr
    rows = table_rows(listed.stdout)
    assert [row[0] for row in rows] == expected_ids[:3]
    assert rows[1] == [
        "outbox-2",
        "ORD_20241216_002",
        "unknown order ORD_20241216_002",
        "2024-12-16 10:00:00Z",
        "-",
        "0",
        "kitchen.takeout.1",
    ]
    assert "5 in dead_letter_queue (the first 3: --limit shows more)" in listed.stdout
    assert [letter.id for letter in dead_letter_list()] == expected_ids
    assert queue_depth(channel, DLQ) == 5


def test_list_of_an_unparsable_body_shows_its_hash_and_no_order_number(channel):
    put_dead_letter(channel, b"{not json at all", reason="body is not JSON: Expecting property name", routing_key=None)

    [letter] = dead_letter_list()

    assert letter.id == body_id(b"{not json at all")
    assert letter.order_number is None
    assert letter.reason.startswith("body is not JSON")
    assert letter.routing_key is None
    assert queue_depth(channel, DLQ) == 1


def test_list_of_an_empty_queue_says_so(channel):
    out = _call("list")

    assert out == "dead_letter_queue is empty\n"
    assert dead_letter_list() == []


# --- replay -------------------------------------------------------------------------------------


def test_message_dead_lettered_by_rabbitmq_itself_is_listed_from_x_death_and_replayed_to_its_routing_key(channel):
    body = order_body("ORD_20241216_042", order_type="dine_in", priority=5)
    channel.basic_publish(
        broker.ORDERS_EXCHANGE,
        "kitchen.dine_in.5",
        body,
        pika.BasicProperties(delivery_mode=2, priority=5, message_id="outbox-42", headers={"request_id": "req-42"}),
        mandatory=True,
    )
    method, _, _ = channel.basic_get(DINE_IN_QUEUE, auto_ack=False)
    channel.basic_reject(method.delivery_tag, requeue=False)  # the kitchen queue dead-letters it to the DLQ
    wait_for_queue_depth(channel, DLQ, 1)

    [letter] = dead_letter_list()

    assert letter.id == "outbox-42"
    assert letter.reason == f"rejected in {DINE_IN_QUEUE}"
    assert (letter.deaths, letter.routing_key, letter.exchange) == (1, "kitchen.dine_in.5", broker.ORDERS_EXCHANGE)
    assert timezone.now() - letter.dead_lettered_at < timedelta(minutes=1)
    assert queue_depth(channel, DINE_IN_QUEUE) == 0

    result = dead_letter_replay(ids="outbox-42", by="pytest")

    assert [replayed.id for replayed in result.replayed] == ["outbox-42"] and result.refused == []
    assert queue_depth(channel, DLQ) == 0
    [(_, properties, back)] = get_messages(channel, DINE_IN_QUEUE, 1)
    assert back == body
    assert (properties.message_id, properties.priority, properties.delivery_mode) == ("outbox-42", 5, 2)
    assert properties.headers["request_id"] == "req-42"
    assert properties.headers["x-replayed-by"] == "pytest"
    assert properties.headers["x-replay-count"] == 1
    assert not [key for key in properties.headers if key.startswith("x-death") or "-death-" in key]


def test_replay_of_a_message_without_original_routing_key_is_refused_and_it_stays(channel, service_env):
    body = b"{not json at all"
    put_dead_letter(channel, body, reason="body is not JSON", routing_key=None, request_id="req-lost")

    refused = dead_letters_command(service_env, "replay", body_id(body))

    assert refused.returncode == 1
    assert f"not replayed {body_id(body)}: no original routing key" in refused.stderr
    assert "1 not replayed (still in dead_letter_queue), 0 replayed" in refused.stderr
    [line] = log_lines(refused.stdout, "dead_letter_replay_refused")
    assert line["request_id"] == "req-lost"
    assert "no original routing key" in line["details"]["refused_because"]
    assert not log_lines(refused.stdout, "dead_letter_replayed")
    assert [letter.id for letter in dead_letter_list()] == [body_id(body)]
    assert queue_depth(channel, TAKEOUT_QUEUE) == 0


def test_replay_all_replays_what_it_can_and_keeps_the_rest_in_order(channel):
    put_dead_letter(channel, order_body("ORD_20241216_001"), message_id="outbox-1")
    put_dead_letter(channel, b"[]", reason="body is not a JSON object", routing_key=None, message_id="no-key")
    put_dead_letter(channel, order_body("ORD_20241216_002"), message_id="outbox-2", routing_key="kitchen.brunch.1")
    put_dead_letter(channel, order_body("ORD_20241216_003"), message_id="outbox-3", **{"x-replay-count": 2})

    result = dead_letter_replay(every=True, by="pytest")

    assert [letter.id for letter in result.replayed] == ["outbox-1", "outbox-3"]
    assert [(letter.id, why) for letter, why in result.refused] == [
        ("no-key", "no original routing key (neither x-original-routing-key nor x-death routing-keys)"),
        ("outbox-2", "orders_topic routes 'kitchen.brunch.1' to no queue"),
    ]
    assert [letter.id for letter in dead_letter_list()] == ["no-key", "outbox-2"]
    back = get_messages(channel, TAKEOUT_QUEUE, 2)
    assert [(p.message_id, p.headers["x-replay-count"]) for _, p, _ in back] == [("outbox-1", 1), ("outbox-3", 3)]


def test_replay_of_an_unknown_id_exits_1_and_leaves_the_queue_alone(channel, service_env):
    put_dead_letter(channel, order_body("ORD_20241216_001"), message_id="outbox-1")

    result = dead_letters_command(service_env, "replay", "outbox-999")

    assert result.returncode == 1
    assert "no dead letter with id outbox-999 among the 1 messages of dead_letter_queue" in result.stderr
    assert "Traceback" not in result.stderr
    assert [letter.id for letter in dead_letter_list()] == ["outbox-1"]
    assert queue_depth(channel, TAKEOUT_QUEUE) == 0
    with pytest.raises(DeadLetterNotFound):  # one unknown id among known ones: nothing is replayed
        dead_letter_replay(ids=["outbox-1", "outbox-999"], by="pytest")
    assert queue_depth(channel, DLQ) == 1


# --- discard ------------------------------------------------------------------------------------


def test_discard_removes_only_that_message_and_logs_what_it_was(channel, service_env):
    bodies = [order_body(f"ORD_20241216_{n:03d}") for n in range(1, 4)]
    for n, body in enumerate(bodies, start=1):
        put_dead_letter(channel, body, reason=f"unknown order ORD_20241216_{n:03d}", message_id=f"outbox-{n}")

    discarded = dead_letters_command(service_env, "discard", "outbox-2")

    assert discarded.returncode == 0, discarded.stderr
    assert "discarded outbox-2 (ORD_20241216_002): unknown order ORD_20241216_002" in discarded.stdout
    [line] = log_lines(discarded.stdout, "dead_letter_discarded")
    assert (line["service"], line["request_id"]) == ("operator", "req-dead")
    details = line["details"]
    assert (details["dead_letter_id"], details["order_number"]) == ("outbox-2", "ORD_20241216_002")
    assert details["reason"] == "unknown order ORD_20241216_002"
    # Its id, reason and size; not its body, which names a customer (issue 17, item 15).
    assert details["size"] == len(bodies[1])
    assert "body" not in details and "Jane Doe" not in discarded.stdout + discarded.stderr
    assert [letter.id for letter in dead_letter_list()] == ["outbox-1", "outbox-3"]
    assert queue_depth(channel, TAKEOUT_QUEUE) == 0  # discarded, not replayed


def test_discard_all_empties_the_queue_and_an_unknown_id_exits_1(channel, service_env):
    for n in range(1, 4):
        put_dead_letter(channel, order_body(f"ORD_20241216_{n:03d}"), message_id=f"outbox-{n}")
    put_dead_letter(channel, order_body("ORD_20241216_003"), message_id="outbox-3")  # a second copy

    unknown = dead_letters_command(service_env, "discard", "outbox-7")
    assert unknown.returncode == 1
    assert "no dead letter with id outbox-7" in unknown.stderr
    assert queue_depth(channel, DLQ) == 4

    assert [letter.id for letter in dead_letter_discard(ids=["outbox-3"], by="pytest")] == ["outbox-3"] * 2
    assert _call("discard", "--all").splitlines() == [
        "discarded outbox-1 (ORD_20241216_001): unknown order",
        "discarded outbox-2 (ORD_20241216_002): unknown order",
        "0 left in dead_letter_queue",
    ]
    assert queue_depth(channel, DLQ) == 0
    assert _call("discard", "--all") == "nothing to discard: dead_letter_queue is empty\n"
    assert _call("replay", "--all") == "nothing to replay: dead_letter_queue is empty\n"


def _call(*args: str) -> str:
    """The command run in this process, for the cheap cases; the process-wide log service it sets is put back."""
    out = StringIO()
    service = app_logging.default_service
    try:
        call_command("dead_letters", *args, stdout=out)
    finally:
        app_logging.default_service = service
    return out.getvalue()
