"""LOG_FORMAT=console (what `make run` uses): the JSON line's fields as one readable text line, in
every process; JSON stays the default (SPEC §7) and a bad LOG_FORMAT stops start-up."""

import io
import logging
import os
import subprocess

import pytest
import requests

from restaurant.logging import ConsoleFormatter, RequestIDFilter, ServiceLogger, request_id_bound
from tests.support import PYTHON, REPO, order_payload, start_web, wait_for


@pytest.fixture
def console():
    """What the `restaurant.console-check` logger writes through ConsoleFormatter."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(ConsoleFormatter())
    handler.addFilter(RequestIDFilter())
    logger = logging.getLogger("restaurant.console-check")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield stream.getvalue
    logger.removeHandler(handler)
    logger.propagate = True
    logger.setLevel(logging.NOTSET)


def test_a_console_line_names_the_level_service_action_message_request_and_details(console):
    with request_id_bound("req-console-1"):
        ServiceLogger("console-check").info("order_received", "Order received", details={"order_number": "ORD_1"})

    [line] = console().splitlines()
    assert not line.startswith("{")
    time, level, rest = line.split(" ", 2)
    assert len(time) == len("12:00:01.250") and level == "INFO"
    assert rest.lstrip() == 'console-check  order_received  Order received  [req-console-1]  {"order_number": "ORD_1"}'


def test_a_console_error_line_is_followed_by_its_stack(console):
    try:
        raise ValueError("bad")
    except ValueError as exc:
        ServiceLogger("console-check").error("order_failed", "Could not cook", exc_info=exc)

    first, *stack = console().splitlines()
    assert first.split(" ", 2)[1] == "ERROR" and first.endswith("order_failed  Could not cook")
    assert stack[0] == "Traceback (most recent call last):" and stack[-1] == "ValueError: bad"


def test_a_bad_log_format_stops_start_up_naming_the_variable():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "restaurant.settings", "LOG_FORMAT": "xml"}
    result = subprocess.run([PYTHON, "manage.py", "check"], cwd=REPO, env=env, capture_output=True, text=True)
    assert result.returncode != 0
    assert "LOG_FORMAT: expected json or console, got 'xml'" in result.stderr


@pytest.mark.slow
def test_the_web_process_writes_text_lines_with_log_format_console(processes):
    started = []

    def start(name: str, args: list[str], **env: str):
        started.append(processes(name, args, **env))
        return started[-1]

    url = start_web(start, LOG_FORMAT="console")
    response = requests.post(f"{url}/orders", json=order_payload(), timeout=15)
    assert response.status_code == 201, response.text
    number = response.json()["order_number"]

    [web] = started
    wait_for(lambda: number in web.output(), message="the order_received line")
    lines = web.output().splitlines()
    assert lines and not any(line.startswith("{") for line in lines)  # granian's own lines too
    assert any(f"INFO  order-service  order_received  Order {number} received" in line for line in lines), lines
