"""The load phases of scripts/bench.py, each on a fresh database and vhost of one side: intake
(wrk on POST /orders), the relay's drain of a ready-made outbox, the pipeline (POST to `ready`)
and the plain Python loop the intake is measured against. docs/benchmarks.md explains the figures.
"""

import json
import multiprocessing
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pika
import psycopg
from bench_stack import (
    REPO,
    ConnectionSampler,
    Process,
    Side,
    connect,
    cpu_seconds,
    fresh_run,
    group_pids,
    machine_ticks,
    rss_mib,
)
from pika.exceptions import ChannelClosedByBroker

LUA = REPO / "scripts" / "bench_orders.lua"
# restaurant/broker.py's names (SPEC §5): the order messages' topic exchange, the status updates' fanout.
ORDERS_EXCHANGE = "orders_topic"
NOTIFICATIONS_EXCHANGE = "notifications_fanout"
ORDER_TYPES = ("takeout", "dine_in", "delivery")


# --- intake: wrk on POST /orders ---------------------------------------------------------------


def wrk_command(url: str, concurrency: int, duration: int, timeout: float, bodies: Path | None = None) -> list[str]:
    """wrk POSTing orders (scripts/bench_orders.lua: its own bodies, or the lines of `bodies`); an
    answer slower than `timeout` s is a timeout."""
    threads = min(2, concurrency)
    args = ["wrk", f"-t{threads}", f"-c{concurrency}", f"-d{duration}s", "--timeout", f"{timeout:g}s"]
    return [*args, "-s", str(LUA), f"{url}/orders", *(["--", str(bodies)] if bodies else [])]


def wrk_figures(returncode: int, stdout: str, stderr: str) -> dict:
    """The figures scripts/bench_orders.lua prints as one JSON line."""
    for line in stdout.splitlines():
        if line.startswith("WRK_JSON "):
            return json.loads(line.removeprefix("WRK_JSON "))
    raise RuntimeError(f"wrk gave no figures (exit {returncode}):\n{stdout}\n{stderr}")


def run_wrk(url: str, concurrency: int, duration: int, timeout: float = 2.0, bodies: Path | None = None) -> dict:
    command = wrk_command(url, concurrency, duration, timeout, bodies)
    result = subprocess.run(command, capture_output=True, text=True, timeout=duration + 60)
    return wrk_figures(result.returncode, result.stdout, result.stderr)


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


def load_phase(
    url: str, db: psycopg.Connection, relay: Process, web: Process, concurrency: int, args, bodies: Path | None = None
) -> dict:
    """One wrk run at `concurrency` (POSTing `bodies`' lines, or the wrk script's own), then the outbox
    drain; the figures of both, and the most PostgreSQL sessions on the side's database during the load."""
    after_id = last_outbox_id(db)
    web_cpu, relay_cpu = cpu_seconds(web.pid), cpu_seconds(relay.pid)
    busy, total = machine_ticks()
    with ConnectionSampler(db.info.dbname) as sessions:
        figures = run_wrk(url, concurrency, args.duration, args.timeout, bodies)
    busy_now, total_now = machine_ticks()
    web_cpu = cpu_seconds(web.pid) - web_cpu
    web.check_alive()
    backlog = pending(db)
    drain = wait_for_drain(db, relay)
    relay_cpu = cpu_seconds(relay.pid) - relay_cpu
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
        "db_connections": sessions.most,
        "lock_waiting": sessions.lock_waiting,
        "backlog": backlog,
        "drain_s": drain,
        **outbox,
    }


@contextmanager
def intake_stack(side: Side, args, rate_limit: str = "off") -> Iterator[Callable[[int], dict]]:
    """A fresh stack of `side` (web + relay, ORDERS_RATE_LIMIT=`rate_limit`) for every intake phase
    of that side, warmed up for 2 s at c=10; yields the function that runs one phase at a given
    concurrency, on emptied tables and queues."""
    variant = "" if rate_limit == "off" else "ratelimit"  # a second stack of the side runs beside the first
    with fresh_run(side, args, variant, ORDERS_RATE_LIMIT=rate_limit) as run, connect(run.db) as db:
        relay = run.start_relay()
        url, web = run.start_web()
        run_wrk(url, 10, min(2, args.duration), args.timeout)  # warm-up, not reported
        wait_for_drain(db, relay)

        def intake_phase(concurrency: int) -> dict:
            empty_tables(db)
            purge_kitchen_queues(run.amqp_url)
            result = load_phase(url, db, relay, web, concurrency, args)
            run.failed |= result["non_2xx"] > 0 or result["socket_errors"] > 0
            return {"side": side.name, "rate_limit": rate_limit, **result}

        yield intake_phase


