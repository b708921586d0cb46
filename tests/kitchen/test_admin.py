"""The back office for the kitchen (SPEC §7): workers with their live state, and the dead-letter page
on the real RabbitMQ (this run's vhost), acting through kitchen/dead_letters.py."""

import json
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from kitchen.models import Worker
from kitchen.services import worker_register
from kitchen.topology import kitchen_queue
from restaurant import broker
from tests.amqp import NESTED_BODIES, put_dead_letter, queue_depth
from tests.factories import FRONT_OF_HOUSE, MANAGER, logged_in, messages_of

pytestmark = pytest.mark.django_db

WORKERS = reverse("admin:kitchen_worker_changelist")
DEAD_LETTERS = reverse("admin:dead_letters")
DLQ = broker.DEAD_LETTER_QUEUE


def register(name: str, **fields) -> Worker:
    worker = worker_register(name=name, order_types=("dine_in",), heartbeat_interval=30, instance_id="test")
    if fields:
        Worker.objects.filter(pk=worker.pk).update(**fields)
        worker.refresh_from_db()
    return worker


def put_letter_about(channel, number: str, *, message_id: str, routing_key: str | None = "kitchen.takeout.1") -> None:
    """A dead letter about order `number`, with the headers the kitchen worker writes (the original
    exchange only with an original routing key; no timestamp, no content type)."""
    body = json.dumps({"order_number": number, "order_type": "takeout"}).encode()
    put_dead_letter(
        channel,
        body,
        message_id=message_id,
        routing_key=routing_key,
        original_exchange=broker.ORDERS_EXCHANGE if routing_key else None,
        request_id="req-1",
        dead_lettered_at=None,
        content_type=None,
    )


# --- workers ------------------------------------------------------------------------------------


def test_worker_list_shows_live_state_computed_from_heartbeats():
    register("chef_live")
    register("chef_silent", last_seen=timezone.now() - timedelta(minutes=5), orders_processed=42)
    client = logged_in(MANAGER)

    response = client.get(WORKERS)

    assert response.status_code == 200
    rows = {worker.name: worker for worker in response.context["cl"].result_list}
    admin = response.context["cl"].model_admin
    # chef_silent's row still says online, but it has not beaten for 10 × its interval.
    assert rows["chef_silent"].status == "online"
    assert (admin.online(rows["chef_live"]), admin.online(rows["chef_silent"])) == (True, False)
    assert "42" in response.text and "dine_in" in response.text


def test_worker_page_is_read_only_for_managers_too():
    worker = register("chef_anna")
    client = logged_in(MANAGER)
    url = reverse("admin:kitchen_worker_change", args=[worker.pk])

    page = client.get(url)
    post = client.post(url, {"name": "renamed", "orders_processed": "99"})

    assert page.status_code == 200 and "chef_anna" in page.text and 'name="_save"' not in page.text
    assert post.status_code == 403
    assert client.get(reverse("admin:kitchen_worker_add")).status_code == 403
    worker.refresh_from_db()
    assert (worker.name, worker.orders_processed) == ("chef_anna", 0)


# --- dead letters -------------------------------------------------------------------------------


def test_dead_letter_page_lists_messages_and_leaves_them_in_the_queue(channel):
    put_letter_about(channel, "ORD_20241216_007", message_id="outbox-7")
    client = logged_in(MANAGER)

    response = client.get(DEAD_LETTERS)

    assert response.status_code == 200
    [letter] = response.context["letters"]
    assert (letter.id, letter.order_number, letter.reason) == ("outbox-7", "ORD_20241216_007", "unknown order")
    assert (
        "outbox-7" in response.text and "ORD_20241216_007" in response.text and "csrfmiddlewaretoken" in response.text
    )
    assert queue_depth(channel, DLQ) == 1
    # Linked from the admin index, under Kitchen.
    assert DEAD_LETTERS in client.get(reverse("admin:index")).text


