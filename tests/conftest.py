"""The fixtures of every test: this run's vhost and database, the SPEC topology, and the real commands
as subprocesses (web, relay, kitchen workers, notification subscribers, display processes), and the
browser test's screenshot directory.

Under pytest-xdist every worker has a vhost and a database of its own (tests/settings.py names both
after the run and the worker), so workers never share tables or messages.
"""

import itertools
import os
import re
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from django.db import connection

from kitchen.topology import kitchen_queue
from notifications.customer import QUEUE as CUSTOMER_NOTIFICATIONS_QUEUE
from orders.capacity import forget_clock
from orders.models import OrderType
from restaurant import broker
from tests import settings as test_settings
from tests.amqp import rabbitmqctl
from tests.support import PYTHON, REPO, ManagedProcess, admin_connection, manage, proxy_to, start_web, wait_for

# restaurant_test_<pid of the pytest run>_<start time>[_<xdist worker>]: the workers of one run share
# its pid (the controller's), so a run only ever drops the leftovers of runs whose process is gone.
STALE_RUN = re.compile(r"restaurant_test_((\d+)_\d+)(?:_gw\d+)?$")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _is_stale(name: str) -> bool:
    """A vhost (or, prefixed `test_`, a database) of another run whose pytest process is gone. Never one
    of this run's own (its sibling workers'), even under a TEST_RUN_ID given from outside."""
    match = STALE_RUN.fullmatch(name)
    return bool(match) and match.group(1) != test_settings.RUN_ID and not _pid_alive(int(match.group(2)))


def _drop_stale_runs() -> None:
    """Remove the vhosts and databases of earlier runs whose pytest process is gone (a killed run)."""
    for vhost in rabbitmqctl("list_vhosts", "--silent", "name").split():
        if _is_stale(vhost):
            rabbitmqctl("delete_vhost", vhost, check=False)
    with admin_connection() as admin:
        for (name,) in admin.execute("SELECT datname FROM pg_database WHERE datname LIKE 'test_restaurant_%'"):
            if _is_stale(name.replace("test_restaurant_", "restaurant_test_")):
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def django_db_modify_db_settings() -> None:
    """tests/settings.py already gives each xdist worker a database name of its own (TEST_DATABASE_NAME,
    named like the vhost); pytest-django's own `_gw0` suffix would only be added a second time."""


@pytest.fixture(scope="session", autouse=True)
def rabbitmq_vhost() -> Iterator[str]:
    """This run's own RabbitMQ vhost, deleted at the end."""
    _drop_stale_runs()
    vhost = test_settings.TEST_VHOST
    rabbitmqctl("add_vhost", vhost)
    rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
    yield vhost
    rabbitmqctl("delete_vhost", vhost, check=False)


@pytest.fixture
def amqp_channel(rabbitmq_vhost):
    """A channel on this run's vhost with the SPEC topology declared and its queues empty."""
    conn = broker.connect(client_name="pytest")
    channel = conn.channel()
    for order_type in OrderType.values:
        channel.queue_delete(kitchen_queue(order_type))
    channel.queue_delete(broker.DEAD_LETTER_QUEUE)
    channel.queue_delete(CUSTOMER_NOTIFICATIONS_QUEUE)  # bound to the order messages when an earlier test made it
    broker.declare_topology(channel)
    yield channel
    if conn.is_open:
        conn.close()


@pytest.fixture
def test_database_name(transactional_db) -> str:
    return connection.settings_dict["NAME"]


@pytest.fixture
def service_env(test_database_name) -> dict[str, str]:
    """The environment for a real command: this run's database and vhost."""
    db = connection.settings_dict
    auth = f"{db['USER']}@" if db["USER"] else ""
    host = f"{db['HOST']}:{db['PORT'] or 5432}" if db["HOST"] else ""
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="restaurant.settings",
        DATABASE_URL=f"postgres://{auth}{host}/{test_database_name}",
        RABBITMQ_URL=os.environ["RABBITMQ_URL"],
        PYTHONUNBUFFERED="1",
        LOG_LEVEL="DEBUG",
    )
    return env


