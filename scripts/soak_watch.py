"""What runs beside the stack during scripts/soak.py: the supervisor's output (kept in a file and
watched for the lines the soak waits on), the customers (POST /orders at a steady rate), a customer
board's WebSocket, and a sampler of the outbox and of each process's CPU.

Every record carries a `time.monotonic()` stamp, so the soak can say what happened after what.
"""

import asyncio
import json
import os
import re
import subprocess
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import psycopg
import requests
from bench_stack import connect, cpu_seconds, rabbitmqctl
from websockets.asyncio.client import connect as ws_connect

BRIDGE_QUEUE = "notifications_queue.anonymous-"  # notifications/subscriber.py: queue_for(None)
ACTION = re.compile(r'"action":"([A-Za-z0-9_]+)"')
LEVEL = re.compile(r'"level":"([A-Z]+)"')
# The actions whose lines the soak reads whole (the others are only counted, by level).
WATCHED = {
    "process_started",
    "process_exited",
    "broker_connected",
    "broker_connection_lost",
    "worker_registered",
    "order_published",
    "notification_malformed",
    "order_dead_lettered",
    "display_delivery_failed",
    "display_bridge_down",
    "display_bridge_up",
    "display_bridge_restarted",
}


@dataclass
class Line:
    at: float  # monotonic
    process: str  # the Procfile name, or "supervise"
    action: str
    details: dict[str, Any]


