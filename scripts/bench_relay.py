"""How fast one `manage.py run_outbox_relay` drains a full outbox, and its CPU per message.

A fresh database and vhost (`restaurant_bench_relay`, made here with `migrate` and removed at the
end); one relay started and connected; then N pending rows committed at once, in id order per
order: its order message (`orders_topic`, the three order types), its `cooking` and its `ready`
status updates (`notifications_fanout`, with one durable subscriber queue bound, so they are routed
and stored as in production). Figures: messages/s from that commit until no row is pending, the
relay's CPU ms per message (from /proc, so independent of how busy the machine is), and the
messages found on the queues afterwards (each exactly once in the normal path).

    .venv/bin/python scripts/bench_relay.py                       # N=20000, this checkout
    .venv/bin/python scripts/bench_relay.py -n 5000 --batch-size 500
    .venv/bin/python scripts/bench_relay.py --baseline /tmp/main  # also another checkout, side by side

From another script (scripts/bench.py): `drain_figure(n, env)` returns the figures as a dict;
`env` is the relay's environment (its DATABASE_URL and RABBITMQ_URL are replaced by the bench's own).
"""

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pika
import psycopg
from psycopg import sql

REPO = Path(__file__).resolve().parent.parent
NAME = "restaurant_bench_relay"  # the database and the vhost
STATUS_QUEUE = "notifications_queue.bench_relay"
ORDER_TYPES = ("dine_in", "takeout", "delivery")

# Row i (from 0) is message i % 3 of order i // 3: its order message, then `cooking`, then `ready`.
FILL = """
INSERT INTO outbox (exchange, routing_key, body, headers, priority, created_at, attempts, last_error)
SELECT
    CASE WHEN i %% 3 = 0 THEN 'orders_topic' ELSE 'notifications_fanout' END,
    CASE WHEN i %% 3 = 0 THEN 'kitchen.' || (ARRAY['dine_in','takeout','delivery'])[o %% 3 + 1] || '.1' ELSE '' END,
    CASE WHEN i %% 3 = 0 THEN json_build_object(
        'order_number', 'ORD_20250101_' || lpad(o::text, 5, '0'), 'customer_name', 'Jane Doe',
        'order_type', (ARRAY['dine_in','takeout','delivery'])[o %% 3 + 1], 'table_number', NULL,
        'delivery_address', NULL, 'total_amount', 31.98, 'priority', 1, 'notes', '',
        'items', json_build_array(json_build_object(
            'name', 'Margherita Pizza', 'quantity', 2, 'price', 15.99, 'sku', 'PIZZA-MARG',
            'station', 'oven', 'modifiers', json_build_array(), 'notes', '')))::text
    ELSE json_build_object(
        'order_number', 'ORD_20250101_' || lpad(o::text, 5, '0'),
        'old_status', CASE WHEN i %% 3 = 1 THEN 'received' ELSE 'cooking' END,
        'new_status', CASE WHEN i %% 3 = 1 THEN 'cooking' ELSE 'ready' END,
        'changed_by', 'bench_chef', 'timestamp', now(), 'estimated_completion', now())::text
    END,
    jsonb_build_object('request_id', 'req-bench-' || o),
    CASE WHEN i %% 3 = 0 THEN 1 END,
    now(), 0, ''
FROM generate_series(0, %s - 1) AS i, LATERAL (SELECT i / 3 AS o) AS orders
ORDER BY i
"""


def admin_connection() -> psycopg.Connection:
    return psycopg.connect(dbname="postgres", autocommit=True)


def drop_database() -> None:
    with admin_connection() as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(NAME)))


def rabbitmqctl(*args: str, check: bool = True) -> None:
    result = subprocess.run(["rabbitmqctl", *args], capture_output=True, text=True, timeout=120)
    if check and result.returncode != 0:
        raise RuntimeError(f"rabbitmqctl {' '.join(args)} failed: {result.stderr or result.stdout}")


def recreate_services() -> None:
    drop_database()
    with admin_connection() as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(NAME)))
    rabbitmqctl("delete_vhost", NAME, check=False)
    rabbitmqctl("add_vhost", NAME)
    rabbitmqctl("set_permissions", "-p", NAME, "guest", ".*", ".*", ".*")


def drop_services() -> None:
    rabbitmqctl("delete_vhost", NAME, check=False)
    drop_database()


def process_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def wait_until_declared(amqp_url: str, relay: subprocess.Popen, log_path: Path, timeout: float = 60.0) -> None:
    """Until the relay has declared the topology (its last kitchen queue exists): it is connected."""
    deadline = time.monotonic() + timeout
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        while True:
            try:
                connection.channel().queue_declare(f"kitchen_{ORDER_TYPES[-1]}_queue", passive=True)
                return
            except pika.exceptions.ChannelClosedByBroker:  # 404: not yet
                pass
            if relay.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"relay did not declare the topology (exit {relay.poll()}), see {log_path}")
            time.sleep(0.05)
    finally:
        connection.close()


