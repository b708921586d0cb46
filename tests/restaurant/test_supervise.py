"""`make run`'s supervisor (restaurant/supervise.py), run for real on a Procfile of the test's own
(this run's database and vhost): a worker killed with SIGKILL is restarted, takes its name back at
once, and the other processes keep running; SIGTERM lets a worker finish the order it cooks."""

import json
import os
import signal
import socket
from pathlib import Path

import pytest

from kitchen.models import Worker, WorkerStatus
from orders.models import Order, OrderStatus
from restaurant.supervise import Output, children_of, shell_line
from tests.factories import create_order, logged
from tests.support import PYTHON, REPO, ManagedProcess, free_port, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

PROCFILE = f"""\
relay: {PYTHON} manage.py run_outbox_relay
worker: {PYTHON} manage.py run_kitchen_worker --worker-name=chef_super
subscriber: {PYTHON} manage.py run_notification_subscriber --subscriber-name=desk
"""


def lines(supervisor: ManagedProcess, name: str) -> list[dict]:
    """The JSON lines the supervisor printed for process `name` (`supervise` for its own)."""
    found = []
    for line in supervisor.output().splitlines():
        prefix, bar, rest = line.partition(" | ")
        if bar and prefix.strip() == name and rest.startswith("{"):
            try:
                found.append(json.loads(rest))
            except ValueError:
                pass
    return found


def actions(supervisor: ManagedProcess, name: str, action: str) -> list[dict]:
    return [line for line in lines(supervisor, name) if line.get("action") == action]


def wait_for_line(supervisor: ManagedProcess, name: str, action: str, *, count: int = 1, timeout: float = 30):
    def found():
        if supervisor.proc.poll() is not None:
            raise AssertionError(f"the supervisor exited {supervisor.proc.returncode}:\n{supervisor.output()}")
        return len(got := actions(supervisor, name, action)) >= count and got

    return wait_for(found, timeout=timeout, message=f"{count}× {action} from {name}")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture
def supervise(processes, amqp_channel, tmp_path: Path):
    """`supervise(**env)`: the supervisor on PROCFILE, once every process consumes. At teardown,
    whatever it started and left running (were it killed itself) is killed too."""
    started: list[ManagedProcess] = []

    def start(**env: str) -> ManagedProcess:
        procfile = tmp_path / "Procfile"
        procfile.write_text(PROCFILE)
        command = [PYTHON, "-m", "restaurant.supervise", "-f", str(procfile), "-p", str(free_port())]
        supervisor = processes("supervise", [*command, "--stop-timeout", "40"], **env)
        started.append(supervisor)
        for name in ("relay", "worker", "subscriber"):
            wait_for_line(supervisor, name, "broker_connected")
        return supervisor

    yield start
    for supervisor in started:
        supervisor.stop(timeout=45)
        for line in actions(supervisor, "supervise", "process_started"):
            try:
                os.killpg(line["details"]["pid"], signal.SIGKILL)
            except ProcessLookupError:
                pass


def test_a_worker_killed_under_the_supervisor_is_restarted_takes_its_name_back_and_the_rest_keep_running(supervise):
    supervisor = supervise(COOKING_TIME_SCALE="0.01")
    first = {
        line["details"]["process"]: line["details"]["pid"]
        for line in actions(supervisor, "supervise", "process_started")
    }
    row = Worker.objects.get(name="chef_super")
    assert (row.host, row.status) == (socket.gethostname(), WorkerStatus.ONLINE)

    os.kill(row.pid, signal.SIGKILL)  # the worker's own process: no goodbye, its row stays online

    [exited] = wait_for_line(supervisor, "supervise", "process_exited")
    assert exited["details"]["process"] == "worker"
    assert exited["details"]["exit_code"] in (-signal.SIGKILL, 128 + signal.SIGKILL)
    wait_for_line(supervisor, "worker", "broker_connected", count=2)
    assert len(actions(supervisor, "worker", "worker_registered")) == 2
    assert not actions(supervisor, "worker", "worker_registration_failed")  # not refused its own name
    restarted = Worker.objects.get(name="chef_super")
    assert restarted.status == WorkerStatus.ONLINE and restarted.pid != row.pid
    assert restarted.instance_id != row.instance_id

    # The others were never stopped, and the whole line still cooks: relay → restarted worker.
    started = actions(supervisor, "supervise", "process_started")
    assert [line["details"]["process"] for line in started].count("worker") == 2
    assert [line["details"]["process"] for line in started if line["details"]["process"] != "worker"] == [
        "relay",
        "subscriber",
    ]
    assert alive(first["relay"]) and alive(first["subscriber"])
    order = create_order()
    wait_for(lambda: Order.objects.get(pk=order.pk).status == OrderStatus.READY, timeout=30, message="ready")
    assert logged(order)[1:] == [("cooking", "chef_super"), ("ready", "chef_super")]


def test_sigterm_to_the_supervisor_lets_the_worker_finish_the_order_it_cooks(supervise):
    supervisor = supervise(COOKING_TIME_SCALE="1")  # a takeout cooks 10 s: past honcho's 5 s
    order = create_order()
    wait_for_line(supervisor, "worker", "order_processing_started")

    supervisor.send(signal.SIGTERM)

    assert supervisor.wait(timeout=60) == 0
    assert Order.objects.get(pk=order.pk).status == OrderStatus.READY
    assert logged(order)[1:] == [("cooking", "chef_super"), ("ready", "chef_super")]
    assert actions(supervisor, "relay", "graceful_shutdown")
    for name in ("worker", "subscriber"):
        [shutdown] = actions(supervisor, name, "graceful_shutdown")
        assert shutdown["details"]["signal"] == "SIGTERM"
    assert Worker.objects.get(name="chef_super").status == WorkerStatus.OFFLINE
    assert not actions(supervisor, "supervise", "processes_killed")


# --- what it starts, and the production units -----------------------------------------------


@pytest.mark.django_db(transaction=False)
def test_the_procfile_lines_get_honchos_ports_and_kitchen_workers_can_be_left_out():
    everything = children_of(REPO / "Procfile", 8000, [], Output(10))
    ports = {child.name: child.port for child in everything}
    assert ports["web"] == 8000 and ports["display"] == 8500  # DISPLAY_URL's $PORT + 500, as with honcho

    people_cook = children_of(REPO / "Procfile", 8000, ["worker_*"], Output(10))  # make run KITCHEN_WORKERS=0
    assert [child.name for child in people_cook] == [n for n in ports if not n.startswith("worker_")]
    assert {child.name: child.port for child in people_cook}["display"] == 8500
    assert shell_line("daphne -p $PORT app") == "exec daphne -p $PORT app"
    assert shell_line("a; b") == "a; b"


@pytest.mark.django_db(transaction=False)
def test_every_procfile_process_has_a_systemd_unit_restarted_on_failure():
    units = REPO / "deploy" / "systemd"
    services = {path.name: path.read_text() for path in units.glob("*.service")}
    wanted = (units / "restaurant.target").read_text()
    for name in (line.partition(":")[0] for line in (REPO / "Procfile").read_text().splitlines() if line.strip()):
        unit = f"restaurant-{name.partition('_')[0]}"
        template = f"{unit}@.service"
        assert f"{unit}.service" in services or template in services, name
        assert f"{unit}.service" in wanted or f"{unit}@" in wanted, name
    for name, text in services.items():
        assert "Restart=on-failure" in text.splitlines(), name
        assert any(line.startswith("TimeoutStopSec=") for line in text.splitlines()), name
