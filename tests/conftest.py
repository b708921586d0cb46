import os
import re
import signal
from collections.abc import Iterator

import pytest
from django.db import connection

from orders.models import OrderType
from restaurant import broker
from tests import settings as test_settings
from tests.support import ManagedProcess, admin_connection, manage, rabbitmqctl, start_web

STALE_RUN = re.compile(r"restaurant_test_(\d+)_\d+$")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _drop_stale_runs() -> None:
    """Remove the vhosts and databases of earlier runs whose pytest process is gone (a killed run)."""
    for vhost in rabbitmqctl("list_vhosts", "--silent", "name").split():
        match = STALE_RUN.fullmatch(vhost)
        if match and not _pid_alive(int(match.group(1))):
            rabbitmqctl("delete_vhost", vhost, check=False)
    with admin_connection() as admin:
        for (name,) in admin.execute("SELECT datname FROM pg_database WHERE datname LIKE 'test_restaurant_%'"):
            match = STALE_RUN.fullmatch(name.replace("test_restaurant_", "restaurant_test_"))
            if match and not _pid_alive(int(match.group(1))):
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


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
        channel.queue_delete(broker.kitchen_queue(order_type))
    channel.queue_delete(broker.DEAD_LETTER_QUEUE)
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
