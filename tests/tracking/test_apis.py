"""The tracking API (SPEC §6): each endpoint's JSON shape and types under `/` and `/api/`, UTC
timestamps, 404s for unknown orders, history order after a real cook, and offline detection of a
real worker that stops answering.

Most tests call the API in-process (Django's test client, the real PostgreSQL); the worker and the
log line tests use real subprocesses.
"""

import json
import signal
from datetime import datetime, timedelta

import pytest
import requests
from django.utils import timezone

from kitchen.models import Worker, WorkerStatus
from kitchen.services import worker_finish_order
from orders.models import Order, OrderStatus
from orders.services import order_start_cooking
from tests.factories import create_order, get_json
from tests.support import wait_for

PREFIXES = [pytest.param("", id="root"), pytest.param("/api", id="api")]
STATUS_FIELDS = {
    *("order_number", "current_status", "updated_at", "estimated_completion", "promised_at", "fire_at", "processed_by")
}
HISTORY_FIELDS = {"status", "timestamp", "changed_by"}
WORKER_FIELDS = {"worker_name", "status", "orders_processed", "last_seen"}


# --- helpers ----------------------------------------------------------------------------------


def parse_utc(value: str) -> datetime:
    """An ISO 8601 timestamp that says it is UTC (`Z` or `+00:00`), parsed."""
    assert isinstance(value, str), value
    assert value.endswith(("Z", "+00:00")), f"{value!r} is not marked UTC"
    moment = datetime.fromisoformat(value)
    assert moment.utcoffset() == timedelta(0)
    return moment


def make_worker(name: str, *, status: str = WorkerStatus.ONLINE, silent_for: float = 0, interval: int = 30, **fields):
    return Worker.objects.create(
        name=name,
        status=status,
        heartbeat_interval=interval,
        last_seen=timezone.now() - timedelta(seconds=silent_for),
        **fields,
    )


# --- GET /orders/{n}/status -------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("prefix", PREFIXES)
def test_status_of_a_new_order_has_the_spec_fields_and_types(client, prefix):
    order = create_order()

    body = get_json(client, f"{prefix}/orders/{order.number}/status")

    assert set(body) == STATUS_FIELDS
    assert body["order_number"] == order.number
    assert body["current_status"] == "received"
    assert abs(parse_utc(body["updated_at"]) - timezone.now()) < timedelta(minutes=1)
    assert body["estimated_completion"] is None
    assert body["processed_by"] is None


@pytest.mark.django_db
@pytest.mark.parametrize("prefix", PREFIXES)
def test_status_of_an_order_being_cooked_names_the_worker_and_the_estimate(client, prefix):
    order = create_order()
    order_start_cooking(number=order.number, changed_by="chef_mario")

    body = get_json(client, f"{prefix}/orders/{order.number}/status")

    assert body["current_status"] == "cooking"
    assert body["processed_by"] == "chef_mario"
    order.refresh_from_db()
    assert parse_utc(body["estimated_completion"]) == order.estimated_completion
    assert parse_utc(body["updated_at"]) == order.updated_at
    assert parse_utc(body["estimated_completion"]) > parse_utc(body["updated_at"])


# --- GET /orders/{n}/history ------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("prefix", PREFIXES)
def test_history_lists_every_change_of_a_cooked_order_oldest_first(client, prefix):
    order = create_order()
    create_order()  # another order's rows must not show up
    order_start_cooking(number=order.number, changed_by="chef_mario")
    worker_finish_order(number=order.number, worker_name="chef_mario")

    body = get_json(client, f"{prefix}/orders/{order.number}/history")

    assert isinstance(body, list)
    assert all(set(entry) == HISTORY_FIELDS for entry in body)
    assert [(entry["status"], entry["changed_by"]) for entry in body] == [
        ("received", "order-service"),
        ("cooking", "chef_mario"),
        ("ready", "chef_mario"),
    ]
    moments = [parse_utc(entry["timestamp"]) for entry in body]
    assert moments == sorted(moments)


@pytest.mark.django_db
def test_history_keeps_insertion_order_for_changes_with_the_same_timestamp(client):
    order = create_order()
    order_start_cooking(number=order.number, changed_by="chef_mario")
    worker_finish_order(number=order.number, worker_name="chef_mario")
    # Same instant for every row: the log's own order (its id) decides.
    order.status_log.update(changed_at=timezone.now())

    body = get_json(client, f"/orders/{order.number}/history")

    assert [entry["status"] for entry in body] == ["received", "cooking", "ready"]


# --- unknown orders ---------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("prefix", PREFIXES)
@pytest.mark.parametrize("endpoint", ["status", "history"])
def test_unknown_order_is_a_404_json_error(client, prefix, endpoint):
    create_order()

    body = get_json(client, f"{prefix}/orders/ORD_20000101_999/{endpoint}", expected_status=404)

    assert body == {"code": "not_found", "errors": {"order_number": ["no order ORD_20000101_999"]}}


@pytest.mark.django_db
@pytest.mark.parametrize("number", ["ord_20241216_001", "ORD_2024", "%00", "\u00e9t\u00e9", "x" * 300])
def test_odd_order_numbers_are_a_404_json_error_not_a_crash(client, number):
    body = get_json(client, f"/orders/{number}/status", expected_status=404)

    assert body["code"] == "not_found"


