"""The soak of issue 17: orders at a steady rate through the whole stack for minutes, while poison
messages are published to each exchange the consumers read and a kitchen worker, the relay and the
display (its bridge with it) are killed; then checks that nothing was lost, doubled or left dead.

    .venv/bin/python scripts/soak.py                          # 10 minutes at 50 orders/s (make soak)
    .venv/bin/python scripts/soak.py --minutes 0.5 --rate 10  # a short one (tests/test_soak.py)

How, in order:

1. A database and a vhost of its own (`restaurant_soak_<pid>`; those of a killed soak are dropped
   at the start), migrated, the demo menu loaded.
2. The whole stack as `make run` starts it: every line of the Procfile under restaurant/supervise.py
   (which restarts a process that exits), JSON logs into a file, `COOKING_TIME_SCALE=0` so that
   the two kitchen workers cook at the rate orders come in, and `ORDERS_RATE_LIMIT` raised to a
   limit no client reaches (all the customers share 127.0.0.1): the limit's count is still made.
3. A customer board's socket on the display (public, `/ws/board/`), which keeps what the board shows.
4. `--clients` threads POST menu orders at `--rate` per second for `--minutes`; every
   `--poison-every` s a poison message goes to `orders_topic` (a kitchen routing key) and to
   `notifications_fanout`, in turn a body nested 5000 deep, bytes that are not JSON, a JSON value
   that is not an object, a message with a bad field; at 1/8 of the run the display bridge's broker
   connection is closed (`rabbitmqctl close_connection`), at 1/4 the kitchen worker `worker_general`
   is killed (SIGKILL), at 1/2 the relay, at 3/4 the display process.
5. After the load: waits until every order is ready and the outbox empty, then one more order
   (the probe) must go all the way to `ready` and onto the board.
6. Checks (exit 1 if one fails) and figures, printed as Markdown tables.

Everything is stopped and dropped at the end, on a failure or Ctrl-C too (--keep keeps the
database, the vhost and the logs).
"""

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import pika
import requests
from bench_display import menu_orders
from bench_stack import (
    REPO,
    amqp_url,
    base_env,
    connect,
    create_database,
    create_vhost,
    current_side,
    drop_database,
    is_running,
    machine,
    percentile,
    rabbitmqctl,
)
from soak_watch import Board, Customers, Sampler, StackLog

NAME_PATTERN = re.compile(r"restaurant_soak_(\d+)")
ORDERS_EXCHANGE, NOTIFICATIONS_EXCHANGE, DEAD_LETTER_QUEUE = "orders_topic", "notifications_fanout", "dead_letter_queue"
PROCESSES = [line.split(":", 1)[0] for line in (REPO / "Procfile").read_text().splitlines() if ":" in line]
BOARD_TYPES = ("takeout", "dine_in")  # what the board shows without ?types=
BOARD_ORDERS = 500  # the open orders a board's snapshot holds: kitchen/screens.py's BOARD_ORDERS


def board_not_ready(numbers, board) -> list[str]:
    """Of the orders of the board's types, those it should show ready and does not: the newest
    BOARD_ORDERS (what its snapshot holds), and every other one it heard of since."""
    newest = set(sorted(numbers, key=_number_order)[-BOARD_ORDERS:])
    return [n for n in numbers if (n in newest or board.status_of(n) is not None) and board.status_of(n) != "ready"]


def _number_order(number: str) -> tuple[str, int]:
    """ORD_YYYYMMDD_NNN in the order the counter gave them: by day, then by number of the day."""
    _, day, sequence = number.split("_")
    return day, int(sequence)


KILLED_WORKER = "worker_general"  # the worker of every order type: takeout and delivery wait for it
POISON_KINDS = ("nested 5000 deep", "not JSON", "not an object", "bad field")


# --- the poison ---------------------------------------------------------------------------------


