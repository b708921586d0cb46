"""Fixtures for the kitchen tests: the real kitchen worker command against this run's database and vhost,
and the directory of the browser test's screenshots."""

import itertools
from pathlib import Path

import pytest

from tests.support import REPO, ManagedProcess, manage


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


BROWSER_ARTIFACTS = REPO / "artifacts" / "browser"
_artifacts_written = pytest.StashKey[bool]()


@pytest.fixture
def browser_artifacts(request) -> Path:
    """artifacts/browser/ (git-ignored), emptied of an earlier run's screenshots; its path is printed
    at the end of the run."""
    BROWSER_ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for old in BROWSER_ARTIFACTS.glob("*.png"):
        old.unlink(missing_ok=True)
    request.config.stash[_artifacts_written] = True
    return BROWSER_ARTIFACTS


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if config.stash.get(_artifacts_written, False):
        terminalreporter.write_line(f"browser screenshots: {BROWSER_ARTIFACTS}")
