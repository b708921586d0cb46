"""Fixtures for running the real notification subscriber (and, from tests/kitchen, the real worker)."""

import itertools

import pytest

from tests.kitchen.conftest import start_worker  # noqa: F401 (a fixture, used by name)
from tests.support import ManagedProcess, manage


@pytest.fixture
def start_subscriber(processes, amqp_channel):
    """`start_subscriber(name=None, wait=True, **env)`: `run_notification_subscriber` (with
    `--subscriber-name=name` when given) as a subprocess (stopped at teardown), returned once it
    consumes (`broker_connected`). Every start gets a log file of its own, even under the same name."""
    counter = itertools.count(1)

    def start(name: str | None = None, *, wait: bool = True, **env: str) -> ManagedProcess:
        flags = [f"--subscriber-name={name}"] if name else []
        process = processes(
            f"subscriber-{name or 'anonymous'}-{next(counter)}", manage("run_notification_subscriber", *flags), **env
        )
        if wait:
            process.wait_for_action("broker_connected", timeout=30)
        return process

    return start