def empty_tables(db: psycopg.Connection) -> None:
    """Orders (and, by CASCADE, whatever refers to them: their slot reservations), the day counter, the
    outbox, the kitchen slots' loads and the rate limits' counters (when the side's settings keep
    them in the database)."""
    tables = [
        table
        for table in ("orders", "order_daily_counter", "outbox", "slot_loads", "django_cache")
        if db.execute("SELECT to_regclass(%s)", [table]).fetchone()[0]  # a side's code may lack one
    ]
    for _ in range(20):
        try:  # a request still finishing after the load stopped may hold one of the tables
            with db.transaction():
                db.execute("SET LOCAL lock_timeout = '1s'")
                db.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
            return
        except (psycopg.errors.DeadlockDetected, psycopg.errors.LockNotAvailable):
            time.sleep(0.2)
    raise RuntimeError(f"could not empty {', '.join(tables)}: always in use")


def purge_kitchen_queues(url: str) -> None:
    """Empties the kitchen queues (SPEC §5) the previous phases filled (nobody consumes them here)."""
    with pika.BlockingConnection(pika.URLParameters(url)) as amqp:
        for order_type in ORDER_TYPES:
            channel = amqp.channel()
            try:
                channel.queue_purge(f"kitchen_{order_type}_queue")
            except ChannelClosedByBroker:  # no such queue (yet)
                continue
            channel.close()


# --- messages as the code writes them (orders/services.py), for the drain and the plain loop ------


def order_body(number: str, order_type: str) -> dict:
    """An order message as orders/services.py order_message writes it (two free items)."""
    items = [
        {"name": "Margherita Pizza", "quantity": 2, "price": Decimal("15.99"), "sku": None, "station": None},
        {"name": "Tiramisu", "quantity": 1, "price": Decimal("7.25"), "sku": None, "station": None},
    ]
    for item in items:
        item.update(modifiers=[], notes="")
    return {
        "order_number": number,
        "customer_name": "Jane Doe",
        "order_type": order_type,
        "table_number": 12 if order_type == "dine_in" else None,
        "delivery_address": "12 Baker Street, London" if order_type == "delivery" else None,
        "items": items,
        "total_amount": Decimal("39.23"),
        "priority": 1,
        "notes": "",
    }


def status_body(number: str, old_status: str, new_status: str) -> dict:
    """A status update as orders/services.py status_update_message writes it."""
    now = datetime.now(UTC)
    return {
        "order_number": number,
        "old_status": old_status,
        "new_status": new_status,
        "changed_by": "bench_chef_1",
        "timestamp": now.isoformat(),
        "estimated_completion": now.isoformat(),
    }


def dumps(body: dict) -> str:
    """JSON as restaurant/broker.py dumps writes it (Decimal amounts as exact numbers)."""
    return json.dumps(body, default=lambda value: float(value), separators=(",", ":"))


# --- the relay's drain of a ready-made outbox ---------------------------------------------------

STATUS_STEPS = (("received", "cooking"), ("cooking", "ready"), ("ready", "completed"))


def backlog_rows(count: int):
    """`count` outbox rows as a day of orders leaves them: per order its order message (to
    orders_topic, kitchen.<type>.<priority>, takeout / dine-in / delivery in turn) and its three
    status updates (to notifications_fanout), one order after the other."""
    now = datetime.now(UTC)
    for i in range(count):
        order, step = divmod(i, 1 + len(STATUS_STEPS))
        number = f"ORD_20261201_{order + 1:03d}"
        headers = json.dumps({"request_id": uuid.uuid4().hex})
        if step == 0:
            body = order_body(number, ORDER_TYPES[order % len(ORDER_TYPES)])
            routing_key = f"kitchen.{body['order_type']}.{body['priority']}"
            yield (ORDERS_EXCHANGE, routing_key, dumps(body), headers, body["priority"], now, 0, "")
        else:
            body = status_body(number, *STATUS_STEPS[step - 1])
            yield (NOTIFICATIONS_EXCHANGE, "", dumps(body), headers, None, now, 0, "")


