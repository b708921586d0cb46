"""Helpers for tests that run the real commands against the real services: waiting on a condition,
the real commands as subprocesses, a TCP proxy to cut one process off a service, PostgreSQL outages;
the display's sockets in process (Channels' communicator); what a page hands its script (json_script);
a headless Chromium (its launch settings, and one to drive with Playwright), the ORM called off the
page's thread, and the customer board as a page shows it.

The AMQP helpers live in tests/amqp.py, the test data (orders, staff, the test menu) in
tests/factories.py, the shared fixtures in the conftest.py files. A test module imports helpers from
these, never from another test module (tests/test_architecture.py checks it)."""

import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import requests
from asgiref.sync import async_to_sync

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def wait_for(condition: Callable[[], Any], *, timeout: float = 10.0, interval: float = 0.05, message: str = "") -> Any:
    """Poll `condition` until it returns something truthy; fail with `message` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message or condition}")
        time.sleep(interval)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def order_payload(**overrides: Any) -> dict[str, Any]:
    """A valid takeout order; keyword arguments replace or add fields."""
    payload: dict[str, Any] = {
        "customer_name": "Jane Doe",
        "order_type": "takeout",
        "items": [{"name": "Margherita Pizza", "quantity": 1, "price": 15.99}],
    }
    payload.update(overrides)
    return payload


class ManagedProcess:
    """A real command run as a subprocess, its stdout (JSON log lines) collected for assertions."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.args = args
        self.log_path = log_dir / f"{name}.log"
        self._log = open(self.log_path, "w")  # noqa: SIM115 (closed in stop)
        self.proc = subprocess.Popen(
            args, cwd=REPO, env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def log_lines(self) -> list[dict[str, Any]]:
        lines = []
        for line in self.output().splitlines():
            if line.startswith("{"):
                try:
                    lines.append(json.loads(line))
                except ValueError:
                    pass
        return lines

    def actions(self, action: str) -> list[dict[str, Any]]:
        return [line for line in self.log_lines() if line.get("action") == action]

    def wait_for_action(self, action: str, *, count: int = 1, timeout: float = 20.0) -> list[dict[str, Any]]:
        def found():
            if self.proc.poll() is not None and len(self.actions(action)) < count:
                raise AssertionError(f"{self.name} exited {self.proc.returncode} before {action}:\n{self.output()}")
            lines = self.actions(action)
            return lines if len(lines) >= count else None

        return wait_for(found, timeout=timeout, message=f"{count}× {action} from {self.name}")

    def send(self, signum: int) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signum)

    def wait(self, timeout: float = 20.0) -> int:
        return self.proc.wait(timeout=timeout)

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM, then SIGKILL to the whole process group if it does not exit in time."""
        if self.proc.poll() is None:
            self.send(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        else:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)  # children of a server that died
            except ProcessLookupError:
                pass
        self._log.close()
        return self.proc.returncode


class TcpProxy:
    """A TCP proxy on a local port that a test can cut (close every connection, refuse new ones)
    and restore, to make a service unreachable for one process without stopping it for anyone else."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self._cut = threading.Event()
        self._closed = False
        self._conns: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._server: socket.socket | None = None
        self._open_listener()

    def _open_listener(self) -> None:
        server = socket.socket()
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", self.port))
        server.listen(64)
        self._server = server
        threading.Thread(target=self._accept_loop, args=(server,), daemon=True).start()

    def _accept_loop(self, server: socket.socket) -> None:
        while True:
            try:
                client, _ = server.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns.update((client, upstream))
            threading.Thread(target=self._pipe, args=(client, upstream), daemon=True).start()

    def _pipe(self, a: socket.socket, b: socket.socket) -> None:
        try:
            while True:
                readable, _, _ = select.select([a, b], [], [], 0.5)
                if self._cut.is_set():
                    break
                for sock in readable:
                    data = sock.recv(65536)
                    if not data:
                        raise OSError("closed")
                    (b if sock is a else a).sendall(data)
        except OSError:
            pass
        finally:
            for sock in (a, b):
                with self._lock:
                    self._conns.discard(sock)
                try:
                    sock.close()
                except OSError:
                    pass

    def cut(self) -> None:
        """Refuse new connections and drop the open ones (the port closes: connect is refused)."""
        self._cut.set()
        if self._server:
            # close() alone leaves the port listening while the accept thread is blocked in accept();
            # shutdown() wakes that thread, so the port really closes (and restore() can bind it again).
            try:
                self._server.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self._server.close()
            self._server = None
        with self._lock:
            conns = list(self._conns)
        for sock in conns:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def restore(self) -> None:
        if self._server is None and not self._closed:
            self._cut.clear()
            self._open_listener()

    def close(self) -> None:
        self.cut()
        self._closed = True


def admin_connection() -> psycopg.Connection:
    """A superuser connection to the maintenance database, for fault tests that act on a test database."""
    return psycopg.connect(dbname="postgres", host="127.0.0.1", user="postgres", autocommit=True, connect_timeout=5)


@contextmanager
def database_refusing_connections(dbname: str):
    """Make PostgreSQL refuse connections to `dbname` and drop the open ones; restore on exit, always."""
    with admin_connection() as admin:
        try:
            admin.execute(f'ALTER DATABASE "{dbname}" ALLOW_CONNECTIONS false')
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                [dbname],
            )
            yield
        finally:
            admin.execute(f'ALTER DATABASE "{dbname}" ALLOW_CONNECTIONS true')


