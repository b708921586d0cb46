"""Throughput and latency of the order system, the current code side by side with a baseline.

Prints figures (docs/benchmarks.md explains them); it is not a test. Every phase runs on a fresh
copy of a database migrated by its side's own code and a fresh RabbitMQ vhost (`restaurant_bench`,
`restaurant_bench_baseline`; removed at the end), so neither the dev database nor a test run is
touched. With --baseline REF the baseline is a git worktree of REF in /tmp (removed at the end),
served by its own Procfile web line from its own directory, with this virtualenv; its phases and
the current code's alternate, one concurrency after the other.

Phases (--phases, in this order):
  intake      wrk on POST /orders at each --concurrency: orders/s, p50/p95/p99, errors, the most
              PostgreSQL sessions, CPU per order; baseline and current
  rate-limit  the intake at --rate-limit-concurrency with ORDERS_RATE_LIMIT=--rate-limit (a limit
              no client reaches), right after the current code's phase with rate limiting off
  slots       the intake of menu orders at --slots-concurrency with kitchen capacity slots off (the
              demo menu) and on (every station a capacity no order reaches), in turn; and what the
              orders booked (current)
  loop        the plain Python loop: per order one psycopg transaction (order, item, status row)
              and one confirmed pika publish, in 1 and 4 processes (--loop-processes)
  drain       --drain-rows outbox rows written by SQL, then one run_outbox_relay: messages/s and
              relay CPU per message; baseline and current
  pipeline    POST to `ready` with --workers-list kitchen workers, COOKING_TIME_SCALE=0; baseline
              and current
  display     201 to the ticket on a screen per station of the demo menu and the expo (current)
--soak S runs none of them: the whole stack at full rate for S seconds, printing each process's RSS.

    .venv/bin/python scripts/bench.py                              # every phase, 15 s of load each
    .venv/bin/python scripts/bench.py --baseline main --duration 5 # side by side with main
    .venv/bin/python scripts/bench.py --phases intake --concurrency 1,10 --duration 3
    .venv/bin/python scripts/bench.py --phases slots               # capacity slots on against off, c=50 and 200
    .venv/bin/python scripts/bench.py --skip display,pipeline
    .venv/bin/python scripts/bench.py --soak 600                   # memory over 10 minutes
    .venv/bin/python scripts/bench.py --matrix --phases intake     # every serving setup of docs/benchmarks.md
"""

import argparse
import importlib.util
import os
import shutil
import signal
import subprocess
import sys
from contextlib import ExitStack

from bench_display import run_display
from bench_phases import intake_stack, run_drain, run_loop, run_pipeline, run_soak
from bench_slots import CAPACITIES, SLOT_CAPACITY, slots_stack
from bench_stack import (
    Side,
    baseline_side,
    current_side,
    drop_runs,
    is_running,
    prepare_template,
)
from bench_stack import machine as stack_machine

PHASES = ("intake", "rate-limit", "slots", "loop", "drain", "pipeline", "display")
SERVERS = ("procfile", "daphne", "gunicorn-sync", "gunicorn-gthread", "gunicorn-uvicorn")
# (server, workers, CONN_MAX_AGE, psycopg pool size or None): what --matrix runs, as in docs/benchmarks.md.
MATRIX = [
    ("procfile", 2, None, None),
    ("gunicorn-gthread", 3, None, None),
    ("daphne", 1, 0, 4),
    ("gunicorn-sync", 2, 60, None),
    ("gunicorn-sync", 3, 60, None),
    ("gunicorn-sync", 4, 60, None),
    ("gunicorn-uvicorn", 3, 0, 4),
]


def interleaved(sides: list[Side], i: int) -> list[Side]:
    """The sides in the order of the i-th comparison: baseline first, then current first, in turn."""
    return sides if i % 2 == 0 else sides[::-1]


def heading(text: str) -> None:
    print(f"\n## {text} (load average {' '.join(f'{x:.2f}' for x in os.getloadavg())})", flush=True)


