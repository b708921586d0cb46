"""The services of scripts/bench.py: the code under test (a side), its databases and vhosts, the
processes it starts and what is read from /proc and pg_stat_activity about them.

A side is one checkout: the current code (this repository) or the baseline (a git worktree of
another ref). Each side has a database and a vhost of its own; a template database migrated once
with the side's own code gives every phase a fresh copy in a fraction of a second.
"""

import os
import platform
import re
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import django
import psycopg
import requests
from psycopg import sql

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
BENCH_APP = "bench"  # application_name of the bench's own PostgreSQL sessions (not counted)
SAMPLE_ORDER = {
    "customer_name": "Jane Doe",
    "order_type": "takeout",
    "items": [{"name": "Margherita Pizza", "quantity": 1, "price": 15.99}],
}


# --- sides: the current code and the baseline ---------------------------------------------------


def git(*args: str, cwd: Path = REPO) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout.strip()


# The databases and vhosts of a run: restaurant_bench_<pid of the bench>_<side>[_<variant>] (the
# side's template, a stack with rate limiting on): other benches may run on the machine at once.
NAME_PATTERN = re.compile(r"restaurant_bench_(\d+)_(current|baseline)(_[a-z]+)?")


@dataclass(frozen=True)
class Side:
    """A checkout whose processes the bench starts (cwd = `root`), with its own database and vhost."""

    name: str  # "current" or "baseline"
    root: Path
    label: str  # what `git describe` says of it
    run_id: int = field(default_factory=os.getpid)

    def db(self, variant: str = "") -> str:
        """The name of the side's database and vhost (`variant`: of a second stack of the side)."""
        return f"restaurant_bench_{self.run_id}_{self.name}" + (f"_{variant}" if variant else "")

    @property
    def template(self) -> str:
        return self.db("template")


def current_side() -> Side:
    return Side("current", REPO, git("describe", "--always", "--dirty"))


@contextmanager
def baseline_side(ref: str) -> Iterator[Side]:
    """A detached worktree of `ref` in /tmp, removed on the way out (errors and Ctrl-C included)."""
    sha = git("rev-parse", "--verify", f"{ref}^{{commit}}")
    root = Path(tempfile.gettempdir()) / f"bench-baseline-{sha[:12]}"
    if root.exists():  # left over by a run that was killed
        subprocess.run(["git", "worktree", "remove", "--force", str(root)], cwd=REPO, capture_output=True)
        shutil.rmtree(root, ignore_errors=True)
    git("worktree", "add", "--detach", str(root), sha)
    try:
        yield Side("baseline", root, f"{ref} = {git('describe', '--always', cwd=root)}")
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(root)], cwd=REPO, capture_output=True)
        git("worktree", "prune")


# --- databases and vhosts ---------------------------------------------------------------------


def connect(dbname: str) -> psycopg.Connection:
    """A session of the bench itself (autocommit), left out of the connection counts."""
    return psycopg.connect(dbname=dbname, autocommit=True, application_name=BENCH_APP)


def drop_database(name: str) -> None:
    with connect("postgres") as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def create_database(name: str, template: str | None = None) -> None:
    drop_database(name)
    statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
    if template:
        statement += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
    with connect("postgres") as admin:
        admin.execute(statement)


def rabbitmqctl(*args: str, check: bool = True) -> str:
    result = subprocess.run(["rabbitmqctl", *args], capture_output=True, text=True, timeout=120)
    if check and result.returncode != 0:
        raise RuntimeError(f"rabbitmqctl {' '.join(args)} failed: {result.stderr or result.stdout}")
    return result.stdout


def create_vhost(name: str) -> None:
    rabbitmqctl("add_vhost", name)
    rabbitmqctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")


def amqp_url(vhost: str) -> str:
    return f"amqp://guest:guest@127.0.0.1:5672/{vhost}"