# --- GET /workers/status ----------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("prefix", PREFIXES)
def test_workers_status_lists_every_worker_with_the_spec_fields_and_types(client, prefix):
    make_worker("chef_mario", orders_processed=7, interval=30, silent_for=5)
    make_worker("chef_luigi", status=WorkerStatus.OFFLINE, silent_for=3600)

    body = get_json(client, f"{prefix}/workers/status")

    assert [worker["worker_name"] for worker in body] == ["chef_luigi", "chef_mario"]
    assert all(set(worker) == WORKER_FIELDS for worker in body)
    luigi, mario = body
    assert (mario["status"], mario["orders_processed"]) == ("online", 7)
    assert (luigi["status"], luigi["orders_processed"]) == ("offline", 0)
    assert type(mario["orders_processed"]) is int
    assert parse_utc(mario["last_seen"]) == Worker.objects.get(name="chef_mario").last_seen
    assert parse_utc(luigi["last_seen"]) < parse_utc(mario["last_seen"])


@pytest.mark.django_db
def test_workers_status_is_an_empty_list_without_workers(client):
    assert get_json(client, "/workers/status") == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("interval", "silent_for", "reported"),
    [
        # Margins of seconds, not fractions: a busy machine can take half a second to answer.
        pytest.param(10, 15, "online", id="10s-interval-silent-15s"),
        pytest.param(10, 25, "offline", id="10s-interval-silent-25s"),
        pytest.param(30, 59, "online", id="30s-interval-silent-59s"),
        pytest.param(30, 61, "offline", id="30s-interval-silent-61s"),
    ],
)
def test_worker_silent_for_over_twice_its_own_interval_is_reported_offline(client, interval, silent_for, reported):
    make_worker("chef_mario", interval=interval, silent_for=silent_for)

    [worker] = get_json(client, "/workers/status")

    assert worker["status"] == reported
    # The row is not touched: "offline" is what the API reports, not what it writes.
    assert Worker.objects.get(name="chef_mario").status == WorkerStatus.ONLINE


# --- real processes ---------------------------------------------------------------------------


def reported(client, name: str) -> dict | None:
    return next((worker for worker in get_json(client, "/workers/status") if worker["worker_name"] == name), None)


def reported_as(client, name: str, status: str) -> dict | None:
    worker = reported(client, name)
    return worker if worker and worker["status"] == status else None


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_that_stops_answering_is_reported_offline_then_online_again(client, start_worker):
    interval = 1
    worker = start_worker("chef_frozen", f"--heartbeat-interval={interval}")
    wait_for(lambda: reported_as(client, "chef_frozen", "online"), timeout=10, message="chef_frozen online")

    worker.send(signal.SIGSTOP)
    try:
        stopped_at = timezone.now()
        # Its last heartbeat was at most about one interval before the stop: offline within 2 × interval.
        offline = wait_for(
            lambda: reported_as(client, "chef_frozen", "offline"),
            timeout=2 * interval + 1.5,
            interval=0.1,
            message="chef_frozen reported offline",
        )
        # Judged by its silence: no heartbeat since the stop, and its row still says online.
        assert parse_utc(offline["last_seen"]) <= stopped_at + timedelta(seconds=0.2)
        assert timezone.now() - parse_utc(offline["last_seen"]) > timedelta(seconds=2 * interval)
        assert Worker.objects.get(name="chef_frozen").status == WorkerStatus.ONLINE
    finally:
        worker.send(signal.SIGCONT)

    online = wait_for(
        lambda: reported_as(client, "chef_frozen", "online"),
        timeout=2 * interval + 3,
        interval=0.1,
        message="chef_frozen online again",
    )
    assert parse_utc(online["last_seen"]) > parse_utc(offline["last_seen"])
    assert worker.proc.poll() is None


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_history_after_a_real_worker_cooked_the_order(client, start_worker, relay):
    order = create_order(order_type="dine_in", table_number=4)
    start_worker("chef_real")

    wait_for(
        lambda: Order.objects.values_list("status", flat=True).get(pk=order.pk) == OrderStatus.READY,
        timeout=30,
        message=f"{order.number} ready",
    )
    body = get_json(client, f"/api/orders/{order.number}/history")

    assert [(entry["status"], entry["changed_by"]) for entry in body] == [
        ("received", "order-service"),
        ("cooking", "chef_real"),
        ("ready", "chef_real"),
    ]
    moments = [parse_utc(entry["timestamp"]) for entry in body]
    assert moments == sorted(moments)
    status = get_json(client, f"/orders/{order.number}/status")
    assert (status["current_status"], status["processed_by"]) == ("ready", "chef_real")
    [worker] = get_json(client, "/workers/status")
    assert (worker["worker_name"], worker["status"], worker["orders_processed"]) == ("chef_real", "online", 1)


@pytest.mark.slow
def test_live_tracking_requests_are_logged_at_debug_by_tracking_service(web_url, tmp_path):
    order = create_order()
    for path in (f"/orders/{order.number}/status", f"/api/orders/{order.number}/history", "/workers/status"):
        response = requests.get(f"{web_url}{path}", headers={"X-Request-ID": "track-log-1"}, timeout=5)
        assert response.status_code == 200
        assert response.headers["Content-Type"] == "application/json"

    log_path = tmp_path / "web.log"  # the `processes` fixture logs the process started as "web" here

    def request_lines():
        lines = [json.loads(line) for line in log_path.read_text().splitlines() if line.startswith("{")]
        found = [line for line in lines if line.get("action") == "request_received"]
        return found if len(found) >= 3 else None

    lines = wait_for(request_lines, timeout=10, message="three request_received lines")
    assert {line["level"] for line in lines} == {"DEBUG"}
    assert {line["service"] for line in lines} == {"tracking-service"}
    assert {line["request_id"] for line in lines} == {"track-log-1"}
    assert [line["details"]["path"] for line in lines] == [
        f"/orders/{order.number}/status",
        f"/api/orders/{order.number}/history",
        "/workers/status",
    ]