def insert_backlog(db: psycopg.Connection, count: int) -> None:
    columns = "exchange, routing_key, body, headers, priority, created_at, attempts, last_error"
    with db.cursor().copy(f"COPY outbox ({columns}) FROM STDIN") as copy:
        for row in backlog_rows(count):
            copy.write_row(row)


def bind_subscriber_queue(url: str) -> None:
    """A subscriber's durable queue on notifications_fanout (as run_notification_subscriber
    --subscriber-name declares it), so that status updates are routed and stored as in production."""
    with pika.BlockingConnection(pika.URLParameters(url)) as amqp:
        channel = amqp.channel()
        channel.exchange_declare(NOTIFICATIONS_EXCHANGE, exchange_type="fanout", durable=True)
        channel.queue_declare("notifications_queue.bench", durable=True)
        channel.queue_bind("notifications_queue.bench", NOTIFICATIONS_EXCHANGE)


def relay_start(db: psycopg.Connection, relay: Process, spawned: float, rows: int) -> tuple[float, float]:
    """When the relay was up (epoch seconds) and its CPU seconds then: at its first log line (Django
    is up), or, when it publishes before logging anything (a LOG_LEVEL that hides its start), at its
    spawn with no CPU time yet."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        began = relay.first_log_time()
        if began is not None:
            return began, cpu_seconds(relay.pid)
        if pending(db) < rows:
            return spawned, 0.0
        relay.check_alive()
        time.sleep(0.01)
    raise RuntimeError(f"relay neither logged nor published within 60 s, see {relay.log_path}")


def run_drain(side: Side, args) -> dict:
    """`--drain-rows` pending outbox rows written by SQL, then one run_outbox_relay started: messages
    per second from its start (relay_start) to the last row's published_at, and its CPU time per
    message over the same span."""
    with fresh_run(side, args) as run, connect(run.db) as db:
        insert_backlog(db, args.drain_rows)
        bind_subscriber_queue(run.amqp_url)
        spawned = time.time()
        relay = run.start_relay()
        began, cpu_at_start = relay_start(db, relay, spawned, args.drain_rows)
        wait_for_drain(db, relay)
        cpu = cpu_seconds(relay.pid) - cpu_at_start
        rows, last = db.execute("SELECT count(*), max(published_at) FROM outbox").fetchone()
        span = last.timestamp() - began
        return {
            "side": side.name,
            "messages": rows,
            "messages_per_s": rows / span,
            "relay_cpu_ms": 1000 * cpu / rows,
            "span_s": span,
        }


# --- the pipeline: POST /orders to `ready`, through the relay and N kitchen workers -----------


def not_ready(db: psycopg.Connection, after_id: int) -> int:
    return db.execute("SELECT count(*) FROM orders WHERE id > %s AND status <> 'ready'", [after_id]).fetchone()[0]


def wait_for_kitchen(db: psycopg.Connection, run, after_id: int, timeout: float) -> float:
    """Seconds until every order after `after_id` is ready, or `timeout` (pipeline_figures counts the rest)."""
    began = time.monotonic()
    while not_ready(db, after_id) and time.monotonic() - began < timeout:
        run.check_alive()
        time.sleep(0.1)
    return time.monotonic() - began


def pipeline_figures(db: psycopg.Connection, after_id: int) -> dict:
    """From the status log of the orders after `after_id`: how many became ready, over how long (first
    `received` to last `ready`), p50/p95/max of `cooking` - `received` (ms), and how many orders do
    not have exactly one `received`, one `cooking` and one `ready` row and no other."""
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
    (bad_log,) = db.execute(
        """
        SELECT count(*) FROM (
            SELECT orders.id FROM orders LEFT JOIN order_status_log log ON log.order_id = orders.id
            WHERE orders.id > %s
            GROUP BY orders.id
            HAVING count(log.id) <> 3
                OR count(log.id) FILTER (WHERE log.status = 'received') <> 1
                OR count(log.id) FILTER (WHERE log.status = 'cooking') <> 1
                OR count(log.id) FILTER (WHERE log.status = 'ready') <> 1
        ) AS bad
        """,
        [after_id],
    ).fetchone()
    return {
        "orders": orders,
        "ready": ready,
        "not_ready": orders - ready,
        "bad_log": bad_log,
        "span_s": float(span or 0),
        "pipeline_per_s": ready / float(span) if span else 0.0,
        "cooking_p50_ms": float(p50 or 0),
        "cooking_p95_ms": float(p95 or 0),
        "cooking_max_ms": float(worst or 0),
    }


def run_pipeline(side: Side, kitchen_workers: int, prefetch: int, args) -> dict:
    """Web + relay + `kitchen_workers` workers cooking in no time (COOKING_TIME_SCALE=0); one load
    phase at --pipeline-concurrency, then the wait until every order is ready."""
    with fresh_run(side, args, COOKING_TIME_SCALE="0") as run:
        run.start_relay()
        url, _ = run.start_web()
        workers = [run.start_kitchen_worker(i, prefetch) for i in range(1, kitchen_workers + 1)]
        for worker in workers:
            worker.wait_for_log("broker_connected")
        concurrency = args.pipeline_concurrency
        timeout = 60 + 10 * args.duration  # for the kitchen to catch up once the load stops
        with connect(run.db) as db:
            run_wrk(url, concurrency, min(2, args.duration), args.timeout)  # warm-up, not reported
            wait_for_kitchen(db, run, 0, timeout)
            after_id = db.execute("SELECT coalesce(max(id), 0) FROM orders").fetchone()[0]
            kitchen_cpu = sum(cpu_seconds(worker.pid) for worker in workers)
            load = run_wrk(url, concurrency, args.duration, args.timeout)
            backlog = not_ready(db, after_id)
            drain = wait_for_kitchen(db, run, after_id, timeout)
            kitchen_cpu = sum(cpu_seconds(worker.pid) for worker in workers) - kitchen_cpu
            result = {
                "side": side.name,
                "kitchen_workers": kitchen_workers,
                "prefetch": prefetch,
                "concurrency": concurrency,
                "intake_per_s": (load["requests"] - load["non_2xx"]) / (load["duration_us"] / 1e6),
                "non_2xx": load["non_2xx"],
                "backlog": backlog,
                "drain_s": drain,
                **pipeline_figures(db, after_id),
            }
        result["kitchen_cpu_ms"] = 1000 * kitchen_cpu / max(result["ready"], 1)
        run.failed = result["not_ready"] > 0 or result["bad_log"] > 0
        return result


# --- the plain Python loop: what one order costs without Django ----------------------------------

INSERT_ORDER = """
    INSERT INTO orders (number, customer_name, order_type, total_amount, priority, status, notes,
                        created_at, updated_at)
    VALUES (%s, 'Jane Doe', 'takeout', 15.99, 1, 'received', '', now(), now())
    RETURNING id