def base_env(args, name: str) -> dict[str, str]:
    """The environment of every process of a side: database and vhost `name`, DEBUG off, a fresh
    SECRET_KEY, rate limits off. CONN_MAX_AGE, DATABASE_POOL_SIZE and WEB_CONCURRENCY only when
    asked: otherwise each side runs with its own defaults."""
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
        LOG_LEVEL=args.log_level,
        DATABASE_URL=f"postgres:///{name}",
        RABBITMQ_URL=amqp_url(name),
    )
    for name, value in (
        ("CONN_MAX_AGE", args.conn_max_age),
        ("DATABASE_POOL_SIZE", args.db_pool),
        ("WEB_CONCURRENCY", args.workers),
    ):
        if value is not None:
            env[name] = str(value)
    return env


def manage(side: Side, env: dict[str, str], *command: str) -> None:
    """`manage.py <command>` of `side`; its output in the exception when it fails."""
    args = [sys.executable, "manage.py", *command]
    result = subprocess.run(args, cwd=side.root, env=env, capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        raise RuntimeError(f"{side.name}: manage.py {' '.join(command)} failed:\n{result.stdout}{result.stderr}")


def prepare_template(side: Side, args) -> None:
    """The side's template database, migrated by its own code (and the cache table its rate limits
    use, when its settings keep one in the database)."""
    create_database(side.template)
    env = base_env(args, side.template)
    manage(side, env, "migrate", "--no-input")
    manage(side, env, "createcachetable")


def is_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def drop_runs(of_run) -> None:
    """The databases and vhosts of the runs whose pid `of_run(pid)` is true for: this one at the end,
    killed ones (`not is_running`) at the start."""
    with connect("postgres") as admin:
        databases = [name for (name,) in admin.execute("SELECT datname FROM pg_database")]
    for name in databases:
        match = NAME_PATTERN.fullmatch(name)
        if match and of_run(int(match[1])):
            drop_database(name)
    for name in rabbitmqctl("list_vhosts", "--quiet", "--no-table-headers", check=False).split():
        match = NAME_PATTERN.fullmatch(name)
        if match and of_run(int(match[1])):
            rabbitmqctl("delete_vhost", name, check=False)


# --- processes --------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Process:
    """A command in its own process group (so its pid is the group's id), cwd `cwd`, its output in
    a file of `log_dir`."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log_dir: Path, cwd: Path) -> None:
        self.name = name
        self.args = args
        self.log_path = log_dir / f"{name}.log"
        self.log = open(self.log_path, "w")  # noqa: SIM115 (closed in stop)
        self.proc = subprocess.Popen(
            args, cwd=cwd, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def check_alive(self) -> None:
        if self.proc.poll() is not None:
            raise RuntimeError(f"{self.name} exited with {self.proc.returncode}, see {self.log_path}")

    def terminate(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)

    def stop(self, deadline: float) -> None:
        """After `terminate`: wait until the monotonic `deadline`, then SIGKILL to the whole group
        (workers of a server included)."""
        try:
            self.proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=10)
        self.log.close()

    def first_log_time(self) -> float | None:
        """The time (epoch seconds) of the process's first JSON log line, None before it has one."""
        for line in self.log_path.read_text().splitlines():
            if line.startswith("{") and '"timestamp"' in line:
                stamp = line.split('"timestamp"', 1)[1].split('"')[1]
                return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
        return None

    def wait_for_log(self, action: str, timeout: float = 60.0) -> None:
        """Until the process has logged `action` (a JSON log line's "action")."""
        deadline = time.monotonic() + timeout
        while f'"{action}"' not in self.log_path.read_text():
            self.check_alive()
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} did not log {action} within {timeout:.0f}s, see {self.log_path}")
            time.sleep(0.1)


def procfile_command(side: Side, name: str, port: int) -> tuple[list[str], dict[str, str]]:
    """The `name:` line of the side's Procfile with $PORT filled in, programs taken from this
    virtualenv; and the variables of a leading `env A=B` (the display's DATABASE_POOL_SIZE)."""
    lines = (side.root / "Procfile").read_text().splitlines()
    line = next((line.split(":", 1)[1] for line in lines if line.startswith(f"{name}:")), None)
    if line is None:
        raise RuntimeError(f"{side.name}: no {name}: line in {side.root / 'Procfile'}")
    words = shlex.split(line.replace("$PORT", str(port)))
    extra = {}
    if words[0] == "env":
        words.pop(0)
        while "=" in words[0]:
            key, value = words.pop(0).split("=", 1)
            extra[key] = value
    program = words[0]
    if program == "python":
        program = sys.executable
    elif (BIN / program).exists():
        program = str(BIN / program)
    return [program, *words[1:]], extra