def poison_body(exchange: str, k: int) -> bytes:
    """The k-th poison message's body for `exchange`: the kinds in turn, the bad fields in turn."""
    kind = POISON_KINDS[k % len(POISON_KINDS)]
    if kind == "nested 5000 deep":
        return b"[" * 5000
    if kind == "not JSON":
        return b"\xff\xfe soak: not JSON \x00{"
    if kind == "not an object":
        return b'["soak", "not", "an", "object"]'
    turn = (k // len(POISON_KINDS)) % 3
    if exchange == ORDERS_EXCHANGE:
        order = {"order_number": "ORD_20000101_001", "order_type": "takeout", "items": [{"name": "x", "quantity": 1}]}
        order.update([{"order_number": "soak'; DROP TABLE orders"}, {"order_type": "spaceship"}, {"items": []}][turn])
        return json.dumps(order).encode()
    update = {"order_number": "ORD_20000101_001", "old_status": "received", "new_status": "cooking", "changed_by": "x"}
    update.update([{"new_status": None}, {"changed_by": "soak\nforged line"}, {"order_number": 42}][turn])
    return json.dumps(update).encode()


@dataclass
class Poison:
    exchange: str
    k: int
    message_id: str
    kind: str
    routing_key: str
    at: float


def publish_poison(url: str, k: int, at: float) -> list[Poison]:
    """The k-th poison message to each exchange, persistent, confirmed and routed (mandatory)."""
    sent = []
    with pika.BlockingConnection(pika.URLParameters(url)) as amqp:
        channel = amqp.channel()
        channel.confirm_delivery()
        for exchange, short in ((ORDERS_EXCHANGE, "orders"), (NOTIFICATIONS_EXCHANGE, "notifications")):
            order_type = ("takeout", "dine_in", "delivery")[k % 3]
            key = f"kitchen.{order_type}.1" if exchange == ORDERS_EXCHANGE else ""
            poison = Poison(exchange, k, f"soak-poison-{short}-{k}", POISON_KINDS[k % len(POISON_KINDS)], key, at)
            properties = pika.BasicProperties(
                content_type="application/json",
                delivery_mode=2,
                message_id=poison.message_id,
                headers={"soak": "poison"},
            )
            channel.basic_publish(exchange, key, poison_body(exchange, k), properties, mandatory=True)
            sent.append(poison)
    return sent


def dead_letters(url: str) -> list[dict]:
    """Every message of the dead-letter queue (taken and handed back: the channel closes unacked)."""
    found = []
    with pika.BlockingConnection(pika.URLParameters(url)) as amqp:
        channel = amqp.channel()
        depth = channel.queue_declare(DEAD_LETTER_QUEUE, passive=True).method.message_count
        for _ in range(depth):
            method, properties, body = channel.basic_get(DEAD_LETTER_QUEUE, auto_ack=False)
            if method is None:
                break
            headers = properties.headers or {}
            found.append(
                {
                    "message_id": properties.message_id,
                    "reason": str(headers.get("x-dead-letter-reason") or headers.get("x-first-death-reason")),
                    "exchange": headers.get("x-original-exchange"),
                }
            )
    return found


# --- the kills ------------------------------------------------------------------------------------


@dataclass
class Kill:
    process: str
    how: str
    at: float  # monotonic
    old_pid: int | None = None
    restarted: float | None = None  # s after the kill: started again (a bridge: reconnected)
    new_pid: int | None = None
    serving: float | None = None  # s after the kill: serving again, as `serving_by` says
    serving_by: str = ""
    error: str = ""


class Chaos:
    """The schedule: poison every `poison_every` s (from half of it), the kills at their fraction of
    the run; each kill's recovery watched on a thread of its own."""

    def __init__(self, args, log: StackLog, board: Board, sampler: Sampler, vhost: str) -> None:
        self.args, self.log, self.board, self.sampler, self.vhost = args, log, board, sampler, vhost
        self.url = amqp_url(vhost)
        self.poisons: list[Poison] = []
        self.kills: list[Kill] = []
        self.failures: list[str] = []
        self.stop = threading.Event()
        self.watchers: list[threading.Thread] = []
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.start = 0.0
        self.bridge_pid = ""

    def schedule(self) -> list[tuple[float, str, object]]:
        seconds = self.args.minutes * 60
        events: list[tuple[float, str, object]] = []
        k, at = 0, self.args.poison_every / 2
        while at < seconds:
            events.append((at, "poison", k))
            k, at = k + 1, at + self.args.poison_every
        events += [
            (seconds / 8, "cut", "bridge"),
            (seconds / 4, "kill", KILLED_WORKER),
            (seconds / 2, "kill", "relay"),
            (seconds * 3 / 4, "kill", "display"),
        ]
        return sorted(events, key=lambda event: event[0])

    def prepare(self) -> None:
        """The bridge's connection, looked up before the load (the board's socket started the
        bridge, which keeps that connection until it is cut)."""
        self.bridge_pid = self.bridge_connection()

    def begin(self, start: float) -> None:
        self.start = start
        self.thread.start()

    def run(self) -> None:
        for at, what, arg in self.schedule():
            if self.stop.wait(max(0.0, self.start + at - time.monotonic())):
                return
            try:
                if what == "poison":
                    self.poisons += publish_poison(self.url, arg, time.monotonic())
                elif what == "kill":
                    self.kill(arg)
                else:  # rabbitmqctl takes seconds to start: on a thread, so that the schedule keeps time
                    self.in_thread(self.cut_bridge, f"cut bridge at {at:.0f} s")
            except Exception as exc:  # a step that failed is a failed check, not a stopped soak
                self.failures.append(f"{what} {arg} at {at:.0f} s: {type(exc).__name__}: {exc}")

    def in_thread(self, step, label: str) -> None:
        def run() -> None:
            try:
                step()
            except Exception as exc:
                self.failures.append(f"{label}: {type(exc).__name__}: {exc}")

        thread = threading.Thread(target=run, daemon=True)
        self.watchers.append(thread)
        thread.start()

    def join(self, timeout: float) -> None:
        self.thread.join(timeout)
        deadline = time.monotonic() + timeout
        for watcher in self.watchers:
            watcher.join(max(0.0, deadline - time.monotonic()))

    def watch(self, kill: Kill, target) -> None:
        self.kills.append(kill)
        watcher = threading.Thread(target=target, args=(kill,), daemon=True)
        self.watchers.append(watcher)
        watcher.start()

    def kill(self, process: str) -> None:
        pid = self.log.pids.get(process)
        if pid is None:
            raise RuntimeError(f"no pid known for {process}")
        self.sampler.read_cpu()
        os.kill(pid, signal.SIGKILL)
        self.watch(Kill(process, f"kill -9 {pid}", time.monotonic(), old_pid=pid), self.recovery)

    def recovery(self, kill: Kill) -> None:
        """Restarted: the supervisor's process_started; serving: the worker consumes, the relay
        publishes, the board's new socket on the display has its snapshot."""
        limit = self.args.recover_within
        started = self.log.wait(lambda: self.log.supervised("process_started", kill.process, kill.at), limit)
        if not started:
            kill.error = f"not started again within {limit:.0f} s"
            return
        kill.restarted, kill.new_pid = started[0].at - kill.at, started[0].details["pid"]
        if kill.process == "display":
            self.board_serving(kill, limit)
            return
        action = "order_published" if kill.process == "relay" else "broker_connected"
        line = self.log.wait(lambda: self.log.find(kill.process, action, started[0].at), limit)
        if line:
            kill.serving, kill.serving_by = line[0].at - kill.at, action
        else:
            kill.error = f"no {action} within {limit:.0f} s of its restart"

    def board_serving(self, kill: Kill, limit: float, same_socket: bool = False) -> None:
        """Serving again once the board's socket has a snapshot taken after the kill (a socket waits
        for its bridge to consume before its snapshot, up to 3 s); `same_socket`: a resync, sent to
        the socket that was open at the cut. That later updates reach the board is checked at the
        end: the probe order, and every order shown ready."""
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline and not self.stop.is_set():
            if snapshots := self.board.find("snapshot", kill.at):
                closed = self.board.find("closed", kill.at)
                if same_socket and closed and closed[0].at < snapshots[0].at:
                    kill.error = "the board's socket was closed before any resync"
                    return
                kill.serving = snapshots[0].at - kill.at
                kill.serving_by = "board: resync snapshot" if same_socket else "board: snapshot on a new socket"
                return
            time.sleep(0.05)
        closed = self.board.find("closed", kill.at)
        why = f" (its socket closed {len(closed)} times: {closed[-1].detail})" if closed else ""
        kill.error = f"the board had no snapshot within {limit:.0f} s{why}"

    def bridge_connection(self) -> str:
        """The broker's pid of the display bridge's connection (rabbitmqctl: seconds to start)."""
        listed = rabbitmqctl("list_connections", "--silent", "pid", "vhost", "client_properties")
        rows = [(line.split("\t", 2) + ["", ""])[:3] for line in listed.splitlines()]
        pids = [pid for pid, vhost, props in rows if vhost == self.vhost and '"display-bridge:' in props]
        if not pids:
            raise RuntimeError("no display-bridge connection on the vhost")
        return pids[0]

    def cut_bridge(self) -> None:
        """Close the display bridge's broker connection, as the broker would on a network cut."""
        kill = Kill("bridge", "rabbitmqctl close_connection", time.monotonic())
        rabbitmqctl("close_connection", self.bridge_pid, "soak: the bridge's connection cut")
        self.watch(kill, self.bridge_recovery)

    def bridge_recovery(self, kill: Kill) -> None:
        """From the bridge's broker_connection_lost (rabbitmqctl itself takes seconds to start):
        reconnected, then a resync snapshot on the board's socket."""
        limit = self.args.recover_within
        lost = self.log.wait(lambda: self.log.find("display", "broker_connection_lost", kill.at), limit)
        if not lost:
            kill.error = f"the bridge did not lose its connection within {limit:.0f} s"
            return
        kill.at = lost[0].at
        line = self.log.wait(lambda: self.log.find("display", "broker_connected", kill.at), limit)
        if not line:
            kill.error = f"the bridge did not reconnect within {limit:.0f} s"
            return
        kill.restarted = line[0].at - kill.at
        self.board_serving(kill, limit, same_socket=True)


# --- the stack ------------------------------------------------------------------------------------


def base_port() -> int:
    """A base port whose web (+0) and display (+500) ports are free."""
    for _ in range(100):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port + 500 > 65535:
            continue
        try:
            with socket.socket() as sock:
                sock.bind(("127.0.0.1", port + 500))
        except OSError:
            continue
        return port
    raise RuntimeError("no free pair of ports")


def soak_env(name: str) -> dict[str, str]:
    """The bench's environment (DEBUG off, a fresh SECRET_KEY, the database and vhost `name`), with
    JSON logs, cooking in no time and a rate limit no client reaches (its count is still made)."""
    env = base_env(SimpleNamespace(log_level="INFO", conn_max_age=None, db_pool=None, workers=None), name)
    for key in [key for key in env if key.startswith("TEST_")]:  # a test run's own names
        del env[key]
    env.update(LOG_FORMAT="json", COOKING_TIME_SCALE="0", ORDERS_RATE_LIMIT="100000000/min", PYTHONUNBUFFERED="1")
    return env


def manage(env: dict[str, str], *command: str) -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", *command], cwd=REPO, env=env, capture_output=True, text=True, timeout=300
    )
    if result.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(command)} failed:\n{result.stdout}{result.stderr}")


