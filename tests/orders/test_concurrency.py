"""Order numbers stay unique and gap-free when orders arrive at the same time (SPEC §3)."""

import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import requests
from django.db import connection
from django.utils import timezone

from orders.models import DailyOrderCounter, Order, OrderStatusLog
from orders.services import order_create
from orders.validation import validate_order
from restaurant.models import OutboxMessage
from tests.factories import order_payload, post_order

ORDERS = 100
THREADS = 10


def expected_numbers(count: int) -> set[str]:
    return {f"ORD_{timezone.now():%Y%m%d}_{n:03d}" for n in range(1, count + 1)}


def test_concurrent_posts_to_live_server_get_one_gap_free_run_of_numbers(web_url):
    local = threading.local()

    def post_nth(n: int) -> requests.Response:
        if not hasattr(local, "session"):
            local.session = requests.Session()
        payload = order_payload(customer_name=f"Customer {chr(ord('A') + n % 26)}")
        return post_order(web_url, payload, session=local.session, timeout=30)

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        responses = list(pool.map(post_nth, range(ORDERS)))

    assert [r.status_code for r in responses] == [201] * ORDERS, [r.text for r in responses if r.status_code != 201]
    numbers = [r.json()["order_number"] for r in responses]
    assert len(set(numbers)) == ORDERS
    assert set(numbers) == expected_numbers(ORDERS)
    assert Order.objects.count() == ORDERS
    assert set(Order.objects.values_list("number", flat=True)) == set(numbers)
    assert OrderStatusLog.objects.filter(status="received").count() == ORDERS
    assert OutboxMessage.objects.count() == ORDERS
    assert DailyOrderCounter.objects.get(day=timezone.now().date()).last_number == ORDERS


def test_concurrent_order_create_in_separate_transactions_gets_one_gap_free_run(transactional_db):
    # The web server runs views on one thread; this drives the counter from ten database sessions at once.
    data = validate_order(order_payload(items=[{"name": "Margherita Pizza", "quantity": 1, "price": Decimal("15.99")}]))
    start = threading.Barrier(THREADS)

    def create_batch(_batch: int) -> list[str]:
        try:
            start.wait(timeout=30)
            return [order_create(data=data).number for _ in range(ORDERS // THREADS)]
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        numbers = [number for batch in pool.map(create_batch, range(THREADS)) for number in batch]

    assert len(numbers) == len(set(numbers)) == ORDERS
    assert set(numbers) == expected_numbers(ORDERS)
    assert Order.objects.count() == ORDERS