def queue_depths(amqp_url: str) -> tuple[int, int]:
    """(order messages on the kitchen queues, status updates on the bench's subscriber queue)."""
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        channel = connection.channel()
        depth = lambda queue: channel.queue_declare(queue, passive=True).method.message_count  # noqa: E731
        return sum(depth(f"kitchen_{kind}_queue") for kind in ORDER_TYPES), depth(STATUS_QUEUE)
    finally:
        connection.close()


def drain_figure(n: int, env: dict, *, repo: Path = REPO, relay_args: tuple[str, ...] = (), timeout=900.0) -> dict:
    """Drain an outbox of `n` pending rows with one relay of the checkout `repo`; the figures.

    `env`: the relay's environment (e.g. scripts/bench.py's service_env()); DATABASE_URL and
    RABBITMQ_URL are set here. `relay_args`: extra `run_outbox_relay` arguments (`--batch-size=500`).
    Returns messages, seconds, messages_per_s, relay_cpu_ms (per message), orders_delivered and
    updates_delivered (what the queues hold afterwards: (n + 2) // 3 and the rest when nothing
    was published twice). Always removes the database and the vhost.
    """
    amqp_url = f"amqp://guest:guest@127.0.0.1:5672/{NAME}"
    env = {**env, "DATABASE_URL": f"postgres:///{NAME}", "RABBITMQ_URL": amqp_url, "PYTHONUNBUFFERED": "1"}
    env.pop("TEST_DATABASE_NAME", None)
    log_path = Path(tempfile.mkstemp(prefix="bench-relay-", suffix=".log")[1])
    recreate_services()
    relay = None
    try:
        migrate = [sys.executable, "manage.py", "migrate", "--no-input"]
        subprocess.run(migrate, cwd=repo, env=env, check=True, capture_output=True, timeout=300)
        with open(log_path, "w") as log:
            command = [sys.executable, "manage.py", "run_outbox_relay", *relay_args]
            relay = subprocess.Popen(command, cwd=repo, env=env, stdout=log, stderr=subprocess.STDOUT)
        wait_until_declared(amqp_url, relay, log_path)
        connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
        channel = connection.channel()
        channel.queue_declare(STATUS_QUEUE, durable=True)
        channel.queue_bind(STATUS_QUEUE, "notifications_fanout")
        connection.close()
        with psycopg.connect(dbname=NAME, autocommit=True) as db:
            cpu = process_cpu_seconds(relay.pid)
            db.execute(FILL, [n])  # one commit: one NOTIFY
            started = time.monotonic()
            while db.execute("SELECT EXISTS (SELECT FROM outbox WHERE published_at IS NULL)").fetchone()[0]:
                if relay.poll() is not None or time.monotonic() - started > timeout:
                    raise RuntimeError(f"outbox not drained (relay exit {relay.poll()}), see {log_path}")
                time.sleep(0.02)
            seconds = time.monotonic() - started
            cpu = process_cpu_seconds(relay.pid) - cpu
        orders, updates = queue_depths(amqp_url)
        log_path.unlink()
        return {
            "messages": n,
            "seconds": seconds,
            "messages_per_s": n / seconds,
            "relay_cpu_ms": 1000 * cpu / n,
            "orders_delivered": orders,
            "updates_delivered": updates,
        }
    finally:
        if relay is not None and relay.poll() is None:
            relay.send_signal(signal.SIGTERM)
            relay.wait(timeout=30)
        drop_services()


def row(label: str, figures: dict) -> str:
    n = figures["messages"]
    orders = (n + 2) // 3  # rows 0, 3, 6, ...
    delivered = f"{figures['orders_delivered']} / {figures['updates_delivered']} (expected {orders} / {n - orders})"
    return (
        f"| {label} | {n} | {figures['seconds']:.1f} | {figures['messages_per_s']:.0f} "
        f"| {figures['relay_cpu_ms']:.2f} | {delivered} |"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=20000, help="pending outbox rows")
    parser.add_argument("--batch-size", type=int, default=0, help="run_outbox_relay --batch-size (0: its default)")
    parser.add_argument("--log-level", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    parser.add_argument("--baseline", type=Path, help="another checkout (e.g. a worktree of main) to run first")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so the cleanup runs
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "restaurant.settings", "LOG_LEVEL": args.log_level}
    env.setdefault("SECRET_KEY", "bench-relay-only")
    relay_args = (f"--batch-size={args.batch_size}",) if args.batch_size else ()
    runs = [(f"{args.baseline} (baseline)", args.baseline)] if args.baseline else []
    runs.append((f"{REPO}", REPO))
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}; LOG_LEVEL={args.log_level} {relay_args}")
    print("| checkout | messages | drain s | messages/s | relay CPU ms/message | delivered orders / updates |")
    print("|---|---:|---:|---:|---:|---|")
    for label, repo in runs:
        print(row(label, drain_figure(args.n, env, repo=repo, relay_args=relay_args)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