@pytest.fixture
def processes(service_env, tmp_path, request):
    """Start real commands; every one still running is stopped when the test ends."""
    started: list[ManagedProcess] = []

    def start(name: str, args: list[str], **env_overrides: str) -> ManagedProcess:
        env = {**service_env, **env_overrides}
        process = ManagedProcess(name, args, env, tmp_path)
        started.append(process)
        return process

    yield start
    for process in started:  # signal all first, so they shut down side by side
        process.send(signal.SIGTERM)
    for process in started:
        process.stop()
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        for process in started:
            print(f"----- {process.name} ({process.log_path}) -----\n{process.output()[-6000:]}")


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture
def web_url(processes) -> str:
    return start_web(processes)


@pytest.fixture
def relay(processes, amqp_channel) -> ManagedProcess:
    process = processes("relay", manage("run_outbox_relay"))
    process.wait_for_action("broker_connected")
    return process


@pytest.fixture
def broker_proxy():
    """A TCP proxy to RabbitMQ that the test can cut and restore (see `url_through`)."""
    proxy = proxy_to(os.environ["RABBITMQ_URL"])
    yield proxy
    proxy.close()


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


@pytest.fixture
def start_display(processes):
    """`start_display(name, port, **env)`: the Procfile's display process (daphne with our limits,
    `python -m restaurant.display`, DATABASE_POOL_SIZE=4) on `port`, returned once it answers
    `/health/live` (failing at once if it exits first); `env` overrides the environment (e.g. a
    RABBITMQ_URL through a proxy)."""

    def start(name: str, port: int, **env: str) -> ManagedProcess:
        display = [PYTHON, "-m", "restaurant.display", "-b", "127.0.0.1", "-p", str(port)]
        command = [*display, "restaurant.asgi:application"]
        process = processes(name, command, **{"DATABASE_POOL_SIZE": "4", **env})

        def answers():
            if process.proc.poll() is not None:
                raise AssertionError(f"{name} exited {process.proc.returncode}:\n{process.output()}")
            try:
                return requests.get(f"http://127.0.0.1:{port}/health/live", timeout=1).status_code == 200
            except requests.RequestException:
                return False

        wait_for(answers, timeout=30, interval=0.1, message=f"{name} to answer on port {port}")
        return process

    return start


BROWSER_ARTIFACTS = REPO / "artifacts" / "browser"
_session_started = pytest.StashKey[float]()


@pytest.fixture
def browser_artifacts() -> Path:
    """artifacts/browser/ (git-ignored), emptied of an earlier run's screenshots when the run starts;
    its path is printed at the end of the run."""
    BROWSER_ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return BROWSER_ARTIFACTS


def pytest_sessionstart(session):
    session.config.stash[_session_started] = time.time()
    # Once, by the run's controller: a browser test emptying the folder itself would delete what
    # the browser tests of the other xdist workers had just written.
    if not hasattr(session.config, "workerinput"):
        for old in BROWSER_ARTIFACTS.glob("*.png"):
            old.unlink(missing_ok=True)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    # Under pytest-xdist the browser test runs in a worker and this summary is the controller's: it
    # looks at the screenshots themselves, and names their directory when this run wrote some.
    started = config.stash.get(_session_started, None)
    if started is not None and any(shot.stat().st_mtime >= started for shot in BROWSER_ARTIFACTS.glob("*.png")):
        terminalreporter.write_line(f"browser screenshots: {BROWSER_ARTIFACTS}")


@pytest.fixture(autouse=True)
def _kitchen_clock_read_afresh():
    """orders/capacity.py keeps the kitchen's clock for a few seconds; a test's database starts
    without the last test's clock (a flush sends no signal to forget it)."""
    forget_clock()