def server_command(server: str, workers: int, port: int) -> list[str]:
    """The serving setups of docs/benchmarks.md's matrix (`procfile` is procfile_command)."""
    if server == "daphne":
        return [str(BIN / "daphne"), "-b", "127.0.0.1", "-p", str(port), "restaurant.asgi:application"]
    config = str(REPO / "scripts" / "gunicorn.conf.py")
    gunicorn = [str(BIN / "gunicorn"), "--config", config, "-w", str(workers), "-b", f"127.0.0.1:{port}"]
    if server == "gunicorn-sync":
        return [*gunicorn, "-k", "sync", "restaurant.wsgi:application"]
    if server == "gunicorn-gthread":
        return [*gunicorn, "-k", "gthread", "restaurant.wsgi:application"]
    if server == "gunicorn-uvicorn":
        return [*gunicorn, "-k", "uvicorn_worker.UvicornWorker", "restaurant.asgi:application"]
    raise ValueError(server)


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


class Run:
    """One phase of one side: a fresh database and vhost (made by `fresh_run`), the processes the
    phase starts (stopped at the end) and their logs (kept when the phase went wrong)."""

    def __init__(self, side: Side, args, name: str, log_dir: Path, env: dict[str, str]) -> None:
        self.side = side
        self.args = args
        self.db = self.vhost = name
        self.log_dir = log_dir
        self.env = env
        self.started: list[Process] = []
        self.failed = False  # set by a phase whose figures show something wrong: the logs are kept

    def start(self, name: str, command: list[str], **extra_env: str) -> Process:
        process = Process(name, command, {**self.env, **extra_env}, self.log_dir, self.side.root)
        self.started.append(process)
        return process

    def start_relay(self) -> Process:
        return self.start("relay", [sys.executable, "manage.py", "run_outbox_relay"])

    def start_kitchen_worker(self, i: int, prefetch: int) -> Process:
        command = ["run_kitchen_worker", f"--worker-name=bench_chef_{i}", f"--prefetch={prefetch}"]
        return self.start(f"bench_chef_{i}", [sys.executable, "manage.py", *command])

    def start_web(self, sample: dict = SAMPLE_ORDER) -> tuple[str, Process]:
        """The web server (the side's Procfile `web:` line, or a --server of the matrix), up and
        answering one POST /orders of `sample` with 201; its URL and process."""
        port = self.args.port or free_port()
        if self.args.server == "procfile":
            command, extra = procfile_command(self.side, "web", port)
        else:
            command, extra = server_command(self.args.server, self.args.workers or 3, port), {}
        web = self.start("web", command, PORT=str(port), **extra)
        url = f"http://127.0.0.1:{port}"
        wait_until_ready(url, web)
        answer = requests.post(f"{url}/orders", json=sample, timeout=10)
        if answer.status_code != 201:
            raise RuntimeError(f"{self.side.name}: POST /orders answered {answer.status_code}: {answer.text[:500]}")
        return url, web

    def start_display(self) -> tuple[str, Process]:
        """The kitchen display process of the side's Procfile (`display:`), answering /health/ready."""
        port = free_port()
        command, extra = procfile_command(self.side, "display", port)
        display = self.start("display", command, PORT=str(port), **extra)
        url = f"http://127.0.0.1:{port}"
        wait_until_ready(url, display)
        return url, display

    @property
    def amqp_url(self) -> str:
        return amqp_url(self.vhost)

    def check_alive(self) -> None:
        for process in self.started:
            process.check_alive()