"""
INSERT_ITEM = """
    INSERT INTO order_items (order_id, name, quantity, price, station, modifiers, notes, prepared_by)
    VALUES (%s, 'Margherita Pizza', 1, 15.99, '', '[]', '', '')
"""
INSERT_LOG = """
    INSERT INTO order_status_log (order_id, status, changed_by, changed_at, notes, superseded)
    VALUES (%s, 'received', 'order-service', now(), '', false)
"""


def loop_process(dbname: str, url: str, worker: int, start, seconds: float, results) -> None:
    """Once every loop is connected (the barrier `start`), for `seconds`: per order one transaction
    (order, item, `received` row) and one publish that waits for the broker's confirm. Puts
    (orders, CPU seconds) in `results`."""
    properties = pika.BasicProperties(content_type="application/json", delivery_mode=2, priority=1)
    with connect(dbname) as db, pika.BlockingConnection(pika.URLParameters(url)) as amqp:
        channel = amqp.channel()
        channel.confirm_delivery()
        start.wait(timeout=60)
        deadline, cpu, orders = time.monotonic() + seconds, time.process_time(), 0
        while time.monotonic() < deadline:
            number = f"LOOP_{worker}_{orders + 1}"
            with db.transaction():
                (order_id,) = db.execute(INSERT_ORDER, [number]).fetchone()
                db.execute(INSERT_ITEM, [order_id])
                db.execute(INSERT_LOG, [order_id])
            body = dumps(order_body(number, "takeout")).encode()
            channel.basic_publish(ORDERS_EXCHANGE, "kitchen.takeout.1", body, properties)
            orders += 1
        results.put((orders, time.process_time() - cpu))


def declare_loop_queue(url: str) -> None:
    """orders_topic and one durable priority queue bound to every order message, as the kitchen queues."""
    with pika.BlockingConnection(pika.URLParameters(url)) as amqp:
        channel = amqp.channel()
        channel.exchange_declare(ORDERS_EXCHANGE, exchange_type="topic", durable=True)
        channel.queue_declare("bench_loop_queue", durable=True, arguments={"x-max-priority": 10})
        channel.queue_bind("bench_loop_queue", ORDERS_EXCHANGE, routing_key="kitchen.#")


def run_loop(side: Side, processes: int, args) -> dict:
    """`processes` plain loops side by side for --duration s on the side's migrated tables; orders/s
    in all, and the loops' CPU ms per order."""
    with fresh_run(side, args) as run:
        declare_loop_queue(run.amqp_url)
        context = multiprocessing.get_context("spawn")  # a clean interpreter: no connection inherited
        results, start = context.Queue(), context.Barrier(processes + 1)
        children = [
            context.Process(target=loop_process, args=(run.db, run.amqp_url, i, start, args.duration, results))
            for i in range(processes)
        ]
        for child in children:
            child.start()
        start.wait(timeout=60)
        figures = [results.get(timeout=args.duration + 60) for _ in children]
        for child in children:
            child.join(timeout=10)
        orders = sum(count for count, _ in figures)
        return {
            "processes": processes,
            "orders": orders,
            "orders_per_s": orders / args.duration,
            "cpu_ms": 1000 * sum(cpu for _, cpu in figures) / max(orders, 1),
        }