def drop_stale() -> None:
    """The databases and vhosts of soaks whose process is gone."""
    with connect("postgres") as admin:
        names = [name for (name,) in admin.execute("SELECT datname FROM pg_database")]
    names += rabbitmqctl("list_vhosts", "--quiet", "--no-table-headers", check=False).split()
    for name in set(names):
        match = NAME_PATTERN.fullmatch(name)
        if match and not is_running(int(match[1])):
            drop_database(name)
            rabbitmqctl("delete_vhost", name, check=False)


class Stack:
    """The supervisor on the Procfile, its output followed by a StackLog."""

    def __init__(self, env: dict[str, str], log: StackLog, port: int, stop_timeout: float) -> None:
        self.log, self.stop_timeout = log, stop_timeout
        self.url, self.display_url = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{port + 500}"
        command = [sys.executable, "-m", "restaurant.supervise", "-f", "Procfile", "-p", str(port)]
        self.proc = subprocess.Popen(
            [*command, "--stop-timeout", str(stop_timeout)],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            start_new_session=True,
        )
        self.reader = threading.Thread(target=log.follow, args=(self.proc.stdout,), daemon=True)
        self.reader.start()

    def wait_until_up(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        for process in ("relay", "worker_general", "worker_dine_in", "subscriber"):
            left = deadline - time.monotonic()
            if not self.log.wait(lambda process=process: self.log.find(process, "broker_connected"), left):
                raise RuntimeError(f"{process} did not connect to the broker within {timeout:.0f} s")
        for url in (f"{self.url}/health", f"{self.display_url}/health/live"):
            while not answers(url):
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise RuntimeError(f"{url} did not answer 200 within {timeout:.0f} s")
                time.sleep(0.2)

    def stop(self) -> None:
        """SIGTERM to the supervisor (which passes it on), then SIGKILL to whatever is left."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=self.stop_timeout + 15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for pid in self.log.every_pid:  # its processes, were it killed itself
            try:
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        self.reader.join(timeout=10)

    def alive(self) -> dict[str, int | None]:
        """Each Procfile process's latest pid, None when it is not running."""
        return {name: pid if (pid := self.log.pids.get(name)) and running(pid) else None for name in PROCESSES}


def answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=5).status_code == 200
    except requests.RequestException:
        return False