def table(header: list[str], rows: list[list]) -> str:
    """A Markdown table, the first column left-aligned, the others right-aligned."""
    lines = ["| " + " | ".join(header) + " |", "|---|" + "---:|" * (len(header) - 1)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def bold_unless_zero(value: int) -> str:
    return str(value) if value == 0 else f"**{value}**"


# --- the rows printed as each phase ends ----------------------------------------------------------

INTAKE_HEADER = [
    "setup", "rate limit", "c", "orders/s", "p50 ms", "p95 ms", "p99 ms", "non-2xx", "socket errors",
    "PG connections max", "CPU ms/order web + relay", "machine busy", "outbox wait p50 / p95 ms", "backlog at stop",
    "drain s",
]  # fmt: skip


def intake_row(r: dict) -> list:
    return [
        r["setup"],
        r["rate_limit"],
        r["concurrency"],
        f"{r['orders_per_s']:.0f}",
        f"{r['p50_ms']:.1f}",
        f"{r['p95_ms']:.1f}",
        f"{r['p99_ms']:.1f}",
        bold_unless_zero(r["non_2xx"]),
        bold_unless_zero(r["socket_errors"]),
        r["db_connections"],
        f"{r['web_cpu_ms']:.1f} + {r['relay_cpu_ms']:.1f}",
        f"{r['machine_busy']:.0%}",
        f"{r['wait_p50_ms']:.0f} / {r['wait_p95_ms']:.0f}",
        r["backlog"],
        f"{r['drain_s']:.1f}",
    ]


SLOTS_HEADER = [
    "capacity", "c", "orders/s", "p50 ms", "p95 ms", "p99 ms", "non-2xx", "socket errors", "CPU ms/order web + relay",
    "PG connections max", "waiting for a lock (mean sessions)", "machine busy", "orders", "item units",
    "reservations (units)", "slot_loads rows (units)", "fullest slot used / capacity",
]  # fmt: skip


def slots_row(r: dict) -> list:
    booked = f"{r['reserved_units']}" if not r["bookings_wrong"] else f"**{r['reserved_units']}**"
    return [
        r["capacity"],
        r["concurrency"],
        f"{r['orders_per_s']:.0f}",
        f"{r['p50_ms']:.1f}",
        f"{r['p95_ms']:.1f}",
        f"{r['p99_ms']:.1f}",
        bold_unless_zero(r["non_2xx"]),
        bold_unless_zero(r["socket_errors"]),
        f"{r['web_cpu_ms']:.1f} + {r['relay_cpu_ms']:.1f}",
        r["db_connections"],
        f"{r['lock_waiting']:.2f}",
        f"{r['machine_busy']:.0%}",
        r["orders"],
        r["item_units"],
        f"{r['reservations']} ({booked})",
        f"{r['loads']} ({r['load_units']})",
        f"{r['most_used']} / {r['capacity_per_slot']}" if r["loads"] else "–",
    ]


LOOP_HEADER = ["processes", "orders/s", "CPU ms/order (the loops)", "orders"]


def loop_row(r: dict) -> list:
    return [r["processes"], f"{r['orders_per_s']:.0f}", f"{r['cpu_ms']:.2f}", r["orders"]]


DRAIN_HEADER = ["side", "messages", "messages/s", "relay CPU ms/message", "s (relay up → last published)"]


def drain_row(r: dict) -> list:
    return [r["side"], r["messages"], f"{r['messages_per_s']:.0f}", f"{r['relay_cpu_ms']:.2f}", f"{r['span_s']:.1f}"]


PIPELINE_HEADER = [
    "side", "kitchen workers", "prefetch", "c", "intake orders/s", "non-2xx", "pipeline orders/s",
    "201 → cooking p50 / p95 ms", "kitchen CPU ms/order", "orders", "not ready", "not one row per status",
    "not ready at stop", "wait for ready s",
]  # fmt: skip


def pipeline_row(r: dict) -> list:
    return [
        r["side"],
        r["kitchen_workers"],
        r["prefetch"],
        r["concurrency"],
        f"{r['intake_per_s']:.0f}",
        bold_unless_zero(r["non_2xx"]),
        f"{r['pipeline_per_s']:.1f}",
        f"{r['cooking_p50_ms']:.0f} / {r['cooking_p95_ms']:.0f}",
        f"{r['kitchen_cpu_ms']:.1f}",
        r["orders"],
        bold_unless_zero(r["not_ready"]),
        bold_unless_zero(r["bad_log"]),
        r["backlog"],
        f"{r['drain_s']:.1f}",
    ]


DISPLAY_HEADER = ["screen", "tickets expected", "201 → ticket p50 / p95 / max ms", "missing"]


def display_rows(r: dict) -> list[list]:
    return [
        [
            name,
            s["expected"],
            f"{s['p50_ms']:.0f} / {s['p95_ms']:.0f} / {s['max_ms']:.0f}",
            bold_unless_zero(s["missing"]),
        ]
        for name, s in r["screens"].items()
    ]


def display_line(r: dict) -> str:
    return (
        f"{r['orders']} orders posted at {r['posted_per_s']:.1f}/s (asked {r['rate']:g}/s), "
        f"failed POSTs {r['failed']}, POST p50 / p95 {r['post_p50_ms']:.0f} / {r['post_p95_ms']:.0f} ms"
    )


# --- the summary ----------------------------------------------------------------------------------


def errors(r: dict | None) -> str:
    return "–" if r is None else f"{r['non_2xx']} + {r['socket_errors']}"


def pair(baseline, current, fmt: str = "{:.0f}") -> str:
    """'baseline / current' of two figures, '–' for a missing one."""
    return " / ".join("–" if value is None else fmt.format(value) for value in (baseline, current))


def ratio(current: float | None, baseline: float | None) -> str:
    return f"{current / baseline:.2f}" if current is not None and baseline else "–"


def find(results: list[dict], **match) -> dict | None:
    """The first result whose items include `match`."""
    return next((r for r in results if all(r[key] == value for key, value in match.items())), None)


def figure(result: dict | None, key: str):
    return None if result is None else result[key]


SLOTS_SUMMARY_HEADER = [
    "c", "orders/s off / on", "on ÷ off", "p50 ms off / on", "p95 ms off / on", "p99 ms off / on",
    "errors (non-2xx + socket) off / on", "CPU ms/order web off / on", "reservations on (units = item units)",
]  # fmt: skip


def slots_summary_rows(slots: list[dict]) -> list[list]:
    rows = []
    for c in dict.fromkeys(r["concurrency"] for r in slots):
        off, on = find(slots, capacity="off", concurrency=c), find(slots, capacity="on", concurrency=c)
        booked = "–" if on is None else f"{on['reservations']} ({on['reserved_units']} = {on['item_units']})"
        if on is not None and on["bookings_wrong"]:
            booked = f"**{booked}, wrong**"
        rows.append(
            [
                c,
                pair(figure(off, "orders_per_s"), figure(on, "orders_per_s")),
                ratio(figure(on, "orders_per_s"), figure(off, "orders_per_s")),
                pair(figure(off, "p50_ms"), figure(on, "p50_ms"), "{:.1f}"),
                pair(figure(off, "p95_ms"), figure(on, "p95_ms"), "{:.1f}"),
                pair(figure(off, "p99_ms"), figure(on, "p99_ms"), "{:.1f}"),
                f"{errors(off)} / {errors(on)}",
                pair(figure(off, "web_cpu_ms"), figure(on, "web_cpu_ms"), "{:.2f}"),
                booked,
            ]
        )
    return rows


def print_summary(args, sides: list[Side], intake, slots, loops, drains, pipelines, display) -> None:
    names = " vs ".join(f"{side.name} {side.label}" for side in sides)
    print(f"\n# Summary: {names}; {args.duration} s of load per phase")
    off = [r for r in intake if r["rate_limit"] == "off"]
    if off:
        rows = []
        for c in dict.fromkeys(r["concurrency"] for r in off):
            base, cur = find(off, side="baseline", concurrency=c), find(off, side="current", concurrency=c)
            rows.append(
                [
                    c,
                    pair(figure(base, "orders_per_s"), figure(cur, "orders_per_s")),
                    ratio(figure(cur, "orders_per_s"), figure(base, "orders_per_s")),
                    pair(figure(base, "p99_ms"), figure(cur, "p99_ms"), "{:.1f}"),
                    f"{errors(base)} / {errors(cur)}",
                    pair(figure(base, "db_connections"), figure(cur, "db_connections")),
                ]
            )
        header = ["c", "orders/s baseline / current", "current ÷ baseline", "p99 ms baseline / current"]
        header += ["errors (non-2xx + socket) baseline / current", "PG connections max baseline / current"]
        print(f"\nintake (rate limiting off):\n{table(header, rows)}")
    if slots:
        print(
            f"\nkitchen capacity slots (current code, menu orders; on = every station {SLOT_CAPACITY} units per slot):"
        )
        print(table(SLOTS_SUMMARY_HEADER, slots_summary_rows(slots)))
    if loops:
        rows = [[r["processes"], f"{r['orders_per_s']:.0f}", f"{r['cpu_ms']:.2f}"] for r in loops]
        print("\nplain Python loop (per order: psycopg transaction of order, item, status row + confirmed publish):")
        print(table(["processes", "orders/s", "CPU ms/order"], rows))
    on = [r for r in intake if r["rate_limit"] != "off"]
    if on:
        rows = []
        for r in on:
            base = find(off, side="current", concurrency=r["concurrency"])
            rows.append(
                [
                    r["concurrency"],
                    pair(base["orders_per_s"], r["orders_per_s"]),
                    ratio(r["orders_per_s"], base["orders_per_s"]),
                    pair(base["p99_ms"], r["p99_ms"], "{:.1f}"),
                    f"{errors(base)} / {errors(r)}",
                ]
            )
        header = ["c", "orders/s off / on", "on ÷ off", "p99 ms off / on", "errors off / on"]
        print(f"\nrate limit (current code; on = ORDERS_RATE_LIMIT={args.rate_limit}):\n{table(header, rows)}")
    if drains:
        rows = [[r["side"], f"{r['messages_per_s']:.0f}", f"{r['relay_cpu_ms']:.2f}"] for r in drains]
        base, cur = find(drains, side="baseline"), find(drains, side="current")
        change = ratio(figure(cur, "messages_per_s"), figure(base, "messages_per_s"))
        print(f"\nrelay drain ({args.drain_rows} outbox rows, one relay), current ÷ baseline {change}:")
        print(table(["side", "messages/s", "relay CPU ms/message"], rows))
    if pipelines:
        rows = [
            [r["side"], r["kitchen_workers"], f"{r['pipeline_per_s']:.1f}", r["not_ready"], r["bad_log"]]
            for r in pipelines
        ]
        print("\npipeline (COOKING_TIME_SCALE=0, POST → ready):")
        print(table(["side", "kitchen workers", "orders/s", "not ready", "not one row per status"], rows))
        for prefetch, workers in dict.fromkeys((r["prefetch"], r["kitchen_workers"]) for r in pipelines):
            base = find(pipelines, side="baseline", prefetch=prefetch, kitchen_workers=workers)
            cur = find(pipelines, side="current", prefetch=prefetch, kitchen_workers=workers)
            if base and cur:
                change = ratio(cur["pipeline_per_s"], base["pipeline_per_s"])
                print(f"  {workers} kitchen workers, prefetch {prefetch}: current ÷ baseline {change}")
    if display:
        print(f"\nkitchen display (current; {display_line(display)}):")
        print(table(DISPLAY_HEADER, display_rows(display)))


def print_soak(result: dict) -> None:
    first, last = result["samples"][0], result["samples"][-1]
    rows = []
    for name, start in first["rss_mib"].items():
        end = last["rss_mib"].get(name, 0.0)
        moved = "" if first["pids"][name] == last["pids"].get(name) else " (another pid at the end)"
        rows.append([name + moved, f"{start:.1f}", f"{end:.1f}", f"{100 * (end - start) / start:+.1f} %"])
    start, end = sum(first["rss_mib"].values()), sum(last["rss_mib"].values())
    rows.append(["all", f"{start:.1f}", f"{end:.1f}", f"{100 * (end - start) / start:+.1f} %"])
    figures = f"{result['orders_per_s']:.0f} orders/s, errors {result['errors']}"
    print(f"\nsoak: {figures}, orders not ready when the load stopped {result['not_ready_at_stop']}")
    print(table(["process", f"RSS MiB at {first['elapsed_s']:.0f} s", f"at {last['elapsed_s']:.0f} s", "change"], rows))


# --- main -----------------------------------------------------------------------------------------


def first_line(args: list[str]) -> str:
    try:
        result = subprocess.run(args, capture_output=True, text=True, timeout=60)
    except OSError:
        return "?"
    return (result.stdout or result.stderr).strip().splitlines()[0] if (result.stdout or result.stderr) else "?"


def machine() -> str:
    return f"{stack_machine()}, {first_line(['wrk', '-v']).split(' [')[0]}"


def int_list(value: str) -> list[int]:
    return [int(item) for item in value.split(",") if item]


def phase_list(value: str) -> list[str]:
    names = [name for name in value.split(",") if name]
    unknown = set(names) - set(PHASES)
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown phase {', '.join(sorted(unknown))}: choose from {', '.join(PHASES)}")
    return names


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add = parser.add_argument
    add("--baseline", metavar="REF", help="git ref to compare with, side by side (a worktree in /tmp)")
    add("--phases", type=phase_list, default=list(PHASES), help=f"which phases, of {','.join(PHASES)}")
    add("--skip", type=phase_list, default=[], help="phases to leave out")
    add("--duration", type=int, default=15, help="seconds of load per phase")
    add("--concurrency", type=int_list, default=[1, 10, 50, 200], help="wrk connections, intake phases")
    add("--timeout", type=float, default=2.0, help="seconds after which wrk counts an answer as a timeout")
    add("--server", choices=SERVERS, default="procfile", help="web server: each side's Procfile web line, or a setup")
    add("--workers", type=int, help="WEB_CONCURRENCY for both sides (default: each side's own), -w of a setup")
    add("--conn-max-age", type=int, help="CONN_MAX_AGE for both sides (default: each side's own)")
    add("--db-pool", type=int, help="DATABASE_POOL_SIZE for both sides (default: each side's own)")
    add("--log-level", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    add("--port", type=int, default=0, help="web port (default: a free one)")
    add("--matrix", action="store_true", help="intake phases of every serving setup of docs/benchmarks.md")
    add("--keep", action="store_true", help="keep the databases, the vhosts and the logs")
    add("--rate-limit", default="100000000/min", help="ORDERS_RATE_LIMIT of the rate-limit phases")
    add("--rate-limit-concurrency", type=int_list, default=[10, 50], help="wrk connections, rate-limit phases")
    add("--slots-concurrency", type=int_list, default=[50, 200], help="wrk connections, slots phases")
    add("--loop-processes", type=int_list, default=[1, 4], help="processes of the plain loop, in turn")
    add("--drain-rows", type=int, default=20000, help="outbox rows the relay drains")
    add("--workers-list", type=int_list, default=[2], help="kitchen workers, pipeline phases")
    add("--prefetch-list", type=int_list, default=[1], help="worker --prefetch, pipeline phases")
    add("--pipeline-concurrency", type=int, default=10, help="wrk connections, pipeline phases")
    add("--ticket-rate", type=float, default=50, help="orders/s, kitchen display phase")
    add("--soak", type=int, metavar="S", help="only the soak: the whole stack at full rate for S seconds")
    add("--soak-interval", type=int, default=60, help="seconds between two RSS samples of the soak")
    add("--soak-concurrency", type=int, default=10, help="wrk connections, soak")
    args = parser.parse_args()
    args.phases = [name for name in args.phases if name not in args.skip]
    if args.baseline and (args.matrix or args.soak):
        parser.error("--matrix and --soak run the current code only: no --baseline")
    if args.server == "daphne":
        args.workers = 1
    return args


def intake_runs(args, sides: list[Side]) -> list[tuple[Side, int, str]]:
    """(side, concurrency, ORDERS_RATE_LIMIT) of the intake phases in run order: per concurrency each
    side in turn, and the current code's rate-limit phase right after its phase with rate limiting off."""
    current = sides[-1]
    with_rate_limit = args.rate_limit_concurrency if "rate-limit" in args.phases else []
    runs = []
    for i, c in enumerate(args.concurrency if "intake" in args.phases else with_rate_limit):
        for side in interleaved(sides, i):
            if "intake" in args.phases or side is current:
                runs.append((side, c, "off"))
            if side is current and c in with_rate_limit:
                runs.append((side, c, args.rate_limit))
    return runs


def run_slots(args, current: Side) -> list[dict]:
    """The slots phases: per concurrency the stack with capacity slots off and the one with them on,
    in turn (off first at the first concurrency, on first at the next, …)."""
    results = []
    with ExitStack() as stacks:
        phase_of = {}  # capacity: its stack's phase, started when first needed
        for i, c in enumerate(args.slots_concurrency):
            for capacity in interleaved(list(CAPACITIES), i):
                heading(f"slots: {current.name}, c={c}, capacity slots {capacity}")
                if capacity not in phase_of:
                    phase_of[capacity] = stacks.enter_context(slots_stack(current, args, capacity))
                results.append(phase_of[capacity](c))
                print(table(SLOTS_HEADER, [slots_row(results[-1])]), flush=True)
    return results


def run_phases(args, sides: list[Side]) -> None:
    current = sides[-1]
    intake: list[dict] = []
    setups = MATRIX if args.matrix else [(args.server, args.workers, args.conn_max_age, args.db_pool)]
    for server, workers, conn_max_age, pool in setups:
        args.server, args.workers, args.conn_max_age, args.db_pool = server, workers, conn_max_age, pool
        setup = f"{server} -w {workers}, " + (f"pool {pool}" if pool else f"CONN_MAX_AGE={conn_max_age}")
        with ExitStack() as stacks:
            phase_of = {}  # (side, rate limit): its stack's intake phase, started when first needed
            for side, c, limit in intake_runs(args, sides):
                heading(
                    f"intake: {side.name}, c={c}, ORDERS_RATE_LIMIT={limit}" + (f", {setup}" if args.matrix else "")
                )
                if (side, limit) not in phase_of:
                    phase_of[side, limit] = stacks.enter_context(intake_stack(side, args, limit))
                result = phase_of[side, limit](c)
                result["setup"] = setup if args.matrix else side.name
                print(table(INTAKE_HEADER, [intake_row(result)]), flush=True)
                intake.append(result)
    slots = run_slots(args, current) if "slots" in args.phases else []
    loops = []
    for processes in args.loop_processes if "loop" in args.phases else []:
        heading(f"plain Python loop: {processes} process(es) on {current.name}'s tables")
        loops.append(run_loop(current, processes, args))
        print(table(LOOP_HEADER, [loop_row(loops[-1])]), flush=True)
    drains = []
    for side in sides if "drain" in args.phases else []:
        heading(f"relay drain: {side.name}, {args.drain_rows} outbox rows")
        drains.append(run_drain(side, args))
        print(table(DRAIN_HEADER, [drain_row(drains[-1])]), flush=True)
    pipelines = []
    runs = [(p, w) for p in args.prefetch_list for w in args.workers_list] if "pipeline" in args.phases else []
    for i, (prefetch, workers) in enumerate(runs):
        for side in interleaved(sides, i):
            heading(f"pipeline: {side.name}, {workers} × run_kitchen_worker --prefetch={prefetch}")
            pipelines.append(run_pipeline(side, workers, prefetch, args))
            print(table(PIPELINE_HEADER, [pipeline_row(pipelines[-1])]), flush=True)
    display = None
    if "display" in args.phases:
        heading(f"kitchen display: {current.name}, 201 → ticket at {args.ticket_rate:g} orders/s")
        display = run_display(current, args)
        print(display_line(display))
        print(table(DISPLAY_HEADER, display_rows(display)), flush=True)
    if intake:
        print(f"\n{table(INTAKE_HEADER, [intake_row(r) for r in intake])}")
    if slots:
        print(f"\n{table(SLOTS_HEADER, [slots_row(r) for r in slots])}")
    print_summary(args, sides, intake, slots, loops, drains, pipelines, display)


def main() -> int:
    args = parse_args()
    if shutil.which("wrk") is None:
        print("wrk is missing: apt-get install -y wrk (make bench installs it)", file=sys.stderr)
        return 2
    uvicorn_needed = args.matrix or args.server == "gunicorn-uvicorn"
    if uvicorn_needed and importlib.util.find_spec("uvicorn_worker") is None:
        print("gunicorn-uvicorn needs: .venv/bin/pip install uvicorn-worker 'uvicorn[standard]'", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so the cleanup runs
    with ExitStack() as cleanup:
        sides = [current_side()]
        if args.baseline:
            sides.insert(0, cleanup.enter_context(baseline_side(args.baseline)))
        if not args.keep:
            cleanup.callback(drop_runs, lambda pid: pid == os.getpid())
        print(f"machine: {machine()}")
        for side in sides:
            print(f"{side.name}: {side.label} ({side.root})")
        web = "each side's Procfile web line" if args.server == "procfile" else args.server
        print(f"load: wrk, {args.duration} s per phase, threads = min(2, c), timeout {args.timeout:g} s")
        workers = args.workers or "each side's own"
        print(f"LOG_LEVEL={args.log_level}; web: {web}; WEB_CONCURRENCY={workers}")
        drop_runs(lambda pid: not is_running(pid))  # what killed runs left
        for side in sides:
            prepare_template(side, args)
        if args.soak:
            heading(
                f"soak: {sides[-1].name}, {args.soak} s at c={args.soak_concurrency}, RSS every {args.soak_interval} s"
            )
            print_soak(run_soak(sides[-1], args))
        else:
            run_phases(args, sides)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # everything is stopped and removed by then
        print("\ninterrupted", file=sys.stderr)
        sys.exit(130)