@contextmanager
def database_outage(dbname: str):
    """`database_refusing_connections`, then this thread's Django connections (terminated by it) are
    closed, so the test's next query (and pytest-django's teardown) opens a fresh one."""
    from django.db import connections

    try:
        with database_refusing_connections(dbname):
            yield
    finally:
        connections.close_all()


def proxy_to(url: str, default_port: int = 5672) -> TcpProxy:
    """A TcpProxy to the host and port of a service URL."""
    parts = urlsplit(url)
    return TcpProxy(parts.hostname or "127.0.0.1", parts.port or default_port)


def url_through(url: str, proxy: TcpProxy) -> str:
    """`url` with its host and port replaced by the proxy's; credentials, path (vhost) and query kept."""
    parts = urlsplit(url)
    credentials, _, _ = parts.netloc.rpartition("@")
    netloc = f"127.0.0.1:{proxy.port}"
    return urlunsplit(parts._replace(netloc=f"{credentials}@{netloc}" if credentials else netloc))


def manage(*args: str) -> list[str]:
    return [PYTHON, "manage.py", *args]


def start_web(processes, name: str = "web", **env: str) -> str:
    """The web process of the Procfile on a free port; returns its base URL once it answers."""
    port = free_port()
    processes(name, [PYTHON, "-m", "restaurant.serve"], **{"PORT": str(port), "WEB_CONCURRENCY": "2", **env})
    url = f"http://127.0.0.1:{port}"

    def answers():
        try:
            return requests.get(f"{url}/health/live", timeout=1).status_code == 200
        except requests.RequestException:  # not listening yet, or its workers still booting
            return False

    wait_for(answers, timeout=30, interval=0.1, message=f"{name} to answer on {url}")
    return url


def handle_one(worker, timeout: float = 20) -> None:
    """Step an in-process KitchenWorker until a step has handled a delivery."""
    wait_for(worker.step, timeout=timeout, message="a step that handled a delivery")


# --- the display's sockets, in process ----------------------------------------------------------


def run(coroutine_function):
    """Run an async test body on a fresh event loop (as a display process serves its clients)."""
    return async_to_sync(coroutine_function)()


def session_headers(user) -> list[tuple[bytes, bytes]]:
    """What a browser on the site (http://localhost) sends: its Origin, the Host it asks for and,
    logged in (`user` not None), its session cookie."""
    from django.test import Client

    headers = [(b"origin", b"http://localhost"), (b"host", b"localhost")]
    if user is not None:
        client = Client()
        client.force_login(user)
        headers.append((b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode()))
    return headers


def kitchen_socket(headers: list[tuple[bytes, bytes]]):
    """A WebsocketCommunicator on the kitchen display's socket, sending `headers`."""
    from channels.testing import WebsocketCommunicator

    from restaurant.asgi import application

    return WebsocketCommunicator(application, "/ws/kitchen/", headers=headers)


async def connect(communicator) -> None:
    connected, _ = await communicator.connect(timeout=10)
    assert connected


# --- pages and a browser -------------------------------------------------------------------------


def page_data(response, element_id: str):
    """What a page hands its script through json_script under `element_id`."""
    match = re.search(rf'<script id="{element_id}" type="application/json">(.*?)</script>', response.text, re.DOTALL)
    assert match, f"no {element_id} in the page"
    return json.loads(match[1])


CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str | None:
    for candidate in ("chromium", "chromium-browser"):
        if found := shutil.which(candidate):
            return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


@contextmanager
def chromium():
    """A headless Chromium driven by Playwright (the test is skipped without Debian's `chromium`)."""
    import pytest
    from playwright.sync_api import sync_playwright

    executable = chromium_path()
    if executable is None:
        pytest.skip("no chromium executable found (apt-get install chromium; `make test` does it)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


BROWSER_PASSWORD = "browser-test-password"  # the staff a browser test logs in (tests/factories.py: staff_with_password)


def log_in(page, base: str, path: str, username: str, password: str = BROWSER_PASSWORD) -> None:
    """Log `username` in through the login form in a browser `page`, which then lands on `path`."""
    page.goto(f"{base}/admin/login/?next={path}")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("input[type=submit]")


def in_thread(function, **arguments):
    """`function(**arguments)` on a thread of its own: Django's ORM refuses to run on the thread
    whose Playwright event loop is running (the page's)."""
    from django.db import connection

    def call():
        try:
            return function(**arguments)
        finally:
            connection.close()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(call).result()


def board_number(number: str) -> str:
    """An order's number as the customer board shows it: its number of the day (ORD_20250101_042: 042)."""
    return number.rpartition("_")[2]


def open_board(browser, url: str, page_errors: list[str]):
    """The customer board at `url` in a page of its own, once its socket is up. `browser.new_page()`
    opens a browser context of its own too: no cookies of a logged-in page, the board is public."""
    from playwright.sync_api import expect

    board = browser.new_page(viewport={"width": 1920, "height": 1080})
    board.on("pageerror", lambda error: page_errors.append(str(error)))
    board.goto(url)
    expect(board.locator("#conn")).to_have_class("up", timeout=10_000)
    return board


def on_board(board, number: str, column: str):
    """The order's number in a customer board's column, `preparing` or `ready`."""
    return board.locator(f'#{column} .number[data-number="{number}"]')
