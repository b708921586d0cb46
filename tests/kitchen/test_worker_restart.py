"""A kitchen worker restarted after a crash, and a worker whose order a person finished.

- The same name from the same host whose previous process is gone takes its row back at once
  (kitchen/services.py: worker_register); another host's live row, or a live process's, is refused.
- A real worker "cooking" a long order notices within a second or two that a person made it ready
  (kitchen/worker.py: wait_while_cooking), acks it and cooks the next one.
"""

import socket
import subprocess
import time

import pytest

from kitchen.models import Worker, WorkerStatus
from kitchen.services import WorkerAlreadyOnline, worker_register
from orders.services import order_cancel, order_mark_ready
from tests.factories import create_order, logged

pytestmark = pytest.mark.django_db(transaction=True)

HOST = socket.gethostname()


def register(instance_id: str, *, host: str, pid: int | None) -> Worker:
    return worker_register(
        name="chef_phoenix", order_types=None, heartbeat_interval=30, instance_id=instance_id, host=host, pid=pid
    )


def gone_pid() -> int:
    """The pid of a process of this host that has exited (and been reaped)."""
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


@pytest.fixture
def live_pid():
    """A process of this host that runs for the test."""
    process = subprocess.Popen(["sleep", "120"])
    yield process.pid
    process.kill()
    process.wait()


def test_a_live_row_whose_process_on_this_host_is_gone_is_taken_back_at_once():
    first = register("crashed", host=HOST, pid=gone_pid())
    assert first.is_live()  # online and fresh: its process died without going offline

    taken = register("restarted", host=HOST, pid=12345)

    row = Worker.objects.get(name="chef_phoenix")
    assert (row.instance_id, row.host, row.pid, row.status) == ("restarted", HOST, 12345, WorkerStatus.ONLINE)
    assert taken.pk == first.pk
    assert Worker.objects.count() == 1


def test_a_live_row_whose_process_on_this_host_still_runs_is_refused(live_pid):
    register("running", host=HOST, pid=live_pid)

    with pytest.raises(WorkerAlreadyOnline):
        register("second", host=HOST, pid=gone_pid())

    assert Worker.objects.get(name="chef_phoenix").instance_id == "running"


def test_a_live_row_of_another_host_is_refused_whatever_its_pid():
    register("elsewhere", host="another-host.example", pid=gone_pid())  # a pid that means nothing here

    with pytest.raises(WorkerAlreadyOnline):
        register("here", host=HOST, pid=4242)
    with pytest.raises(WorkerAlreadyOnline):  # nor without a host: nothing to compare
        register("nameless", host="", pid=None)

    assert Worker.objects.get(name="chef_phoenix").instance_id == "elsewhere"


def test_a_real_worker_registers_its_host_and_pid(start_worker):
    worker = start_worker("chef_where")

    row = Worker.objects.get(name="chef_where")
    assert (row.host, row.pid) == (HOST, worker.pid)


@pytest.mark.slow
def test_a_worker_goes_on_to_the_next_order_once_a_person_made_its_order_ready(relay, start_worker):
    worker = start_worker("chef_slow", COOKING_TIME_SCALE="3")  # a takeout cooks 30 s
    first = create_order()
    [started] = worker.wait_for_action("order_processing_started")
    assert started["details"]["order_number"] == first.number
    second = create_order()

    order_mark_ready(number=first.number, changed_by="anna")  # a person, on the screen
    marked = time.monotonic()
    [moved] = worker.wait_for_action("order_moved_by_person", timeout=5)
    worker.wait_for_action("order_processing_started", count=2, timeout=5)
    took = time.monotonic() - marked

    assert took < 3.5, f"the worker went on to the next order {took:.1f}s after the person's move"
    assert moved["details"] == {"order_number": first.number, "status": "ready", "changed_by": "anna"}
    assert worker.actions("order_processing_started")[1]["details"]["order_number"] == second.number
    assert logged(first) == [("received", "order-service"), ("cooking", "chef_slow"), ("ready", "anna")]
    assert Worker.objects.get(name="chef_slow").orders_processed == 0

    # A cancel is a move too (and the worker is free again for a quick teardown).
    order_cancel(number=second.number, changed_by="bruno")
    [_, cancelled] = worker.wait_for_action("order_moved_by_person", count=2, timeout=5)
    assert cancelled["details"] == {"order_number": second.number, "status": "cancelled", "changed_by": "bruno"}
    assert not worker.actions("order_completed")
    assert worker.proc.poll() is None
