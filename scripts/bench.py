"""Throughput and latency of POST /orders, and how long an order waits in the outbox.

Prints figures (docs/benchmarks.md explains them); it is not a test. Everything runs against a
database and a RabbitMQ vhost of its own (`restaurant_bench`, both made afresh here and removed at
the end), so neither the dev database nor a test run is touched. It starts the web server and one
`manage.py run_outbox_relay`, loads `POST /orders` with wrk (scripts/bench_orders.lua) at each
concurrency, waits after each load phase until the relay has published every order, and reads the
outbox wait (published_at - created_at) of that phase's rows from the database.

Then the pipeline phase: for each number of kitchen workers (--workers-list), again a fresh database
and vhost, the same web server and relay plus that many `manage.py run_kitchen_worker` with
COOKING_TIME_SCALE=0; one load phase at --pipeline-concurrency, a wait until every order is `ready`,
and from the status log: orders ready per second (first `received` to last `ready`) and the time
from `received` (the 201) to `cooking`.

Then the kitchen display phase: again a fresh database and vhost, the same web server and relay plus
one display daphne (DATABASE_POOL_SIZE=4, as the Procfile); a superuser logged in on /ws/kitchen/
while orders are POSTed at a steady --ticket-rate (50/s) for --duration: p50/p95/max of the time
from each order's 201 to the first {"type": "order"} message naming it on the WebSocket.

    .venv/bin/python scripts/bench.py                          # the recommended setup, 15 s per phase
    .venv/bin/python scripts/bench.py --duration 3             # a quick run
    .venv/bin/python scripts/bench.py --duration 3 --pipeline-only --workers-list 1,2,4 --prefetch-list 1,10
    .venv/bin/python scripts/bench.py --server daphne --conn-max-age 0
    .venv/bin/python scripts/bench.py --matrix                 # every setup of docs/benchmarks.md
    .venv/bin/python scripts/bench.py --ticket-only --duration 5  # the kitchen display phase alone
"""

import argparse
import asyncio
import importlib.util
import json
import os
import platform
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import django
import psycopg
import requests
from psycopg import sql
from websockets.asyncio.client import connect

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
LUA = REPO / "scripts" / "bench_orders.lua"
NAME = "restaurant_bench"  # the database and the vhost
SERVERS = ("daphne", "gunicorn-sync", "gunicorn-uvicorn")
# (server, workers, CONN_MAX_AGE, psycopg pool size or 0): what --matrix runs, as in docs/benchmarks.md.
MATRIX = [
    ("daphne", 1, 0, 4),
    ("gunicorn-sync", 2, 60, 0),
    ("gunicorn-sync", 3, 60, 0),
    ("gunicorn-sync", 4, 60, 0),
    ("gunicorn-uvicorn", 3, 0, 4),
]
SAMPLE_ORDER = {
    "customer_name": "Jane Doe",
    "order_type": "takeout",
    "items": [{"name": "Margherita Pizza", "quantity": 1, "price": 15.99}],
}


# --- the services: database, vhost, processes ------------------------------------------------


def admin_connection() -> psycopg.Connection:
    return psycopg.connect(dbname="postgres", autocommit=True)


def recreate_database() -> None:
    with admin_connection() as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(NAME)))
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(NAME)))


def drop_database() -> None:
    with admin_connection() as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(NAME)))


def rabbitmqctl(*args: str, check: bool = True) -> str:
    result = subprocess.run(["rabbitmqctl", *args], capture_output=True, text=True, timeout=120)
    if check and result.returncode != 0:
        raise RuntimeError(f"rabbitmqctl {' '.join(args)} failed: {result.stderr or result.stdout}")
    return result.stdout


def recreate_vhost() -> None:
    rabbitmqctl("delete_vhost", NAME, check=False)
    rabbitmqctl("add_vhost", NAME)
    rabbitmqctl("set_permissions", "-p", NAME, "guest", ".*", ".*", ".*")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def service_env(*, log_level: str, conn_max_age: int, pool: int) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("TEST_DATABASE_NAME", None)
    env.update(
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        DJANGO_SETTINGS_MODULE="restaurant.settings",
        DEBUG="False",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="localhost,127.0.0.1",
        ORDERS_RATE_LIMIT="off",
        TRACKING_RATE_LIMIT="off",
        LOG_LEVEL=log_level,
        CONN_MAX_AGE=str(conn_max_age),
        DATABASE_POOL_SIZE=str(pool),
        DATABASE_URL=f"postgres:///{NAME}",
        RABBITMQ_URL=f"amqp://guest:guest@127.0.0.1:5672/{NAME}",
    )
    return env