def test_discard_button_removes_the_dead_letter(channel):
    put_letter_about(channel, "ORD_20241216_007", message_id="outbox-7")
    put_letter_about(channel, "ORD_20241216_008", message_id="outbox-8")
    client = logged_in(MANAGER, "maria")

    response = client.post(DEAD_LETTERS, {"id": "outbox-7", "action": "discard"})

    assert response.status_code == 302 and response["Location"] == DEAD_LETTERS
    assert messages_of(response) == [("success", "Dead letter outbox-7 discarded.")]
    assert [letter.id for letter in client.get(DEAD_LETTERS).context["letters"]] == ["outbox-8"]
    again = client.post(DEAD_LETTERS, {"id": "outbox-7", "action": "discard"})
    assert messages_of(again) == [("warning", f"Dead letter outbox-7 is no longer in {DLQ}.")]


def test_replay_button_sends_the_message_back_to_its_kitchen_queue_or_says_why_not(channel):
    put_letter_about(channel, "ORD_20241216_007", message_id="outbox-7")
    put_letter_about(channel, "ORD_20241216_008", message_id="outbox-8", routing_key=None)
    client = logged_in(MANAGER, "maria")

    replayed = client.post(DEAD_LETTERS, {"id": "outbox-7", "action": "replay"})
    client.get(DEAD_LETTERS)  # clears the messages
    refused = client.post(DEAD_LETTERS, {"id": "outbox-8", "action": "replay"})

    assert messages_of(replayed) == [("success", "Dead letter outbox-7 replayed to kitchen.takeout.1.")]
    assert queue_depth(channel, kitchen_queue("takeout")) == 1
    [(level, text)] = messages_of(refused)
    assert level == "error" and text.startswith("Dead letter outbox-8 not replayed: no original routing key")
    assert queue_depth(channel, DLQ) == 1


def test_bodies_that_do_not_parse_are_shown_raw_and_cut_short_and_can_be_discarded_not_replayed(channel):
    nested, hostile = NESTED_BODIES[1], b"<script>alert(1)</script>\xff" * 20
    put_dead_letter(channel, nested, reason="body is not JSON: maximum recursion depth exceeded")
    put_dead_letter(channel, hostile, reason="body is not JSON: Expecting value", message_id="hostile")
    client = logged_in(MANAGER, "maria")

    response = client.get(DEAD_LETTERS)

    assert response.status_code == 200
    nested_letter, hostile_letter = response.context["letters"]
    assert (nested_letter.parses, nested_letter.size) == (False, len(nested))
    page = response.text
    assert "not JSON (25000 bytes)" in page and "not JSON (520 bytes)" in page
    assert "{&quot;a&quot;:" * 40 + "…" in page  # its first 200 characters, escaped
    assert "{&quot;a&quot;:" * 41 not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;\ufffd" in page and "<script>alert(1)" not in page

    refused = client.post(DEAD_LETTERS, {"id": nested_letter.id, "action": "replay"})
    client.get(DEAD_LETTERS)  # clears the messages
    discarded = client.post(DEAD_LETTERS, {"id": nested_letter.id, "action": "discard"})

    [(level, text)] = messages_of(refused)
    assert level == "error" and text.startswith(f"Dead letter {nested_letter.id} not replayed: its body is not JSON")
    assert queue_depth(channel, kitchen_queue("takeout")) == 0
    assert messages_of(discarded) == [("success", f"Dead letter {nested_letter.id} discarded.")]
    assert [letter.id for letter in client.get(DEAD_LETTERS).context["letters"]] == ["hostile"]


def test_dead_letter_page_is_for_managers_only(channel):
    put_letter_about(channel, "ORD_20241216_007", message_id="outbox-7")
    client = logged_in(FRONT_OF_HOUSE)

    assert client.get(DEAD_LETTERS).status_code == 403
    assert client.post(DEAD_LETTERS, {"id": "outbox-7", "action": "discard"}).status_code == 403
    assert queue_depth(channel, DLQ) == 1
