"""restaurant/throttling.py in-process (Django's test client, the real PostgreSQL): one statement per
throttled request (none for an order: its count is in the order's statement), windows that open
again, and the purge of the windows that are over. The limits as a client of a real web process
sees them are in tests/tracking/test_throttling.py."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from orders.capacity import kitchen_clock
from orders.models import DailyOrderCounter, Order, OrderStatusLog
from restaurant.models import OutboxMessage, ThrottleCounter
from restaurant.throttling import DatabaseRateThrottle, parse_rate
from tests.support import order_payload, wait_for

pytestmark = pytest.mark.django_db

CHEAP = "/workers/status"  # throttled (the `tracking` scope), and one query of its own


@pytest.fixture
def limit(monkeypatch):
    """`limit(scope, rate)`: the scope's rate for this test (tests/settings.py turns them off).
    Nothing is purged unless the test sets `purge_one_in` itself."""
    monkeypatch.setattr(DatabaseRateThrottle, "purge_one_in", 10**12)

    def set_rate(scope: str, rate: str) -> None:
        monkeypatch.setitem(DatabaseRateThrottle.rates, scope, parse_rate(rate))

    return set_rate


def hits(client: str) -> int | None:
    return ThrottleCounter.objects.filter(scope="tracking", client=client).values_list("hits", flat=True).first()


def test_a_throttled_request_costs_one_statement_more_than_an_unthrottled_one(client, limit):
    with CaptureQueriesContext(connection) as unthrottled:
        assert client.get(CHEAP).status_code == 200
    limit("tracking", "1000000/min")

    with CaptureQueriesContext(connection) as throttled:
        assert client.get(CHEAP).status_code == 200

    counting = [query["sql"] for query in throttled.captured_queries if "throttle_counter" in query["sql"]]
    assert len(counting) == 1 and counting[0].lstrip().startswith("INSERT INTO throttle_counter")
    assert len(throttled) == len(unthrottled) + 1
    assert hits("127.0.0.1") == 1


def test_a_client_over_the_limit_is_served_again_once_its_window_is_over(client, limit):
    limit("tracking", "2/sec")

    answers = [client.get(CHEAP) for _ in range(3)]

    assert [answer.status_code for answer in answers] == [200, 200, 429]
    assert answers[2]["Retry-After"] == "1"
    assert answers[2].json()["code"] == "throttled"
    wait_for(lambda: client.get(CHEAP).status_code == 200, timeout=5, message="the next window")
    assert hits("127.0.0.1") == 1  # the new window counts from the request that opened it


def test_windows_that_are_over_are_deleted_now_and_then_and_the_others_kept(client, limit, monkeypatch):
    limit("tracking", "5/min")
    now = timezone.now()
    ThrottleCounter.objects.create(scope="tracking", client="10.0.0.1", hits=9, expires_at=now - timedelta(seconds=1))
    ThrottleCounter.objects.create(scope="orders", client="10.0.0.2", hits=1, expires_at=now + timedelta(minutes=1))
    assert client.get(CHEAP).status_code == 200
    assert ThrottleCounter.objects.count() == 3  # no purge on this request

    monkeypatch.setattr(DatabaseRateThrottle, "purge_one_in", 1)
    assert client.get(CHEAP).status_code == 200

    assert sorted(ThrottleCounter.objects.values_list("client", "hits")) == [("10.0.0.2", 1), ("127.0.0.1", 2)]


def test_requests_without_a_client_address_share_one_budget(client, limit):
    limit("tracking", "1/min")

    answers = [client.get(CHEAP, REMOTE_ADDR=None).status_code for _ in range(2)]

    assert answers == [200, 429]
    assert hits("") == 2


# --- POST /orders: the count is taken in the order's own statement (CountedInTheWrite) -------------


def order_hits() -> int | None:
    return ThrottleCounter.objects.filter(scope="orders").values_list("hits", flat=True).first()


def written_orders() -> tuple[list[str], int]:
    """The orders' numbers and the day's counter."""
    return sorted(Order.objects.values_list("number", flat=True)), DailyOrderCounter.objects.get().last_number


def post_order(client, payload=None):
    return client.post("/orders", payload or order_payload(), content_type="application/json")


def test_a_throttled_order_costs_no_statement_more_than_an_unthrottled_one(client, limit):
    kitchen_clock()  # read once per process every few seconds (orders/capacity.py), not per order
    with CaptureQueriesContext(connection) as unthrottled:
        assert post_order(client).status_code == 201
    limit("orders", "1000000/min")

    with CaptureQueriesContext(connection) as throttled:
        assert post_order(client).status_code == 201

    assert len(throttled) == len(unthrottled) == 1
    assert "INSERT INTO throttle_counter" in throttled.captured_queries[0]["sql"]
    assert order_hits() == 1 and Order.objects.count() == 2


def test_an_order_over_the_limit_is_refused_counted_and_writes_nothing(client, limit):
    limit("orders", "2/min")
    numbers = [post_order(client).json()["order_number"] for _ in range(2)]
    written = written_orders()

    refused = post_order(client)

    assert refused.status_code == 429 and refused.json()["code"] == "throttled"
    assert 0 < int(refused["Retry-After"]) <= 60
    assert written == (sorted(numbers), 2)
    assert written_orders() == written
    assert OrderStatusLog.objects.count() == 2 and OutboxMessage.objects.count() == 2
    assert order_hits() == 3
    limit("orders", "4/min")
    assert post_order(client).json()["order_number"].endswith("003")  # gap-free after a refusal


def test_a_refused_bad_order_is_counted_on_its_own_and_answered_429_once_over(client, limit):
    limit("orders", "1/min")
    bad = order_payload(items=[])

    with CaptureQueriesContext(connection) as first:
        assert post_order(client, bad).status_code == 400
    statements = [query["sql"].split("(")[0].strip() for query in first.captured_queries]
    assert statements == ["INSERT INTO throttle_counter AS counter"]

    assert post_order(client, bad).status_code == 429
    assert post_order(client).status_code == 429  # the bad ones used the budget
    assert order_hits() == 3 and not Order.objects.exists()