def server_command(server: str, workers: int, port: int) -> list[str]:
    if server == "daphne":
        return [str(BIN / "daphne"), "-b", "127.0.0.1", "-p", str(port), "restaurant.asgi:application"]
    # The Procfile's gunicorn.conf.py (JSON logs), with the bench's workers and port.
    gunicorn = [str(BIN / "gunicorn"), "--config", "gunicorn.conf.py", "-w", str(workers), "-b", f"127.0.0.1:{port}"]
    if server == "gunicorn-sync":
        return [*gunicorn, "restaurant.wsgi:application"]
    if server == "gunicorn-uvicorn":
        return [*gunicorn, "-k", "uvicorn_worker.UvicornWorker", "restaurant.asgi:application"]
    raise ValueError(server)


class Process:
    """A command in its own process group, its output in a file of `log_dir`."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self.log = open(self.log_path, "w")  # noqa: SIM115 (closed in stop)
        self.proc = subprocess.Popen(
            args, cwd=REPO, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def check_alive(self) -> None:
        if self.proc.poll() is not None:
            raise RuntimeError(f"{self.name} exited with {self.proc.returncode}, see {self.log_path}")

    def stop(self) -> None:
        """SIGTERM, then SIGKILL to the whole group (workers of a server included)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=10)
        self.log.close()


