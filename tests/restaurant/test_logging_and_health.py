"""SPEC §7: JSON log lines (the formatter, and the real output of the web and the relay) and the
health endpoints."""

import io
import json
import logging
import os
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal

import pytest
import requests

from restaurant import logging as app_logging
from restaurant.logging import JSONFormatter, RequestIDFilter, ServiceLogger, request_id_var
from tests.amqp import connection_pids
from tests.factories import create_order
from tests.support import ManagedProcess, manage, order_payload, start_web, url_through, wait_for

LINE_FIELDS = {"timestamp", "level", "service", "action", "message", "hostname", "request_id"}
LEVELS = {"DEBUG", "INFO", "ERROR"}
SERVICES = {"order-service", "kitchen-worker", "tracking-service", "notification-subscriber", "outbox-relay"}


# --- the formatter --------------------------------------------------------------------------


@pytest.fixture
def captured():
    """Log records of the `restaurant.captured-service` logger, formatted as the settings do."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JSONFormatter())
    handler.addFilter(RequestIDFilter())
    logger = logging.getLogger("restaurant.captured-service")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False

    def lines() -> list[dict]:
        text = stream.getvalue()
        assert text.endswith("\n")
        return [json.loads(line) for line in text.splitlines()]

    yield lines
    logger.removeHandler(handler)
    logger.propagate = True
    logger.setLevel(logging.NOTSET)


def test_formatter_writes_one_json_object_with_the_spec_fields(captured):
    token = request_id_var.set("req-formatter-1")
    try:
        ServiceLogger("captured-service").info(
            "order_received",
            "Order received\nsecond line",
            details={"total_amount": Decimal("24.98"), "at": datetime(2024, 12, 16, 12, 0, tzinfo=UTC)},
        )
    finally:
        request_id_var.reset(token)

    [line] = captured()
    assert LINE_FIELDS <= line.keys()
    assert line["level"] == "INFO"
    assert line["service"] == "captured-service"
    assert line["action"] == "order_received"
    assert line["message"] == "Order received\nsecond line"  # one physical line, newline escaped
    assert line["request_id"] == "req-formatter-1"
    assert line["hostname"]
    assert datetime.fromisoformat(line["timestamp"]).utcoffset().total_seconds() == 0
    assert line["details"] == {"total_amount": 24.98, "at": "2024-12-16T12:00:00+00:00"}
    assert "error" not in line


def test_formatter_writes_a_line_too_for_what_orjson_refuses(captured):
    ServiceLogger("captured-service").info("odd_values", "Odd values", details={"big": 2**70, "text": "\ud800", 7: "x"})

    [line] = captured()
    assert LINE_FIELDS <= line.keys()
    assert line["details"] == {"big": 2**70, "text": "\ud800", "7": "x"}


def test_formatter_error_line_carries_the_exception_message_and_stack(captured):
    try:
        raise ValueError("kitchen on fire")
    except ValueError as exc:
        ServiceLogger("captured-service").error("order_failed", "Could not cook", exc_info=exc)

    [line] = captured()
    assert line["level"] == "ERROR"
    assert line["error"]["msg"] == "ValueError: kitchen on fire"
    assert line["error"]["stack"].startswith("Traceback (most recent call last)")
    assert "kitchen on fire" in line["error"]["stack"]


def test_formatter_error_line_without_exception_carries_where_it_was_logged(captured):
    ServiceLogger("captured-service").error("topology_mismatch", "Queue arguments clash")

    [line] = captured()
    assert line["error"]["msg"] == "Queue arguments clash"
    assert "test_formatter_error_line_without_exception" in line["error"]["stack"]


def test_formatter_maps_library_levels_to_the_three_spec_levels(captured, monkeypatch):
    monkeypatch.setattr(app_logging, "default_service", "outbox-relay")
    logger = logging.getLogger("restaurant.captured-service")
    logger.debug("debug")
    logger.warning("a library warning")
    logger.critical("a library critical")

    lines = captured()
    assert [line["level"] for line in lines] == ["DEBUG", "INFO", "ERROR"]
    # A record that did not come through a ServiceLogger: the process's service, the logger as action.
    assert {line["service"] for line in lines} == {"outbox-relay"}
    assert {line["action"] for line in lines} == {"restaurant.captured-service"}
    assert lines[0]["request_id"] is None
    assert lines[2]["error"]["msg"] == "a library critical"


# --- the real processes --------------------------------------------------------------------


def json_log_lines(process: ManagedProcess) -> list[dict]:
    """Every line the process wrote (stdout, and stderr which must stay empty), each checked to be
    a SPEC §7 log line."""
    lines = []
    for text in process.output().splitlines():
        try:
            line = json.loads(text)
        except ValueError:
            pytest.fail(f"{process.name} wrote a line that is not JSON: {text!r}")
        assert isinstance(line, dict), text
        assert LINE_FIELDS <= line.keys(), text
        assert datetime.fromisoformat(line["timestamp"]).tzinfo is not None, text
        assert line["level"] in LEVELS, text
        assert line["service"] in SERVICES, text
        assert line["hostname"], text
        if line["level"] == "ERROR":
            assert line["error"]["msg"], text
            assert isinstance(line["error"]["stack"], str), text
        lines.append(line)
    assert lines, f"{process.name} wrote nothing"
    return lines


def start_web_process(processes, **env: str) -> tuple[str, ManagedProcess]:
    """`start_web`, also handing back the process (for its output)."""
    started: list[ManagedProcess] = []

    def start(name: str, args: list[str], **overrides: str) -> ManagedProcess:
        started.append(processes(name, args, **overrides))
        return started[-1]

    url = start_web(start, **env)
    return url, started[0]


def test_web_and_relay_write_only_json_lines_and_carry_the_request_id(broker_proxy, processes, amqp_channel):
    web_url, web = start_web_process(processes)
    # The relay starts with the broker unreachable, so its output holds ERROR lines too.
    broker_proxy.cut()
    relay = processes(
        "relay", manage("run_outbox_relay"), RABBITMQ_URL=url_through(os.environ["RABBITMQ_URL"], broker_proxy)
    )
    relay.wait_for_action("relay_connection_lost")
    broker_proxy.restore()
    relay.wait_for_action("broker_connected")

    request_id = f"log-check-{uuid.uuid4().hex[:8]}"
    response = requests.post(
        f"{web_url}/orders", json=order_payload(), headers={"X-Request-ID": request_id}, timeout=15
    )
    assert response.status_code == 201, response.text
    assert response.headers["X-Request-ID"] == request_id
    number = response.json()["order_number"]
    [published] = relay.wait_for_action("order_published")
    assert published["request_id"] == request_id
    assert published["details"]["order_number"] == number

    relay_lines = json_log_lines(relay)
    started = next(index for index, line in enumerate(relay_lines) if line["action"] == "relay_started")
    assert {line["service"] for line in relay_lines[started:]} == {"outbox-relay"}
    [lost, *_] = [line for line in relay_lines if line["action"] == "relay_connection_lost"]
    assert lost["level"] == "ERROR"
    assert lost["error"]["stack"].startswith("Traceback (most recent call last)")
    assert {"DEBUG", "INFO", "ERROR"} <= {line["level"] for line in relay_lines}

    web_lines = json_log_lines(web)
    [received] = [line for line in web_lines if line["action"] == "order_received"]
    assert received["request_id"] == request_id
    assert received["service"] == "order-service"
    assert received["details"]["order_number"] == number


# --- health ---------------------------------------------------------------------------------


def test_health_reports_database_broker_and_the_outbox_backlog(web_url):
    create_order()  # no relay runs: its message stays pending

    response = requests.get(f"{web_url}/health", timeout=10)

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"] == {"database": "ok", "broker": "ok"}
    assert body["outbox"]["pending"] == 1
    assert body["outbox"]["oldest_pending_seconds"] >= 0
    assert requests.get(f"{web_url}/health/live", timeout=10).json() == {"status": "ok"}
    assert requests.get(f"{web_url}/health/ready", timeout=10).status_code == 200


def test_health_is_503_while_the_broker_is_unreachable_and_orders_are_still_taken(broker_proxy, processes):
    web_url = start_web(processes, RABBITMQ_URL=url_through(os.environ["RABBITMQ_URL"], broker_proxy))
    assert requests.get(f"{web_url}/health", timeout=10).status_code == 200

    broker_proxy.cut()
    try:
        response = requests.get(f"{web_url}/health", timeout=10)
        assert response.status_code == 503
        assert response.json()["status"] == "unavailable"
        assert response.json()["checks"]["broker"] != "ok"
        assert response.json()["checks"]["database"] == "ok"
        assert response.json()["outbox"]["pending"] == 0
        # Orders need only the database (the outbox keeps their messages): ready and still taking them.
        assert requests.get(f"{web_url}/health/ready", timeout=10).status_code == 200
        assert requests.get(f"{web_url}/health/live", timeout=10).status_code == 200
        order = requests.post(f"{web_url}/orders", json=order_payload(), timeout=10)
        assert order.status_code == 201, order.text
        assert requests.get(f"{web_url}/health", timeout=10).json()["outbox"]["pending"] == 1
    finally:
        broker_proxy.restore()

    wait_for(
        lambda: requests.get(f"{web_url}/health", timeout=10).status_code == 200,
        timeout=10,
        interval=0.2,
        message="/health to answer 200 once the broker is reachable",
    )


def test_a_flood_of_health_calls_opens_one_broker_connection_and_an_outage_still_shows_at_once(broker_proxy, processes):
    # One web worker process: it keeps one connection for its broker checks, whatever the calls.
    web_url = start_web(
        processes, WEB_CONCURRENCY="1", RABBITMQ_URL=url_through(os.environ["RABBITMQ_URL"], broker_proxy)
    )
    assert requests.get(f"{web_url}/health", timeout=10).status_code == 200
    [first] = wait_for(lambda: connection_pids("health-check"), message="the health check's broker connection")

    with ThreadPoolExecutor(max_workers=8) as pool:  # 4 threads serve them, some calls side by side
        statuses = list(pool.map(lambda _: requests.get(f"{web_url}/health", timeout=10).status_code, range(40)))

    assert statuses == [200] * 40
    assert connection_pids("health-check") == [first]  # the same connection: no handshake per call

    broker_proxy.cut()  # closes that connection: the next call sees it
    try:
        response = requests.get(f"{web_url}/health", timeout=10)
        assert response.status_code == 503
        assert response.json()["checks"]["broker"].startswith("error")
    finally:
        broker_proxy.restore()
    wait_for(
        lambda: requests.get(f"{web_url}/health", timeout=10).status_code == 200,
        timeout=10,
        interval=0.2,
        message="/health to answer 200 once the broker is reachable again",
    )