class StackLog:
    """The supervisor's stdout: every line written to `path`; the watched actions kept as `Line`s,
    the latest pid of each process, and a count of every (process, level, action)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lines: list[Line] = []
        self.levels: Counter[tuple[str, str, str]] = Counter()
        self.pids: dict[str, int] = {}  # each process's latest pid (process_started)
        self.every_pid: set[int] = set()
        self.published_after: dict[str, float] = {}  # throttles order_published: one kept a second
        self.lock = threading.RLock()  # `wait`'s condition reads through `find`, under the lock
        self.changed = threading.Condition(self.lock)

    def follow(self, stream: IO[str]) -> None:
        with open(self.path, "w") as out:
            for raw in stream:
                out.write(raw)
                self.take(raw)

    def take(self, raw: str) -> None:
        name, bar, text = raw.partition(" | ")
        if not bar:
            return
        name = name.strip()
        action = ACTION.search(text)
        level = LEVEL.search(text)
        if action is None:
            return
        action = action[1]
        with self.lock:
            self.levels[name, level[1] if level else "?", action] += 1
        if action not in WATCHED:
            return
        now = time.monotonic()
        if action == "order_published":  # hundreds a second: one a second is enough to see the relay work
            if now < self.published_after.get(name, 0.0):
                return
            self.published_after[name] = now + 1.0
        try:
            details = json.loads(text).get("details") or {}
        except ValueError:
            details = {}
        with self.changed:
            self.lines.append(Line(now, name, action, details))
            if action == "process_started" and name == "supervise":
                self.pids[details["process"]] = details["pid"]
                self.every_pid.add(details["pid"])
            self.changed.notify_all()

    def find(self, process: str | None = None, action: str | None = None, after: float = 0.0) -> list[Line]:
        with self.lock:
            return [
                line
                for line in self.lines
                if line.at > after
                and (process is None or line.process == process)
                and (action is None or line.action == action)
            ]

    def supervised(self, action: str, process: str, after: float = 0.0) -> list[Line]:
        """The supervisor's own `action` lines about `process`."""
        return [line for line in self.find("supervise", action, after) if line.details.get("process") == process]

    def wait(self, condition, timeout: float):
        """`condition()` once it is truthy (checked at every watched line, and every second), or None
        after `timeout` s."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while not (result := condition()):
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.changed.wait(min(left, 1.0))
            return result

    def errors(self) -> Counter[tuple[str, str]]:
        """(process, action): how many ERROR or CRITICAL lines."""
        with self.lock:
            return Counter(
                {
                    (name, action): n
                    for (name, level, action), n in self.levels.items()
                    if level in {"ERROR", "CRITICAL"}
                }
            )


# --- the customers --------------------------------------------------------------------------------


@dataclass
class Post:
    index: int
    sent: float  # monotonic
    seconds: float  # the answer's latency (to the error, for one without an answer)
    status: int | None  # None: no answer (a connection error or a timeout)
    number: str | None = None  # the order number of a 201
    order_type: str = ""
    error: str = ""


class Customers:
    """POST /orders at `rate` per second for `seconds` s, from `clients` threads with keep-alive
    sessions: order i (body i mod len(bodies)) is sent at start + i / rate, at once if late, and not
    at all after the `seconds`."""

    def __init__(self, url: str, bodies: list[dict], rate: float, seconds: float, clients: int) -> None:
        self.url, self.bodies, self.rate, self.clients = url, bodies, rate, clients
        self.total, self.seconds = int(rate * seconds), seconds
        self.deadline = float("inf")
        self.posts: list[Post] = []
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.next_index = 0
        self.start = 0.0
        self.threads: list[threading.Thread] = []

    def begin(self) -> float:
        self.start = time.monotonic()
        self.deadline = self.start + self.seconds + 1.0
        self.threads = [threading.Thread(target=self.client, daemon=True) for _ in range(self.clients)]
        for thread in self.threads:
            thread.start()
        return self.start

    def join(self) -> None:
        for thread in self.threads:
            thread.join()

    def take(self) -> int | None:
        """The next order's index; None once all are placed, or the time is up (an order that
        cannot be sent by then is not placed: a web server that cannot keep up shows as fewer orders)."""
        with self.lock:
            if self.next_index >= self.total or self.stop.is_set() or time.monotonic() > self.deadline:
                return None
            self.next_index += 1
            return self.next_index - 1

    def client(self) -> None:
        with requests.Session() as session:
            while (i := self.take()) is not None:
                if self.stop.wait(max(0.0, self.start + i / self.rate - time.monotonic())):
                    return
                body = self.bodies[i % len(self.bodies)]
                sent = time.monotonic()
                post = Post(i, sent, 0.0, None, order_type=body["order_type"])
                try:
                    answer = session.post(f"{self.url}/orders", json=body, timeout=10)
                    post.status = answer.status_code
                    if answer.status_code == 201:
                        post.number = answer.json()["order_number"]
                    else:
                        post.error = answer.text[:200]
                except (requests.RequestException, ValueError) as exc:
                    post.error = f"{type(exc).__name__}: {exc}"[:200]
                post.seconds = time.monotonic() - sent
                with self.lock:
                    self.posts.append(post)


# --- a customer board -------------------------------------------------------------------------------


@dataclass
class BoardEvent:
    at: float  # monotonic
    kind: str  # connected, snapshot, order, bridge, closed, refused
    detail: Any = None


@dataclass
class Board:
    """A customer board's socket (`/ws/board/`, public) on the display: reconnects whenever it is
    closed (every 0.25 s while refused) and keeps what the board shows, as the page does: the
    snapshot's orders, then each update whose version is above the order's."""

    display_url: str
    events: list[BoardEvent] = field(default_factory=list)
    shows: dict[str, tuple[str, int]] = field(default_factory=dict)  # number: (status, version)
    updates: int = 0
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def run(self) -> None:
        asyncio.run(self.main())

    def note(self, kind: str, detail: Any = None) -> None:
        with self.lock:
            self.events.append(BoardEvent(time.monotonic(), kind, detail))

    def find(self, kind: str, after: float = 0.0) -> list[BoardEvent]:
        with self.lock:
            return [event for event in self.events if event.kind == kind and event.at > after]

    async def main(self) -> None:
        url = self.display_url.replace("http://", "ws://") + "/ws/board/"
        while not self.stop.is_set():
            try:
                ws = await ws_connect(url, origin=self.display_url, proxy=None, max_size=None, open_timeout=10)
            except Exception as exc:  # refused while the display restarts, or its handshake failed
                if not self.find("refused", time.monotonic() - 5):
                    self.note("refused", f"{type(exc).__name__}: {exc}"[:200])
                await asyncio.sleep(0.25)
                continue
            self.note("connected")
            try:
                await self.read(ws)
            except Exception as exc:  # closed by the server (a kill): connect again
                self.note("closed", f"{type(exc).__name__}: {exc}"[:200])
            finally:
                await ws.close()

    async def read(self, ws) -> None:
        while not self.stop.is_set():
            try:
                frame = await asyncio.wait_for(ws.recv(), timeout=1.0)
            except TimeoutError:
                continue
            message = json.loads(frame)
            kind = message.get("type")
            if kind == "snapshot":
                with self.lock:
                    self.shows = {
                        order["order_number"]: (order["status"], order["version"]) for order in message["orders"]
                    }
                self.note("snapshot", len(message["orders"]))
            elif kind == "order":
                order = message["order"]
                with self.lock:
                    self.updates += 1
                    shown = self.shows.get(order["order_number"])
                    if shown is None or message["version"] > shown[1]:
                        self.shows[order["order_number"]] = (order["status"], message["version"])
                self.note("order", (order["order_number"], order["status"]))
            elif kind == "bridge":
                self.note("bridge", message.get("up"))

    def status_of(self, number: str) -> str | None:
        with self.lock:
            shown = self.shows.get(number)
        return shown[0] if shown else None


# --- the sampler ------------------------------------------------------------------------------------


@dataclass
class Sample:
    at: float  # monotonic
    pending: int  # outbox rows not yet published
    lag: float  # s: the oldest of them
    not_ready: int  # orders received or cooking
    load: float  # 1-minute load average


class Sampler:
    """Every second: the outbox's backlog and lag, and the orders not yet ready; every 5 s the CPU
    seconds of every process group the supervisor started (a server's workers included); every
    `bridge_every` s the messages waiting in the display bridge's queue (rabbitmqctl: seconds of
    CPU each, so not often)."""

    def __init__(self, dbname: str, log: StackLog, bridge_every: float = 30.0) -> None:
        self.dbname, self.log, self.bridge_every = dbname, log, bridge_every
        self.samples: list[Sample] = []
        self.cpu: dict[int, float] = {}  # pid: its group's CPU seconds, last read
        self.bridge_backlog: list[tuple[float, int]] = []  # (monotonic, messages ready + unacked)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.bridge_thread = threading.Thread(target=self.follow_bridge, daemon=True)

    def start(self) -> None:
        self.thread.start()
        self.bridge_thread.start()

    def follow_bridge(self) -> None:
        while not self.stop.wait(self.bridge_every):
            if (depth := bridge_backlog(self.dbname)) is not None:
                self.bridge_backlog.append((time.monotonic(), depth))

    def run(self) -> None:
        with connect(self.dbname) as db:
            while not self.stop.wait(1.0):
                try:
                    pending, lag = db.execute(
                        "SELECT count(*), coalesce(extract(epoch FROM now() - min(created_at)), 0) "
                        "FROM outbox WHERE published_at IS NULL"
                    ).fetchone()
                    (not_ready,) = db.execute(
                        "SELECT count(*) FROM orders WHERE status IN ('received', 'cooking')"
                    ).fetchone()
                except psycopg.Error:
                    continue
                self.samples.append(Sample(time.monotonic(), pending, float(lag), not_ready, os.getloadavg()[0]))
                if len(self.samples) % 5 == 0:
                    self.read_cpu()

    def read_cpu(self) -> None:
        """The CPU seconds of every process group still there (a killed one keeps its last reading)."""
        for pid in list(self.log.every_pid):
            if os.path.exists(f"/proc/{pid}"):
                self.cpu[pid] = cpu_seconds(pid)

    def cpu_by_process(self) -> dict[str, float]:
        """CPU seconds of each Procfile process, its restarts' added up."""
        name_of = {
            line.details["pid"]: line.details["process"] for line in self.log.find("supervise", "process_started")
        }
        totals: Counter[str] = Counter()
        for pid, seconds in self.cpu.items():
            totals[name_of.get(pid, "?")] += seconds
        return dict(totals)


def bridge_backlog(vhost: str) -> int | None:
    """Messages ready and unacknowledged in the display bridges' queues of `vhost` (an anonymous
    subscriber's queue, exclusive to its connection: only rabbitmqctl sees it); None if it fails."""
    try:
        listed = rabbitmqctl(
            "list_queues", "-p", vhost, "name", "messages_ready", "messages_unacknowledged", "--silent"
        )
    except (RuntimeError, subprocess.TimeoutExpired):
        return None
    rows = [line.split("\t") for line in listed.splitlines()]
    return sum(int(ready) + int(unacked) for name, ready, unacked in rows if name.startswith(BRIDGE_QUEUE))