def wait_until_ready(url: str, web: Process, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        web.check_alive()
        try:
            if requests.get(f"{url}/health/ready", timeout=5).status_code == 200:
                return
        except requests.RequestException:  # not listening yet, or no worker booted yet
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{web.name} did not answer on {url} within {timeout:.0f}s, see {web.log_path}")
        time.sleep(0.2)


# --- load and measurements -------------------------------------------------------------------


def run_wrk(url: str, concurrency: int, duration: int) -> dict:
    """wrk's figures (scripts/bench_orders.lua prints them as JSON); an answer slower than 2 s is a timeout."""
    threads = min(2, concurrency)
    args = ["wrk", f"-t{threads}", f"-c{concurrency}", f"-d{duration}s", "--timeout", "2s", "-s", str(LUA)]
    args.append(f"{url}/orders")
    result = subprocess.run(args, capture_output=True, text=True, timeout=duration + 60)
    for line in result.stdout.splitlines():
        if line.startswith("WRK_JSON "):
            return json.loads(line.removeprefix("WRK_JSON "))
    raise RuntimeError(f"wrk gave no figures (exit {result.returncode}):\n{result.stdout}\n{result.stderr}")


def last_outbox_id(db: psycopg.Connection) -> int:
    return db.execute("SELECT coalesce(max(id), 0) FROM outbox").fetchone()[0]


def pending(db: psycopg.Connection) -> int:
    return db.execute("SELECT count(*) FROM outbox WHERE published_at IS NULL").fetchone()[0]


def wait_for_drain(db: psycopg.Connection, relay: Process, timeout: float = 900.0) -> float:
    """Seconds until every outbox row is published."""
    started = time.monotonic()
    while pending(db):
        relay.check_alive()
        if time.monotonic() - started > timeout:
            raise RuntimeError(f"outbox not drained after {timeout:.0f}s, see {relay.log_path}")
        time.sleep(0.05)
    return time.monotonic() - started


def outbox_wait(db: psycopg.Connection, after_id: int) -> dict:
    """Count and p50/p95/max of published_at - created_at (ms) over the rows after `after_id`."""
    rows, p50, p95, worst = db.execute(
        """
        SELECT count(*),
               percentile_cont(0.5) WITHIN GROUP (ORDER BY wait),
               percentile_cont(0.95) WITHIN GROUP (ORDER BY wait),
               max(wait)
        FROM (SELECT extract(epoch FROM published_at - created_at) * 1000 AS wait FROM outbox WHERE id > %s) AS w
        """,
        [after_id],
    ).fetchone()
    return {
        "rows": rows,
        "wait_p50_ms": float(p50 or 0),
        "wait_p95_ms": float(p95 or 0),
        "wait_max_ms": float(worst or 0),
    }


def cpu_seconds(pgid: int) -> float:
    """CPU time of every process in the group `pgid` (a server and its workers), reaped children included."""
    ticks = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            fields = Path(entry.path, "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        if int(fields[2]) == pgid:  # pgrp; then utime, stime, cutime, cstime
            ticks += sum(int(value) for value in fields[11:15])
    return ticks / os.sysconf("SC_CLK_TCK")


def machine_ticks() -> tuple[int, int]:
    """(busy, total) CPU ticks of the whole machine since boot."""
    values = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle, iowait
    return sum(values) - idle, sum(values)


def db_connections(db: psycopg.Connection) -> int:
    return db.execute("SELECT count(*) - 1 FROM pg_stat_activity WHERE datname = %s", [NAME]).fetchone()[0]


def phase(url: str, db: psycopg.Connection, relay: Process, web: Process, concurrency: int, duration: int) -> dict:
    """One load phase, then the outbox drain; the figures of both."""
    after_id = last_outbox_id(db)
    web_cpu, relay_cpu = cpu_seconds(web.proc.pid), cpu_seconds(relay.proc.pid)
    busy, total = machine_ticks()
    figures = run_wrk(url, concurrency, duration)
    busy_now, total_now = machine_ticks()
    web_cpu = cpu_seconds(web.proc.pid) - web_cpu
    web.check_alive()
    backlog = pending(db)
    drain = wait_for_drain(db, relay)
    relay_cpu = cpu_seconds(relay.proc.pid) - relay_cpu
    ok = figures["requests"] - figures["non_2xx"]
    outbox = outbox_wait(db, after_id)
    return {
        "concurrency": concurrency,
        "orders_per_s": ok / (figures["duration_us"] / 1e6),
        "p50_ms": figures["p50_us"] / 1000,
        "p95_ms": figures["p95_us"] / 1000,
        "p99_ms": figures["p99_us"] / 1000,
        "non_2xx": figures["non_2xx"],
        "socket_errors": sum(figures[key] for key in ("connect", "read", "write", "timeout")),
        "web_cpu_ms": 1000 * web_cpu / max(ok, 1),
        "relay_cpu_ms": 1000 * relay_cpu / max(outbox["rows"], 1),
        "machine_busy": (busy_now - busy) / max(total_now - total, 1),
        "db_connections": db_connections(db),
        "backlog": backlog,
        "drain_s": drain,
        **outbox,
    }


def setup_label(server: str, workers: int, conn_max_age: int, pool: int) -> str:
    return f"{server} -w {workers}, " + (f"pool {pool}" if pool else f"CONN_MAX_AGE={conn_max_age}")


def print_heading(label: str) -> None:
    print(f"\n## {label} (load average {' '.join(f'{x:.2f}' for x in os.getloadavg())})", flush=True)


def start_stack(
    server: str, workers: int, env: dict[str, str], args: argparse.Namespace, log_dir: Path, started: list[Process]
) -> tuple[str, Process, Process]:
    """Fresh database and vhost, relay + web up and answering one POST /orders with 201; the web's URL,
    the relay and the web. What it starts is appended to `started`, for stop_stack."""
    recreate_database()
    recreate_vhost()
    manage = [sys.executable, "manage.py", "migrate", "--no-input"]
    subprocess.run(manage, cwd=REPO, env=env, check=True, capture_output=True, timeout=300)
    port = args.port or free_port()
    url = f"http://127.0.0.1:{port}"
    started.append(relay := Process("relay", [sys.executable, "manage.py", "run_outbox_relay"], env, log_dir))
    started.append(web := Process("web", server_command(server, workers, port), env, log_dir))
    print(f"web: {' '.join(server_command(server, workers, port)).replace(str(BIN) + '/', '')}", flush=True)
    wait_until_ready(url, web)
    answer = requests.post(f"{url}/orders", json=SAMPLE_ORDER, timeout=10)
    if answer.status_code != 201:
        raise RuntimeError(f"POST /orders answered {answer.status_code}: {answer.text[:500]}")
    return url, relay, web


def stop_stack(started: list[Process], log_dir: Path, ok: bool, args: argparse.Namespace) -> None:
    """Stops every process, deletes the vhost and drops the database (unless --keep)."""
    for process in reversed(started):
        process.stop()
    if not args.keep:
        rabbitmqctl("delete_vhost", NAME, check=False)
        drop_database()
    if ok and not args.keep:
        shutil.rmtree(log_dir, ignore_errors=True)
    else:
        print(f"logs kept in {log_dir}", file=sys.stderr)


def run_setup(server: str, workers: int, conn_max_age: int, pool: int, args: argparse.Namespace) -> list[dict]:
    """Fresh database and vhost, web + relay up, one load phase per concurrency; always cleans up."""
    label = setup_label(server, workers, conn_max_age, pool)
    print_heading(label)
    log_dir = Path(tempfile.mkdtemp(prefix="restaurant-bench-"))
    env = service_env(log_level=args.log_level, conn_max_age=conn_max_age, pool=pool)
    started: list[Process] = []
    ok = False
    try:
        url, relay, web = start_stack(server, workers, env, args, log_dir, started)
        with psycopg.connect(dbname=NAME, autocommit=True) as db:
            run_wrk(url, min(10, max(args.concurrency)), min(2, args.duration))  # warm-up, not reported
            wait_for_drain(db, relay)
            results = []
            for concurrency in args.concurrency:
                result = {"setup": label, **phase(url, db, relay, web, concurrency, args.duration)}
                print(row(result), flush=True)
                extra = "orders {rows}, outbox wait max {wait_max_ms:.0f} ms, open DB connections {db_connections}"
                print(f"  ({extra.format(**result)})", flush=True)
                results.append(result)
        ok = True
        return results
    finally:
        stop_stack(started, log_dir, ok, args)


# --- the pipeline: POST /orders to `ready`, through the relay and N kitchen workers -----------


def wait_for_log(process: Process, action: str, timeout: float = 60.0) -> None:
    """Until `process` has logged `action` (a JSON log line's "action")."""
    deadline = time.monotonic() + timeout
    while f'"{action}"' not in process.log_path.read_text():
        process.check_alive()
        if time.monotonic() > deadline:
            raise RuntimeError(f"{process.name} did not log {action} within {timeout:.0f}s, see {process.log_path}")
        time.sleep(0.1)


def not_ready(db: psycopg.Connection, after_id: int) -> int:
    return db.execute("SELECT count(*) FROM orders WHERE id > %s AND status <> 'ready'", [after_id]).fetchone()[0]


def wait_for_kitchen(db: psycopg.Connection, started: list[Process], after_id: int, timeout: float) -> float:
    """Seconds until every order after `after_id` is ready, or `timeout` (pipeline_figures counts the rest)."""
    began = time.monotonic()
    while not_ready(db, after_id) and time.monotonic() - began < timeout:
        for process in started:
            process.check_alive()
        time.sleep(0.1)
    return time.monotonic() - began


def pipeline_figures(db: psycopg.Connection, after_id: int) -> dict:
    """From the status log of the orders after `after_id`: how many became ready, over how long (first
    `received` to last `ready`), and p50/p95/max of `cooking` - `received` (ms)."""
    orders, ready, span, p50, p95, worst = db.execute(
        """
        SELECT count(*), count(ready.changed_at),
               extract(epoch FROM max(ready.changed_at) - min(received.changed_at)),
               percentile_cont(0.5) WITHIN GROUP (ORDER BY wait),
               percentile_cont(0.95) WITHIN GROUP (ORDER BY wait),
               max(wait)
        FROM orders
        JOIN order_status_log received ON received.order_id = orders.id AND received.status = 'received'
        LEFT JOIN order_status_log cooking ON cooking.order_id = orders.id AND cooking.status = 'cooking'
        LEFT JOIN order_status_log ready ON ready.order_id = orders.id AND ready.status = 'ready'
        CROSS JOIN LATERAL (SELECT extract(epoch FROM cooking.changed_at - received.changed_at) * 1000 AS wait) AS w
        WHERE orders.id > %s
        """,
        [after_id],
    ).fetchone()
    return {
        "orders": orders,
        "ready": ready,
        "not_ready": orders - ready,
        "span_s": float(span or 0),
        "pipeline_per_s": ready / float(span) if span else 0.0,
        "cooking_p50_ms": float(p50 or 0),
        "cooking_p95_ms": float(p95 or 0),
        "cooking_max_ms": float(worst or 0),
    }


def run_pipeline(kitchen_workers: int, prefetch: int, args: argparse.Namespace) -> dict:
    """Fresh database and vhost; web + relay + `kitchen_workers` workers cooking in no time; one load
    phase, then the wait until every order is ready; always cleans up."""
    web_label = setup_label(args.server, args.workers, args.conn_max_age, args.db_pool)
    label = f"{kitchen_workers} × run_kitchen_worker --prefetch={prefetch}"
    print_heading(f"pipeline: {label}; {web_label}")
    log_dir = Path(tempfile.mkdtemp(prefix="restaurant-bench-"))
    env = service_env(log_level=args.log_level, conn_max_age=args.conn_max_age, pool=args.db_pool)
    env["COOKING_TIME_SCALE"] = "0"
    started: list[Process] = []
    ok = False
    try:
        url, _, _ = start_stack(args.server, args.workers, env, args, log_dir, started)
        for i in range(1, kitchen_workers + 1):
            command = ["run_kitchen_worker", f"--worker-name=bench_chef_{i}", f"--prefetch={prefetch}"]
            started.append(Process(f"bench_chef_{i}", [sys.executable, "manage.py", *command], env, log_dir))
        for worker in started[2:]:
            wait_for_log(worker, "broker_connected")
        concurrency = args.pipeline_concurrency
        timeout = 60 + 10 * args.duration  # for the kitchen to catch up once the load stops
        with psycopg.connect(dbname=NAME, autocommit=True) as db:
            run_wrk(url, concurrency, min(2, args.duration))  # warm-up, not reported
            wait_for_kitchen(db, started, 0, timeout)
            after_id = db.execute("SELECT coalesce(max(id), 0) FROM orders").fetchone()[0]
            kitchen_cpu = sum(cpu_seconds(worker.proc.pid) for worker in started[2:])
            load = run_wrk(url, concurrency, args.duration)
            backlog = not_ready(db, after_id)
            drain = wait_for_kitchen(db, started, after_id, timeout)
            kitchen_cpu = sum(cpu_seconds(worker.proc.pid) for worker in started[2:]) - kitchen_cpu
            ok_answers = load["requests"] - load["non_2xx"]
            result = {
                "kitchen_workers": kitchen_workers,
                "prefetch": prefetch,
                "concurrency": concurrency,
                "intake_per_s": ok_answers / (load["duration_us"] / 1e6),
                "non_2xx": load["non_2xx"],
                "backlog": backlog,
                "drain_s": drain,
                **pipeline_figures(db, after_id),
            }
            result["kitchen_cpu_ms"] = 1000 * kitchen_cpu / max(result["ready"], 1)
        print(pipeline_row(result), flush=True)
        ok = result["not_ready"] == 0
        return result
    finally:
        stop_stack(started, log_dir, ok, args)


# --- the kitchen display: the 201 of POST /orders to the ticket on a connected WebSocket ------


def create_superuser(env: dict[str, str]) -> tuple[str, str]:
    """A superuser with a random password, for the display's login; its username and password."""
    username, password = "bench_display", secrets.token_urlsafe(16)
    command = [sys.executable, "manage.py", "createsuperuser", "--noinput", "--username", username]
    command.append("--email=bench@example.com")
    env = {**env, "DJANGO_SUPERUSER_PASSWORD": password}
    subprocess.run(command, cwd=REPO, env=env, check=True, capture_output=True, timeout=120)
    return username, password


def display_login(url: str, username: str, password: str) -> str:
    """The sessionid of a login through the display's /admin/login/ (GET for the csrftoken, then POST)."""
    with requests.Session() as session:
        session.get(f"{url}/admin/login/", timeout=10).raise_for_status()
        form = {"username": username, "password": password, "csrfmiddlewaretoken": session.cookies["csrftoken"]}
        answer = session.post(f"{url}/admin/login/?next=/admin/", data=form, allow_redirects=False, timeout=10)
        if answer.status_code != 302 or "sessionid" not in session.cookies:
            raise RuntimeError(f"login to {url}/admin/login/ failed: {answer.status_code}")
        return session.cookies["sessionid"]


def post_orders(
    url: str, rate: float, duration: int, posted: dict[str, float], failed: list[int], answer_ms: list[float]
) -> float:
    """POST /orders at `rate` per second for `duration` s, from 8 threads with keep-alive sessions:
    order i is sent at start + i / rate (at once if late). Fills `posted` (order number: monotonic
    time of its 201), `failed` (other status codes) and `answer_ms` (each POST's duration); returns
    the seconds from the start to the last answer."""
    total = int(rate * duration)
    next_index = iter(range(total))
    lock = threading.Lock()
    start = time.monotonic()
    last_answer = [start]

    def poster() -> None:
        with requests.Session() as session:
            while True:
                with lock:
                    i = next(next_index, None)
                if i is None:
                    return
                time.sleep(max(0.0, start + i / rate - time.monotonic()))
                sent = time.monotonic()
                try:
                    answer = session.post(f"{url}/orders", json=SAMPLE_ORDER, timeout=10)
                except requests.RequestException:
                    failed.append(0)
                    continue
                now = time.monotonic()
                answer_ms.append(1000 * (now - sent))
                if answer.status_code == 201:
                    posted[answer.json()["order_number"]] = now
                else:
                    failed.append(answer.status_code)
                last_answer[0] = max(last_answer[0], now)

    threads = [threading.Thread(target=poster) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return last_answer[0] - start


async def watch_display(ws_url: str, headers: dict[str, str], origin: str, url: str, args: argparse.Namespace) -> dict:
    """Connects to the display, takes the snapshot, then posts orders (a thread) while recording when
    the first {"type": "order"} message naming each order arrives; waits up to 10 s after the last
    POST for the tickets still missing."""
    posted: dict[str, float] = {}
    seen: dict[str, float] = {}
    failed: list[int] = []
    answer_ms: list[float] = []
    async with connect(ws_url, additional_headers=headers, origin=origin, proxy=None) as ws:
        snapshot = json.loads(await asyncio.wait_for(ws.recv(), timeout=10))
        if snapshot.get("type") != "snapshot":
            raise RuntimeError(f"expected a snapshot first, got {str(snapshot)[:200]}")
        poster = asyncio.create_task(
            asyncio.to_thread(post_orders, url, args.ticket_rate, args.duration, posted, failed, answer_ms)
        )
        deadline, span = None, 0.0
        while deadline is None or time.monotonic() < deadline:
            if deadline is None and poster.done():
                span = poster.result()
                deadline = time.monotonic() + 10
            if deadline is not None and not set(posted) - set(seen):
                break
            try:
                message = json.loads(await asyncio.wait_for(ws.recv(), timeout=0.2))
            except TimeoutError:
                continue
            if message.get("type") == "order":
                seen.setdefault(message["order"]["order_number"], time.monotonic())
    latencies = sorted(1000 * (seen[number] - at) for number, at in posted.items() if number in seen)
    answer_ms.sort()
    late = sum(1 for number, at in posted.items() if number not in seen or seen[number] - at > 10)
    return {
        "rate": args.ticket_rate,
        "posted_per_s": len(posted) / span if span else 0.0,
        "orders": len(posted),
        "failed": len(failed),
        "post_p50_ms": percentile(answer_ms, 50),
        "post_p95_ms": percentile(answer_ms, 95),
        "ticket_p50_ms": percentile(latencies, 50),
        "ticket_p95_ms": percentile(latencies, 95),
        "ticket_max_ms": latencies[-1] if latencies else 0.0,
        "no_ticket": late,
    }


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile of sorted `values` (0 if empty)."""
    if not values:
        return 0.0
    return values[max(0, min(len(values) - 1, round(p / 100 * len(values)) - 1))]


def run_ticket(args: argparse.Namespace) -> dict:
    """Fresh database and vhost; web + relay + one display daphne (pool 4); a superuser logged in on
    the display's WebSocket while orders are posted at --ticket-rate; always cleans up."""
    web_label = setup_label(args.server, args.workers, args.conn_max_age, args.db_pool)
    print_heading(f"kitchen display: 201 → ticket at {args.ticket_rate:g} orders/s; {web_label}")
    log_dir = Path(tempfile.mkdtemp(prefix="restaurant-bench-"))
    env = service_env(log_level=args.log_level, conn_max_age=args.conn_max_age, pool=args.db_pool)
    started: list[Process] = []
    ok = False
    try:
        url, _, _ = start_stack(args.server, args.workers, env, args, log_dir, started)
        port = free_port()
        display_url = f"http://127.0.0.1:{port}"
        display_env = {**env, "DATABASE_POOL_SIZE": "4"}  # as the Procfile's display line
        started.append(display := Process("display", server_command("daphne", 1, port), display_env, log_dir))
        wait_until_ready(display_url, display)
        sessionid = display_login(display_url, *create_superuser(env))
        headers = {"Cookie": f"sessionid={sessionid}"}
        ws_url = f"ws://127.0.0.1:{port}/ws/kitchen/"
        result = asyncio.run(watch_display(ws_url, headers, display_url, url, args))
        for process in started:
            process.check_alive()
        print(ticket_row(result), flush=True)
        ok = result["no_ticket"] == 0 and result["failed"] == 0
        return result
    finally:
        stop_stack(started, log_dir, ok, args)


# --- output ------------------------------------------------------------------------------------

HEADER = (
    "| setup | c | orders/s | p50 ms | p95 ms | p99 ms | non-2xx | socket errors | CPU ms/order web + relay "
    "| machine busy | outbox wait p50 / p95 ms | backlog at stop | drain s |\n"
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
)


def row(r: dict) -> str:
    cells = [
        r["setup"],
        r["concurrency"],
        f"{r['orders_per_s']:.0f}",
        f"{r['p50_ms']:.1f}",
        f"{r['p95_ms']:.1f}",
        f"{r['p99_ms']:.1f}",
        r["non_2xx"],
        r["socket_errors"],
        f"{r['web_cpu_ms']:.1f} + {r['relay_cpu_ms']:.1f}",
        f"{r['machine_busy']:.0%}",
        f"{r['wait_p50_ms']:.0f} / {r['wait_p95_ms']:.0f}",
        r["backlog"],
        f"{r['drain_s']:.1f}",
    ]
    return "| " + " | ".join(str(cell) for cell in cells) + " |"


PIPELINE_HEADER = (
    "| kitchen workers | prefetch | c | intake orders/s | non-2xx | pipeline orders/s | 201 → cooking p50 / p95 ms "
    "| kitchen CPU ms/order | orders | not ready | not ready at stop | wait for ready s |\n"
    "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
)


def pipeline_row(r: dict) -> str:
    cells = [
        r["kitchen_workers"],
        r["prefetch"],
        r["concurrency"],
        f"{r['intake_per_s']:.0f}",
        r["non_2xx"],
        f"{r['pipeline_per_s']:.1f}",
        f"{r['cooking_p50_ms']:.0f} / {r['cooking_p95_ms']:.0f}",
        f"{r['kitchen_cpu_ms']:.1f}",
        r["orders"],
        r["not_ready"] if r["not_ready"] == 0 else f"**{r['not_ready']}**",
        r["backlog"],
        f"{r['drain_s']:.1f}",
    ]
    return "| " + " | ".join(str(cell) for cell in cells) + " |"


TICKET_HEADER = (
    "| orders/s asked | orders/s posted | orders | failed POSTs | POST p50 / p95 ms | 201 → ticket p50 / p95 / max ms "
    "| no ticket in 10 s |\n"
    "|---:|---:|---:|---:|---:|---:|---:|"
)


def ticket_row(r: dict) -> str:
    cells = [
        f"{r['rate']:g}",
        f"{r['posted_per_s']:.1f}",
        r["orders"],
        r["failed"] if r["failed"] == 0 else f"**{r['failed']}**",
        f"{r['post_p50_ms']:.0f} / {r['post_p95_ms']:.0f}",
        f"{r['ticket_p50_ms']:.0f} / {r['ticket_p95_ms']:.0f} / {r['ticket_max_ms']:.0f}",
        r["no_ticket"] if r["no_ticket"] == 0 else f"**{r['no_ticket']}**",
    ]
    return "| " + " | ".join(str(cell) for cell in cells) + " |"


def first_line(args: list[str]) -> str:
    try:
        result = subprocess.run(args, capture_output=True, text=True, timeout=60)
    except OSError:
        return "?"
    return (result.stdout or result.stderr).strip().splitlines()[0] if (result.stdout or result.stderr) else "?"


def machine() -> str:
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = next((line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if line.startswith("model name")), "?")
    meminfo = Path("/proc/meminfo").read_text().split()
    ram_gib = int(meminfo[meminfo.index("MemTotal:") + 1]) / 1024**2
    with admin_connection() as admin:
        postgres = admin.execute("SHOW server_version").fetchone()[0]
    rabbitmq = rabbitmqctl("version", check=False).strip() or "?"
    return (
        f"nproc {os.cpu_count()}, {model}, {ram_gib:.0f} GiB RAM; PostgreSQL {postgres}, RabbitMQ {rabbitmq}, "
        f"Python {platform.python_version()}, Django {django.get_version()}, {first_line(['wrk', '-v']).split(' [')[0]}"
    )


def int_list(value: str) -> list[int]:
    return [int(item) for item in value.split(",")]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server", choices=SERVERS, default="gunicorn-sync")
    parser.add_argument("--workers", type=int, default=3, help="server processes (daphne: always 1)")
    parser.add_argument("--conn-max-age", type=int, default=60, help="CONN_MAX_AGE when --db-pool is 0")
    parser.add_argument("--db-pool", type=int, default=0, help="DATABASE_POOL_SIZE per process (0: CONN_MAX_AGE)")
    parser.add_argument("--duration", type=int, default=15, help="seconds of load per concurrency")
    parser.add_argument("--concurrency", type=int_list, default=[1, 10, 50])
    parser.add_argument("--log-level", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    parser.add_argument("--port", type=int, default=0, help="web port (default: a free one)")
    parser.add_argument("--matrix", action="store_true", help="run every setup of docs/benchmarks.md in turn")
    parser.add_argument("--keep", action="store_true", help="keep the database, the vhost and the logs")
    parser.add_argument("--pipeline-only", action="store_true", help="skip the intake phases")
    parser.add_argument("--no-pipeline", action="store_true", help="skip the pipeline phase")
    parser.add_argument("--workers-list", type=int_list, default=[1, 2, 4], help="kitchen workers, pipeline phase")
    parser.add_argument("--prefetch-list", type=int_list, default=[1], help="worker --prefetch, pipeline phase")
    parser.add_argument("--pipeline-concurrency", type=int, default=10, help="wrk connections, pipeline phase")
    parser.add_argument("--ticket-only", action="store_true", help="run only the kitchen display phase")
    parser.add_argument("--no-ticket", action="store_true", help="skip the kitchen display phase")
    parser.add_argument("--ticket-rate", type=float, default=50, help="orders/s, kitchen display phase")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is missing: apt-get install -y wrk (make bench installs it)", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so the cleanup runs
    if args.server == "daphne":
        args.workers = 1
    uvicorn_needed = args.matrix or args.server == "gunicorn-uvicorn"
    if uvicorn_needed and importlib.util.find_spec("uvicorn_worker") is None:
        print("gunicorn-uvicorn needs: .venv/bin/pip install uvicorn-worker 'uvicorn[standard]'", file=sys.stderr)
        return 2
    setups = MATRIX if args.matrix else [(args.server, args.workers, args.conn_max_age, args.db_pool)]

    print(f"machine: {machine()}")
    print(f"code: {first_line(['git', '-C', str(REPO), 'describe', '--always', '--dirty'])}")
    print(f"load: wrk, {args.duration} s per phase, connections = c, threads = min(2, c); LOG_LEVEL={args.log_level}")
    results = []
    if not args.pipeline_only and not args.ticket_only:
        for server, workers, conn_max_age, pool in setups:
            results += run_setup(server, workers, conn_max_age, pool, args)
    pipeline = []
    if not args.no_pipeline and not args.ticket_only:
        for prefetch in args.prefetch_list:
            for kitchen_workers in args.workers_list:
                pipeline.append(run_pipeline(kitchen_workers, prefetch, args))
    ticket = None if args.no_ticket else run_ticket(args)
    if results:
        print(f"\n{HEADER}")
        for result in results:
            print(row(result))
    if pipeline:
        print(f"\npipeline: COOKING_TIME_SCALE=0, wrk -c {args.pipeline_concurrency}, {args.duration} s of load")
        print(PIPELINE_HEADER)
        for result in pipeline:
            print(pipeline_row(result))
    if ticket:
        print(f"\nkitchen display: one WebSocket client on one daphne (pool 4), {args.duration} s of POSTs")
        print(TICKET_HEADER)
        print(ticket_row(ticket))
    return 0


if __name__ == "__main__":
    sys.exit(main())
