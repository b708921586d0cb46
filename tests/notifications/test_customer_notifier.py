"""`run_customer_notifier` as the real command against the real RabbitMQ and PostgreSQL (issue 18): one
message per order, event and channel, whatever is redelivered or replayed, after a `kill -9` and a
restart (orders made while it was down caught up), and every poison message dead-lettered while
it goes on."""

import json
import signal
from collections import Counter

import pytest

from notifications.customer import QUEUE
from orders.models import Order
from orders.services import order_cancel, order_mark_ready, order_start_cooking
from restaurant import broker
from restaurant.models import OutboxMessage
from tests.amqp import NESTED_BODIES, queue_depth
from tests.factories import create_order
from tests.support import manage, wait_for

PHONE, EMAIL = "+15555550123", "guest@example.com"
TIMEOUT = 30


@pytest.fixture
def sms_file(tmp_path):
    return tmp_path / "sms.jsonl"


@pytest.fixture
def start_notifier(processes, amqp_channel, sms_file, tmp_path):
    """`start_notifier()`: run_customer_notifier with the file SMS backend and emails in files, returned
    once it consumes; its queue (which the amqp_channel fixture empties) is deleted at teardown."""
    counter = iter(range(1, 100))

    def start():
        process = processes(
            f"notifier-{next(counter)}",
            manage("run_customer_notifier"),
            SMS_BACKEND="file",
            SMS_FILE_PATH=str(sms_file),
            EMAIL_URL=f"filemail:///{tmp_path / 'mail'}",  # django-environ drops the first /
            PUBLIC_BASE_URL="https://order.example.com",
        )
        process.wait_for_action("broker_connected", timeout=30)
        return process

    yield start
    amqp_channel.queue_delete(QUEUE)


def texts(sms_file) -> list[tuple[str, str]]:
    if not sms_file.exists():
        return []
    return [(line["order_number"], line["event"]) for line in map(json.loads, sms_file.read_text().splitlines())]


def emails(tmp_path) -> list[str]:
    """The emails Django's file backend wrote: each ends with a line of 79 dashes (two backends made
    in one second may share a file, whose name is the time and the backend's id)."""
    folder = tmp_path / "mail"
    texts = [path.read_text() for path in sorted(folder.glob("*.log"))] if folder.exists() else []
    return [email for text in texts for email in text.split("-" * 79 + "\n") if email.strip()]


def wait_for_texts(sms_file, expected: Counter) -> None:
    wait_for(lambda: Counter(texts(sms_file)) == expected, timeout=TIMEOUT, message=f"texts {dict(expected)}")


def guest_order(**fields) -> Order:
    return create_order(contact={"phone": PHONE, "email": EMAIL}, **fields)


def cook(order: Order) -> None:
    order_start_cooking(number=order.number, changed_by="chef_mario")
    order_mark_ready(number=order.number, changed_by="chef_mario")


def test_a_guest_is_texted_and_emailed_when_the_order_is_received_and_ready(relay, start_notifier, sms_file, tmp_path):
    start_notifier()
    order = guest_order()
    plain = create_order()  # no contact: nobody to tell
    cook(order)
    cook(plain)

    wait_for_texts(sms_file, Counter({(order.number, "received"): 1, (order.number, "ready"): 1}))
    wait_for(lambda: len(emails(tmp_path)) == 2, timeout=TIMEOUT, message="two emails")
    assert all(EMAIL in text and order.number in text for text in emails(tmp_path))


def test_a_cancelled_order_is_told_so(relay, start_notifier, sms_file):
    start_notifier()
    order = guest_order()
    order_cancel(number=order.number, changed_by="manager")

    wait_for_texts(sms_file, Counter({(order.number, "received"): 1, (order.number, "cancelled"): 1}))


def test_redelivered_and_replayed_messages_send_nothing_twice(relay, start_notifier, sms_file, amqp_channel):
    notifier = start_notifier()
    order = guest_order()
    cook(order)
    wait_for_texts(sms_file, Counter({(order.number, "received"): 1, (order.number, "ready"): 1}))

    for row in OutboxMessage.objects.filter(body__contains=order.number):  # every message again, twice
        for _ in range(2):
            amqp_channel.basic_publish(row.exchange, row.routing_key, row.body.encode())
    wait_for(lambda: queue_depth(amqp_channel, QUEUE) == 0, timeout=TIMEOUT, message="the replay consumed")
    notifier.wait_for_action("notification_sent", count=4)  # 2 events × 2 channels, and no more

    assert Counter(texts(sms_file)) == Counter({(order.number, "received"): 1, (order.number, "ready"): 1})


def test_a_notifier_killed_and_restarted_catches_up_once_per_event(relay, start_notifier, sms_file):
    notifier = start_notifier()
    first = guest_order()
    wait_for_texts(sms_file, Counter({(first.number, "received"): 1}))

    notifier.send(signal.SIGKILL)
    notifier.wait()
    cook(first)
    while_down = [guest_order() for _ in range(3)]
    cook(while_down[0])
    start_notifier()

    expected = Counter({(first.number, "received"): 1, (first.number, "ready"): 1})
    expected.update({(order.number, "received"): 1 for order in while_down})
    expected[(while_down[0].number, "ready")] = 1
    wait_for_texts(sms_file, expected)


@pytest.mark.parametrize(
    "exchange, routing_key", [(broker.ORDERS_EXCHANGE, "kitchen.takeout.1"), (broker.NOTIFICATIONS_EXCHANGE, "")]
)
def test_poison_messages_are_dead_lettered_and_the_notifier_goes_on(
    relay, start_notifier, sms_file, amqp_channel, exchange, routing_key
):
    notifier = start_notifier()
    amqp_channel.queue_purge(broker.DEAD_LETTER_QUEUE)
    poison = [*NESTED_BODIES, b"\xff\xfe not json", b"[1, 2]", b'{"order_number": 42}', b'{"order_number": "X"}']
    for body in poison:
        amqp_channel.basic_publish(exchange, routing_key, body)
    order = guest_order()

    wait_for_texts(sms_file, Counter({(order.number, "received"): 1}))
    # The last body is a status update without new_status on the fanout (poison there), but a
    # well-formed order message for an unknown order on the orders exchange (nothing to tell: acked).
    expected = len(poison) if exchange == broker.NOTIFICATIONS_EXCHANGE else len(poison) - 1
    wait_for(lambda: queue_depth(amqp_channel, broker.DEAD_LETTER_QUEUE) == expected, timeout=TIMEOUT)
    dead = notifier.wait_for_action("notification_dead_lettered", count=expected)
    assert all(line["details"]["reason"] for line in dead)
    assert notifier.proc.poll() is None and "Traceback" not in notifier.output()
