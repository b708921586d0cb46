"""SPEC §3: while PostgreSQL refuses connections, POST /orders answers 503 with a JSON error within
5 s and writes nothing; the web process recovers by itself once the database is back."""

import time

import requests

from orders.models import DailyOrderCounter, Order, OrderItem, OrderStatusLog
from restaurant.models import OutboxMessage
from tests.factories import post_order
from tests.support import database_outage, wait_for

# SPEC §3: "503 with a JSON error within 5 s".
OUTAGE_ANSWER_WITHIN = 5.0


def table_counts() -> dict[str, int]:
    return {
        "orders": Order.objects.count(),
        "order_items": OrderItem.objects.count(),
        "order_status_log": OrderStatusLog.objects.count(),
        "outbox": OutboxMessage.objects.count(),
        "counter": sum(DailyOrderCounter.objects.values_list("last_number", flat=True)),
    }


def test_post_orders_answers_503_while_database_refuses_connections_then_recovers(web_url, test_database_name):
    # A first order, so the web process holds a database connection that the outage will kill.
    first = post_order(web_url, timeout=15)
    assert first.status_code == 201, first.text
    before = table_counts()

    with database_outage(test_database_name):
        for attempt in range(3):
            started = time.monotonic()
            response = post_order(web_url, timeout=15, **{"X-Request-ID": f"outage-{attempt}"})
            elapsed = time.monotonic() - started

            assert response.status_code == 503, response.text
            assert elapsed < OUTAGE_ANSWER_WITHIN
            assert response.headers["Content-Type"].startswith("application/json")
            assert response.json()["code"] == "database_unavailable"
            assert int(response.headers["Retry-After"]) > 0
            assert response.headers["X-Request-ID"] == f"outage-{attempt}"

    # Nothing half-written, and no order number used up by the failed requests.
    assert table_counts() == before

    def accepted_again():
        response = post_order(web_url, timeout=15)
        return response if response.status_code == 201 else None

    recovered = wait_for(accepted_again, timeout=15, interval=0.2, message="POST /orders to answer 201 again")
    first_sequence = int(first.json()["order_number"].rsplit("_", 1)[1])
    assert recovered.json()["order_number"].rsplit("_", 1)[1] == f"{first_sequence + 1:03d}"
    assert table_counts() == {key: value + 1 for key, value in before.items()}


def test_health_reports_the_database_outage_and_its_end(web_url, test_database_name):
    assert requests.get(f"{web_url}/health", timeout=10).status_code == 200

    with database_outage(test_database_name):
        health = requests.get(f"{web_url}/health", timeout=10)
        assert health.status_code == 503
        assert health.json()["status"] == "unavailable"
        assert health.json()["checks"]["database"] != "ok"
        assert health.json()["checks"]["broker"] == "ok"

        ready = requests.get(f"{web_url}/health/ready", timeout=10)
        assert ready.status_code == 503
        assert ready.json()["checks"]["database"] != "ok"

        live = requests.get(f"{web_url}/health/live", timeout=10)
        assert live.status_code == 200

    wait_for(
        lambda: requests.get(f"{web_url}/health", timeout=10).status_code == 200,
        timeout=15,
        interval=0.2,
        message="/health to answer 200 again",
    )
    assert requests.get(f"{web_url}/health/ready", timeout=10).status_code == 200
    assert requests.get(f"{web_url}/health/live", timeout=10).status_code == 200