@contextmanager
def fresh_run(side: Side, args, variant: str = "", **env: str) -> Iterator[Run]:
    """A fresh copy of the side's template database and a fresh vhost (`side.db(variant)`) for one
    phase; at the end (errors and Ctrl-C included) every process stopped, the vhost deleted and the
    database dropped (unless --keep), and the logs removed unless something went wrong."""
    name = side.db(variant)
    create_database(name, template=side.template)
    if args.keep:  # the previous phase left it (otherwise it deleted it)
        rabbitmqctl("delete_vhost", name, check=False)
    create_vhost(name)
    log_dir = Path(tempfile.mkdtemp(prefix=f"restaurant-bench-{side.name}-"))
    run = Run(side, args, name, log_dir, {**base_env(args, name), **env})
    ok = False
    try:
        yield run
        ok = not run.failed
    finally:
        for process in run.started:
            process.terminate()
        deadline = time.monotonic() + 15
        for process in run.started:
            process.stop(deadline)
        if not args.keep:
            rabbitmqctl("delete_vhost", name, check=False)
            drop_database(name)
        if ok and not args.keep:
            shutil.rmtree(log_dir, ignore_errors=True)
        else:
            print(f"logs kept in {log_dir}", file=sys.stderr)


# --- what is read about the processes and the machine ----------------------------------------------


def machine() -> str:
    """The machine and the services, as docs/benchmarks.md names them."""
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = next((line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if line.startswith("model name")), "?")
    meminfo = Path("/proc/meminfo").read_text().split()
    ram_gib = int(meminfo[meminfo.index("MemTotal:") + 1]) / 1024**2
    with connect("postgres") as admin:
        postgres = admin.execute("SHOW server_version").fetchone()[0]
    rabbitmq = rabbitmqctl("version", check=False).strip() or "?"
    return (
        f"nproc {os.cpu_count()}, {model}, {ram_gib:.0f} GiB RAM; PostgreSQL {postgres}, RabbitMQ {rabbitmq}, "
        f"Python {platform.python_version()}, Django {django.get_version()}"
    )


def group_pids(pgid: int) -> list[int]:
    """The processes of the group `pgid` (a server and its workers), sorted by pid."""
    pids = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                fields = Path(entry.path, "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue  # gone meanwhile
            if int(fields[2]) == pgid:
                pids.append(int(entry.name))
    return sorted(pids)


def cpu_seconds(pgid: int) -> float:
    """CPU time of every process in the group `pgid`, reaped children included."""
    ticks = 0
    for pid in group_pids(pgid):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += sum(int(value) for value in fields[11:15])  # utime, stime, cutime, cstime
    return ticks / os.sysconf("SC_CLK_TCK")


def rss_mib(pid: int) -> float:
    """Resident memory of one process (0 when it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def machine_ticks() -> tuple[int, int]:
    """(busy, total) CPU ticks of the whole machine since boot."""
    values = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle, iowait
    return sum(values) - idle, sum(values)


class ConnectionSampler:
    """The most PostgreSQL sessions seen on `dbname` (the bench's own left out) while in the `with`
    block, from pg_stat_activity every 100 ms; and how many of them waited for a lock, on average
    over the samples (`lock_waiting`: a hot row shows here)."""

    def __init__(self, dbname: str) -> None:
        self.dbname = dbname
        self.most = 0
        self.samples = self.waiting = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        query = """
            SELECT count(*), count(*) FILTER (WHERE wait_event_type = 'Lock')
            FROM pg_stat_activity WHERE datname = %s AND application_name <> %s
        """
        with connect("postgres") as db:
            while not self._stop.is_set():
                sessions, waiting = db.execute(query, [self.dbname, BENCH_APP]).fetchone()
                self.most = max(self.most, sessions)
                self.samples, self.waiting = self.samples + 1, self.waiting + waiting
                self._stop.wait(0.1)

    @property
    def lock_waiting(self) -> float:
        return self.waiting / max(self.samples, 1)

    def __enter__(self) -> "ConnectionSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile of sorted `values` (0 if empty)."""
    if not values:
        return 0.0
    return values[max(0, min(len(values) - 1, round(p / 100 * len(values)) - 1))]