# --- the soak: the whole stack at full rate for a long time, and its memory ----------------------


def stack_processes(web: Process, others: list[Process]) -> dict[str, int]:
    """name: pid of every process of the stack: the web server's master and workers, the others."""
    workers = [pid for pid in group_pids(web.pid) if pid != web.pid]
    named = {"web master": web.pid, **{f"web worker {i}": pid for i, pid in enumerate(workers, 1)}}
    return {**named, **{process.name: process.pid for process in others}}


def run_soak(side: Side, args) -> dict:
    """Web + relay + 2 kitchen workers (COOKING_TIME_SCALE=0) under wrk at --soak-concurrency for
    --soak seconds; every process's RSS at the start, every --soak-interval s and at the end
    (printed as it goes)."""
    with fresh_run(side, args, COOKING_TIME_SCALE="0") as run:
        relay = run.start_relay()
        url, web = run.start_web()
        workers = [run.start_kitchen_worker(i, 1) for i in (1, 2)]
        for worker in workers:
            worker.wait_for_log("broker_connected")
        run_wrk(url, args.soak_concurrency, 2, args.timeout)  # warm-up, not reported
        command = wrk_command(url, args.soak_concurrency, args.soak, args.timeout)
        load = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        began, samples = time.monotonic(), []
        while True:
            pids = stack_processes(web, [relay, *workers])
            sample = {
                "elapsed_s": time.monotonic() - began,
                "rss_mib": {name: rss_mib(pid) for name, pid in pids.items()},
            }
            samples.append({**sample, "pids": pids})
            cells = " | ".join(f"{name} {mib:.0f}" for name, mib in sample["rss_mib"].items())
            print(f"  {sample['elapsed_s']:5.0f} s  RSS MiB: {cells}", flush=True)
            if load.poll() is not None:
                break
            try:
                load.wait(timeout=args.soak_interval)
            except subprocess.TimeoutExpired:
                pass
            run.check_alive()
        stdout, stderr = load.communicate()
        figures = wrk_figures(load.returncode, stdout, stderr)
        with connect(run.db) as db:
            behind = db.execute("SELECT count(*) FROM orders WHERE status <> 'ready'").fetchone()[0]
        return {
            "samples": samples,
            "orders_per_s": (figures["requests"] - figures["non_2xx"]) / (figures["duration_us"] / 1e6),
            "errors": figures["non_2xx"] + sum(figures[key] for key in ("connect", "read", "write", "timeout")),
            "not_ready_at_stop": behind,
        }