def running(pid: int) -> bool:
    """Alive and not a zombie."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def wait_until(condition, timeout: float, interval: float = 0.5):
    deadline = time.monotonic() + timeout
    while not (result := condition()) and time.monotonic() < deadline:
        time.sleep(interval)
    return result


# --- after the load: what the database, the broker and the logs say ---------------------------------


@dataclass
class Check:
    name: str
    passed: bool
    detail: str = ""


@dataclass
class Outcome:
    checks: list[Check] = field(default_factory=list)
    tables: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def check(self, name: str, passed: bool, detail: str = "") -> None:
        self.checks.append(Check(name, bool(passed), detail))


def table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|---|" + "---:|" * (len(header) - 1)]
    return "\n".join(lines + ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows])


def orders_in_database(dbname: str) -> dict[str, dict]:
    """Every order: its status, type and how many rows of each status its log has."""
    query = """
        SELECT o.number, o.status, o.order_type,
               count(l.id) FILTER (WHERE l.status = 'received'),
               count(l.id) FILTER (WHERE l.status = 'cooking'),
               count(l.id) FILTER (WHERE l.status = 'ready'),
               extract(epoch FROM min(l.changed_at) FILTER (WHERE l.status = 'ready')
                                - min(l.changed_at) FILTER (WHERE l.status = 'received'))
        FROM orders o LEFT JOIN order_status_log l ON l.order_id = o.id
        GROUP BY o.id
    """
    with connect(dbname) as db:
        return {
            number: {"status": status, "type": kind, "received": r, "cooking": c, "ready": ready, "to_ready": to_ready}
            for number, status, kind, r, c, ready, to_ready in db.execute(query)
        }


def ms(values: list[float], *ps: float) -> str:
    return " / ".join(f"{1000 * percentile(values, p):.0f}" for p in ps)


def s(values: list[float], *ps: float) -> str:
    return " / ".join(f"{percentile(values, p):.2f}" for p in ps)


def seconds_or(value: float | None, error: str = "") -> str:
    return f"{value:.1f}" if value is not None else f"**{error or 'never'}**"


def evaluate(args, stack: Stack, customers: Customers, chaos: Chaos, board: Board, sampler: Sampler, probe, name: str):
    """The checks and the figures of the run."""
    out = Outcome()
    posts = sorted(customers.posts, key=lambda post: post.index)
    accepted = {post.number: post for post in posts if post.status == 201}
    refused = Counter(post.status for post in posts if post.status not in (201, None))
    failed = [post for post in posts if post.status is None]
    orders = orders_in_database(name)
    probe_number = probe.get("number")

    # intake
    span = max((post.sent + post.seconds for post in posts), default=customers.start) - customers.start
    latencies = sorted(post.seconds for post in posts if post.status is not None)
    refused_text = ", ".join(f"{code}: {n}" for code, n in sorted(refused.items())) or "0"
    out.tables.append(
        "Intake (`POST /orders`)\n\n"
        + table(
            [
                "asked",
                "placed",
                "accepted (201)",
                "refused",
                "errors (no answer)",
                "orders/s accepted",
                "POST p50 / p95 / p99 / max ms",
            ],
            [
                [
                    f"{args.rate:g}/s × {args.minutes * 60:.0f} s = {customers.total}",
                    len(posts),
                    len(accepted),
                    refused_text,
                    len(failed),
                    f"{len(accepted) / span:.1f}" if span else "–",
                    ms(latencies, 50, 95, 99, 100),
                ]
            ],
        )
    )
    if span and len(accepted) / span < 0.95 * args.rate:
        out.notes.append(f"the intake fell short of {args.rate:g}/s: {len(accepted) / span:.1f}/s accepted")
    examples = "; ".join(sorted({f"{p.status}: {p.error}" for p in posts if p.status != 201})[:3])
    out.check("every POST /orders answered 201", not refused and not failed, examples)

    # the orders
    lost = sorted(number for number in accepted if number not in orders)
    not_ready = sorted(n for n in accepted if n in orders and orders[n]["status"] not in ("ready", "completed"))
    not_once = sorted(n for n, o in orders.items() if (o["received"], o["cooking"], o["ready"]) != (1, 1, 1))
    unanswered = sorted(set(orders) - set(accepted) - {probe_number})
    out.check("no accepted order lost (each 201's number is in the database)", not lost, ", ".join(lost[:5]))
    out.check("every accepted order ready", not not_ready, ", ".join(not_ready[:5]))
    out.check(
        "every order logged received, cooking and ready exactly once",
        not not_once,
        "; ".join(f"{n}: {orders[n]['received']}/{orders[n]['cooking']}/{orders[n]['ready']}" for n in not_once[:5]),
    )
    if unanswered:
        out.notes.append(f"{len(unanswered)} orders in the database whose POST got no 201 (e.g. {unanswered[0]})")
    to_ready = sorted(o["to_ready"] for n, o in orders.items() if n in accepted and o["to_ready"] is not None)
    load_end = max((post.sent for post in posts), default=customers.start)
    during = [sample for sample in sampler.samples if customers.start <= sample.at]
    worst = max(during, key=lambda sample: sample.lag, default=None)
    at_stop = min(sampler.samples, key=lambda sample: abs(sample.at - load_end), default=None)
    out.tables.append(
        "Pipeline\n\n"
        + table(
            [
                "accepted → ready p50 / p95 / p99 / max s",
                "not ready at the end of the load",
                "all ready after the load, s",
                "max outbox lag s (at s)",
                "max outbox backlog rows",
                "load average 1 min, max",
            ],
            [
                [
                    s(to_ready, 50, 95, 99, 100),
                    at_stop.not_ready if at_stop else "–",
                    seconds_or(probe.get("settled")),
                    f"{worst.lag:.1f} ({worst.at - customers.start:.0f})" if worst else "–",
                    max((sample.pending for sample in during), default=0),
                    f"{max((sample.load for sample in during), default=0):.1f}",
                ]
            ],
        )
    )

    # the poison
    letters = probe.get("dead_letters", [])
    found = Counter(letter["message_id"] for letter in letters)
    rows = []
    for exchange in (ORDERS_EXCHANGE, NOTIFICATIONS_EXCHANGE):
        sent = [poison for poison in chaos.poisons if poison.exchange == exchange]
        in_queue = [poison for poison in sent if found[poison.message_id]]
        logged = {line.details.get("message_id") for line in stack.log.find("subscriber", "notification_malformed")}
        dropped = [poison for poison in sent if poison.message_id in logged]
        kinds = Counter(poison.kind for poison in sent)
        rows.append(
            [
                f"`{exchange}`",
                len(sent),
                ", ".join(f"{kind} {n}" for kind, n in kinds.items()),
                len(in_queue),
                sum(found[poison.message_id] - 1 for poison in in_queue),
                len(dropped),
            ]
        )
        # Every poison message is dead-lettered: those of the orders exchange by the kitchen worker and
        # the customer notifier (a copy each), the fanout's by the customer notifier; the subscriber
        # logs and rejects the fanout's too, and the display bridge drops them.
        missing = [poison.message_id for poison in sent if not found[poison.message_id]]
        out.check(
            f"every poison message of {exchange} in {DEAD_LETTER_QUEUE}",
            sent and not missing,
            ", ".join(missing[:5]),
        )
        if exchange == NOTIFICATIONS_EXCHANGE:
            unlogged = [poison.message_id for poison in sent if poison.message_id not in logged]
            out.check(
                f"every poison message of {exchange} rejected and logged by the subscriber",
                sent and not unlogged,
                ", ".join(unlogged[:5]),
            )
    poison_ids = {poison.message_id for poison in chaos.poisons}
    others = Counter(letter["reason"][:80] for letter in letters if letter["message_id"] not in poison_ids)
    out.check(
        f"nothing but the poison in {DEAD_LETTER_QUEUE}",
        not others,
        "; ".join(f"{reason}: {n}" for reason, n in others.most_common(3)),
    )
    reasons = Counter(
        (next(p.kind for p in chaos.poisons if p.message_id == letter["message_id"]), letter["reason"][:60])
        for letter in letters
        if letter["message_id"] in poison_ids
    )
    out.tables.append(
        "Poison messages (one to each exchange every "
        f"{args.poison_every:g} s)\n\n"
        + table(
            [
                "exchange",
                "published",
                "kinds",
                f"in {DEAD_LETTER_QUEUE}",
                "copies beyond one",
                "rejected, logged by the subscriber",
            ],
            rows,
        )
        + "\n\n"
        + table(
            ["kind", "dead-letter reason", "messages"],
            [[kind, f"`{reason}`", n] for (kind, reason), n in sorted(reasons.items())],
        )
    )

    # the kills
    rows = []
    for kill in chaos.kills:
        new = f" (pid {kill.new_pid})" if kill.new_pid else ""
        rows.append(
            [
                kill.process,
                f"{kill.at - customers.start:.0f}",
                f"`{kill.how}`",
                seconds_or(kill.restarted, kill.error) + new,
                seconds_or(kill.serving, kill.error),
                kill.serving_by,
            ]
        )
        out.check(f"{kill.process} back and serving after `{kill.how}`", kill.serving is not None, kill.error)
    for failure in chaos.failures:
        out.check("the schedule ran", False, failure)
    made = {kill.process for kill in chaos.kills}
    out.check("every kill of the schedule made", made == {KILLED_WORKER, "relay", "bridge", "display"}, str(made))
    out.tables.append(
        "Kills\n\n"
        + table(
            [
                "process",
                "at s",
                "how",
                "started again (bridge: reconnected) after s",
                "serving again after s",
                "serving: what says so",
            ],
            rows,
        )
    )

    # the board
    snapshots, closed = board.find("snapshot"), board.find("closed")
    deepest = max(sampler.bridge_backlog, key=lambda sample: sample[1], default=None)
    bridge = Counter(str(event.detail) for event in board.find("bridge"))
    out.check("the board's probe order shown ready", probe.get("on_board") == "ready", str(probe.get("on_board")))
    # A board's snapshot holds the newest BOARD_ORDERS open orders (kitchen/screens.py; a wall screen
    # shows a few dozen), and it hears every order that moves after it (board_not_ready).
    ours = [n for n, post in accepted.items() if post.order_type in BOARD_TYPES]
    shown_wrong = board_not_ready(ours, board)
    newest = set(sorted(ours, key=_number_order)[-BOARD_ORDERS:])
    on_board = len(newest | {n for n in ours if board.status_of(n) is not None})
    out.check(
        f"the board shows the newest {BOARD_ORDERS} accepted takeout and dine-in orders, and every one it knows, ready",
        not shown_wrong,
        f"{len(shown_wrong)} of {on_board} not, e.g. "
        + ", ".join(f"{n}: {board.status_of(n)}" for n in shown_wrong[:3])
        if shown_wrong
        else "",
    )
    out.tables.append(
        "Customer board socket\n\n"
        + table(
            [
                "snapshots",
                "order updates",
                "closed by the server",
                "bridge down / up heard",
                "bridge queue, most messages seen (at s)",
                "board caught up after the load, s",
            ],
            [
                [
                    len(snapshots),
                    board.updates,
                    len(closed),
                    f"{bridge['False']} / {bridge['True']}",
                    f"{deepest[1]} ({deepest[0] - customers.start:.0f})" if deepest else "–",
                    seconds_or(probe.get("board_caught_up")),
                ]
            ],
        )
    )

    # the processes
    alive = probe.get("alive", {})
    exits = Counter(line.details.get("process") for line in stack.log.find("supervise", "process_exited"))
    killed = Counter(kill.process for kill in chaos.kills if kill.how.startswith("kill"))
    unexpected = {process: n for process, n in (exits | killed).items() if exits[process] != killed[process]}
    cpu = sampler.cpu_by_process()
    out.check("every process of the Procfile alive at the end", all(alive.values()), str(alive))
    out.check("no process exited but those killed (once each)", not unexpected, str(unexpected))
    out.check("the probe order, placed after everything, ready", probe.get("ready"), probe.get("error", ""))
    out.tables.append(
        "Processes (under restaurant/supervise.py)\n\n"
        + table(
            ["process", "pid at the end", "exits", "CPU s (all its pids)"],
            [
                [name, alive.get(name) or "**dead**", exits.get(name, 0), f"{cpu.get(name, 0):.0f}"]
                for name in PROCESSES
            ],
        )
    )
    errors = stack.log.errors()
    if errors:
        rows = [[process, f"`{action}`", n] for (process, action), n in sorted(errors.items())]
        out.tables.append("ERROR lines in the logs\n\n" + table(["process", "action", "lines"], rows))
    return out


def settle(args, stack: Stack, customers: Customers, chaos: Chaos, board: Board, name: str) -> dict:
    """After the load (each wait from its end, up to --settle): every order ready and the outbox
    empty; the dead letters and the subscriber's rejections in; then the probe order, ready and on
    the board, and the board showing the orders of its types it can hold ready (the bridge caught up)."""
    probe: dict = {}
    began = time.monotonic()

    def left() -> float:
        return max(30.0, began + args.settle - time.monotonic())

    with connect(name) as db:

        def drained():
            (behind,) = db.execute(
                "SELECT (SELECT count(*) FROM orders WHERE status NOT IN ('ready', 'completed'))"
                " + (SELECT count(*) FROM outbox WHERE published_at IS NULL)"
            ).fetchone()
            return behind == 0

        if wait_until(drained, left()):
            probe["settled"] = time.monotonic() - began
        orders_poison = sum(1 for poison in chaos.poisons if poison.exchange == ORDERS_EXCHANGE)
        fanout_poison = len(chaos.poisons) - orders_poison
        url = amqp_url(name)
        wait_until(lambda: len(dead_letters(url)) >= orders_poison, 30, 1.0)
        wait_until(lambda: len(stack.log.find("subscriber", "notification_malformed")) >= fanout_poison, 30)

        body = {"customer_name": "Soak Probe", "order_type": "takeout", "items": customers.bodies[0]["items"]}
        try:
            answer = requests.post(f"{stack.url}/orders", json=body, timeout=10)
            answer.raise_for_status()
            number = probe["number"] = answer.json()["order_number"]

            def ready() -> bool:
                return db.execute("SELECT status FROM orders WHERE number = %s", [number]).fetchone()[0] == "ready"

            probe["ready"] = bool(wait_until(ready, 30, 0.2))
        except (requests.RequestException, ValueError, KeyError) as exc:
            probe["error"] = f"{type(exc).__name__}: {exc}"
    ours = [post.number for post in customers.posts if post.status == 201 and post.order_type in BOARD_TYPES]
    ours += [probe["number"]] if "number" in probe else []
    if wait_until(lambda: not board_not_ready(ours, board), left(), 1.0):
        probe["board_caught_up"] = time.monotonic() - began
    probe["on_board"] = board.status_of(probe["number"]) if "number" in probe else None
    probe["dead_letters"] = dead_letters(amqp_url(name))
    probe["alive"] = stack.alive()
    return probe


# --- main -----------------------------------------------------------------------------------------


def run(args, name: str, log_dir: Path, cleanup: list, drops: list) -> bool:
    print(f"machine: {machine()}; load average {os.getloadavg()[0]:.2f}")
    print(f"code: {current_side().label}; database and vhost: {name}; logs: {log_dir}", flush=True)
    drops.append(lambda: drop_database(name))
    create_database(name)
    drops.append(lambda: rabbitmqctl("delete_vhost", name, check=False))
    create_vhost(name)
    env = soak_env(name)
    manage(env, "migrate", "--no-input")
    manage(env, "load_menu", "menu/demo_menu.json")

    log = StackLog(log_dir / "stack.log")
    stack = Stack(env, log, args.base_port or base_port(), args.stop_timeout)
    cleanup.append(stack.stop)
    stack.wait_until_up()
    board = Board(stack.display_url)
    threading.Thread(target=board.run, daemon=True).start()
    cleanup.append(board.stop.set)
    if not wait_until(lambda: board.find("snapshot"), 30, 0.1):
        raise RuntimeError(f"the board socket got no snapshot: {board.events[-3:]}")
    sampler = Sampler(name, log, bridge_every=min(30.0, args.minutes * 60 / 6))
    sampler.start()
    cleanup.append(sampler.stop.set)

    bodies = [body for body, _ in menu_orders(current_side())]
    customers = Customers(stack.url, bodies, args.rate, args.minutes * 60, args.clients)
    cleanup.append(customers.stop.set)
    chaos = Chaos(args, log, board, sampler, name)
    cleanup.append(chaos.stop.set)
    print(
        f"stack up: web {stack.url}, display {stack.display_url}; {customers.total} orders at {args.rate:g}/s "
        f"from {args.clients} clients, poison every {args.poison_every:g} s",
        flush=True,
    )
    chaos.prepare()
    start = customers.begin()
    chaos.begin(start)
    while any(thread.is_alive() for thread in customers.threads):
        time.sleep(min(30.0, args.minutes * 60 / 10))
        figures = f"{len(customers.posts)} posted, {len(chaos.poisons)} poison, {len(chaos.kills)} kills"
        print(f"  {time.monotonic() - start:5.0f} s: {figures}", flush=True)
    customers.join()
    chaos.join(args.recover_within + 10)
    print("load over: waiting for the kitchen, the relay and the probe order", flush=True)
    probe = settle(args, stack, customers, chaos, board, name)
    sampler.read_cpu()
    out = evaluate(args, stack, customers, chaos, board, sampler, probe, name)

    print(f"\n# Soak: {args.minutes:g} min at {args.rate:g} orders/s, {name}\n")
    for text in out.tables:
        print(f"{text}\n")
    for note in out.notes:
        print(f"note: {note}")
    print("\nChecks\n")
    print(table(["check", "", "detail"], [[c.name, "ok" if c.passed else "**FAILED**", c.detail] for c in out.checks]))
    passed = all(check.passed for check in out.checks)
    print("\nevery check passed" if passed else "\nSOME CHECKS FAILED", flush=True)
    return passed


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add = parser.add_argument
    add("--minutes", type=float, default=10.0, help="minutes of load (default 10)")
    add("--rate", type=float, default=50.0, help="orders per second (default 50)")
    add("--clients", type=int, default=16, help="concurrent HTTP clients (default 16)")
    add("--poison-every", type=float, default=10.0, help="s between poison messages to each exchange (default 10)")
    add(
        "--settle",
        type=float,
        default=300.0,
        help="s to wait after the load for every order to be ready, on the board too",
    )
    add("--recover-within", type=float, default=60.0, help="s a killed process has to serve again")
    add("--stop-timeout", type=float, default=20.0, help="the supervisor's --stop-timeout at the end")
    add("--base-port", type=int, help="the web port (the display: + 500); default a free one")
    add("--keep", action="store_true", help="keep the database, the vhost and the logs")
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so that the cleanup runs
    name = f"restaurant_soak_{os.getpid()}"
    log_dir = Path(tempfile.mkdtemp(prefix="restaurant-soak-"))
    cleanup: list = []  # what stops the stack and the threads, last started first
    drops: list = []  # the database and the vhost (not with --keep)
    passed = False
    try:
        drop_stale()
        passed = run(args, name, log_dir, cleanup, drops)
    except KeyboardInterrupt:
        print("\ninterrupted: stopping and cleaning up", file=sys.stderr)
        return 130
    finally:
        for step in [*reversed(cleanup), *([] if args.keep else drops)]:
            try:
                step()
            except Exception as exc:  # the rest of the cleanup still runs
                print(f"cleanup: {type(exc).__name__}: {exc}", file=sys.stderr)
        if passed and not args.keep:
            for path in log_dir.iterdir():
                path.unlink()
            log_dir.rmdir()
        else:
            print(f"logs kept in {log_dir}", file=sys.stderr)
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
