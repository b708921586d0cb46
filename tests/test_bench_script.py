"""scripts/bench.py's slots phase (issue 19, `make bench BENCH_ARGS="--phases slots"`) kept honest
without a whole bench run: its "on" menu loads and gives every station a capacity, the bodies both
sides post book their units on the "on" menu and none on the demo menu (counted as the bench
counts them), and the wrk script posts the lines of a bodies file."""

import importlib
import json
import shutil
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.management import call_command
from django.db import connection

from tests.support import REPO


@pytest.fixture(scope="module")
def bench():
    """scripts/bench_slots.py and scripts/bench_phases.py, imported as bench.py imports them."""
    sys.path.insert(0, str(REPO / "scripts"))
    try:
        return {name: importlib.import_module(name) for name in ("bench_slots", "bench_phases", "bench_stack")}
    finally:
        sys.path.remove(str(REPO / "scripts"))


def post_menu_orders(client, bench) -> None:
    side = bench["bench_stack"].Side("current", REPO, "test")
    for body, _ in bench["bench_slots"].menu_orders(side):
        answer = client.post("/orders", json.dumps(body), "application/json")
        assert answer.status_code == 201, answer.content


@pytest.mark.django_db
def test_the_on_side_books_every_item_of_the_bodies_in_a_capacity_no_order_reaches(client, bench, tmp_path):
    slots = bench["bench_slots"]
    menu = slots.capacity_menu(json.loads((REPO / "menu/demo_menu.json").read_text()))
    assert {station["capacity_per_slot"] for station in menu["stations"]} == {slots.SLOT_CAPACITY}
    path = tmp_path / "menu.json"
    path.write_text(json.dumps(menu))
    call_command("load_menu", str(path), verbosity=0)

    post_menu_orders(client, bench)

    booked = slots.bookings(connection.connection)
    assert booked["orders"] == 4 and booked["item_units"] == 8  # one unit on each of two stations per order
    assert booked["reservations"] == 8 and booked["reserved_units"] == booked["load_units"] == 8
    assert booked["capacity_per_slot"] == slots.SLOT_CAPACITY > booked["most_used"]
    assert not slots.bookings_wrong("on", booked)
    assert slots.bookings_wrong("off", booked)


@pytest.mark.django_db
def test_the_off_side_books_nothing_for_the_same_bodies(client, bench):
    slots = bench["bench_slots"]
    call_command("load_menu", str(REPO / "menu/demo_menu.json"), verbosity=0)

    post_menu_orders(client, bench)

    booked = slots.bookings(connection.connection)
    assert booked["orders"] == 4 and booked["item_units"] == 8
    assert booked["reservations"] == booked["loads"] == 0
    assert not slots.bookings_wrong("off", booked)
    assert slots.bookings_wrong("on", booked)


class Recorder(BaseHTTPRequestHandler):
    bodies: list[bytes] = []

    def do_POST(self):  # noqa: N802 (http.server's name)
        self.bodies.append(self.rfile.read(int(self.headers["Content-Length"])))
        self.send_response(201)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed (make bench installs it)")
def test_wrk_posts_the_lines_of_a_bodies_file(bench, tmp_path):
    lines = [json.dumps({"n": n}) for n in range(3)]
    bodies = tmp_path / "bodies.jsonl"
    bodies.write_text("".join(line + "\n" for line in lines))
    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        figures = bench["bench_phases"].run_wrk(f"http://127.0.0.1:{server.server_port}", 1, 1, 2.0, bodies)
    finally:
        server.shutdown()
        server.server_close()
    assert figures["requests"] >= 3 and figures["non_2xx"] == 0
    assert set(Recorder.bodies) == {line.encode() for line in lines}
