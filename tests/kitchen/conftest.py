"""Fixtures for running the real kitchen worker command against this run's database and vhost."""

import itertools

import pytest

from tests.support import ManagedProcess, manage


@pytest.fixture
def start_worker(processes, amqp_channel):
    """`start_worker(name, *flags, wait=True, **env)`: `run_kitchen_worker --worker-name=name *flags`
    as a subprocess (stopped at teardown), returned once it consumes (`broker_connected`).

    `env` overrides the environment (e.g. `COOKING_TIME_SCALE="0.5"`); `wait=False` returns at once,
    for a worker expected to fail. Every start gets a log file of its own, even under the same name.
    """
    counter = itertools.count(1)

    def start(name: str, *flags: str, wait: bool = True, **env: str) -> ManagedProcess:
        process = processes(
            f"worker-{name}-{next(counter)}", manage("run_kitchen_worker", f"--worker-name={name}", *flags), **env
        )
        if wait:
            process.wait_for_action("broker_connected", timeout=30)
        return process

    return start
