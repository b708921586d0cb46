"""`make run`'s process supervisor: every line of a Procfile, each restarted when it exits.

`python -m restaurant.supervise [-f Procfile] [-p 8000] [--skip 'worker_*'] [--stop-timeout 30]`

honcho (which `make run` used before) stops the whole stack when one process exits and kills what is
left 5 s after Ctrl-C, so a kitchen worker's order in hand was left `cooking`. Here a process that
exits (a crash, a `kill -9`) is started again after a capped back-off (1 s, 2 s, 4 s … 30 s; back to
1 s once it ran a minute) with a `process_exited` log line, and the others keep running. SIGTERM or
SIGINT (Ctrl-C) is passed to every process (each runs in a process group of its own, so Ctrl-C at a
terminal reaches them once, through us), and each gets `--stop-timeout` seconds to finish its own
shutdown (a worker finishes the order in hand) before it is killed.

Ports as honcho gives them: the Procfile's n-th line (from 0) gets `PORT` = base port + 100 × n, so
the display (the sixth line) serves on base + 500 even when lines are skipped. Each output line is
prefixed with its process's name. In production, systemd runs each process instead (deploy/systemd/).
"""

import argparse
import fnmatch
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO

from honcho.environ import parse_procfile

from restaurant.lifecycle import Backoff, StopFlag
from restaurant.logging import FORMATTERS, service_logger

log = service_logger("supervise")
RESTART_INITIAL = 1.0
RESTART_CAP = 30.0
STABLE_AFTER = 60.0  # a process that ran this long crashed afresh: its back-off starts over
POLL = 0.1


class Output:
    """Every process's lines on our stdout, prefixed with its name, one whole line at a time."""

    def __init__(self, width: int) -> None:
        self.width = width
        self.lock = threading.Lock()

    def write(self, name: str, line: str) -> None:
        with self.lock:
            sys.stdout.write(f"{name:<{self.width}} | {line.rstrip()}\n")
            sys.stdout.flush()

    def follow(self, name: str, stream: IO[str]) -> None:
        for line in stream:
            self.write(name, line)


class OutputHandler(logging.StreamHandler):
    """Our own log lines, through the same prefix as the processes' lines."""

    def __init__(self, output: Output) -> None:
        super().__init__()
        self.output = output

    def emit(self, record: logging.LogRecord) -> None:
        self.output.write("supervise", self.format(record))


class Child:
    def __init__(self, name: str, command: str, port: int, output: Output) -> None:
        self.name = name
        self.command = command
        self.port = port
        self.output = output
        self.proc: subprocess.Popen | None = None
        self.reader: threading.Thread | None = None
        self.started_at = 0.0
        self.restart_at = 0.0
        self.backoff = Backoff(initial=RESTART_INITIAL, cap=RESTART_CAP)

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["/bin/sh", "-c", shell_line(self.command)],
            env={**os.environ, "PORT": str(self.port), "PYTHONUNBUFFERED": "1"},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            start_new_session=True,  # its own group: a signal reaches its children too, and Ctrl-C only via us
        )
        self.started_at = time.monotonic()
        self.reader = threading.Thread(target=self.output.follow, args=(self.name, self.proc.stdout), daemon=True)
        self.reader.start()
        log.info("process_started", f"{self.name} started", details={"process": self.name, "pid": self.proc.pid})

    def check(self, now: float) -> None:
        """Start the process when due; notice that it exited and schedule its restart."""
        if self.proc is None:
            if now >= self.restart_at:
                self.start()
            return
        code = self.proc.poll()
        if code is None:
            return
        self.signal(signal.SIGKILL)  # whatever it left in its group, before another copy starts
        ran = now - self.started_at
        if ran >= STABLE_AFTER:
            self.backoff.reset()
        delay = self.backoff.next_delay()
        self.proc, self.restart_at = None, now + delay
        log.info(
            "process_exited",
            f"{self.name} exited with code {code} after {ran:.1f}s; restarting in {delay:.1f}s",
            details={
                "process": self.name,
                "exit_code": code,
                "ran_seconds": round(ran, 1),
                "restart_in": round(delay, 1),
            },
        )

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def signal(self, signum: int) -> None:
        """To its whole group: what its shell or server started too."""
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, signum)
            except ProcessLookupError:
                pass


def shell_line(command: str) -> str:
    """A one-command line is exec'd, so that the process we wait for is the command itself (a shell
    waiting for it would die at SIGTERM while the command still finishes its shutdown)."""
    return command if any(char in command for char in ";&|<>()`\n") else f"exec {command}"


def children_of(procfile: Path, base_port: int, skip: list[str], output: Output) -> list[Child]:
    processes = parse_procfile(procfile.read_text()).processes
    return [
        Child(name, command, base_port + 100 * index, output)
        for index, (name, command) in enumerate(processes.items())
        if not any(fnmatch.fnmatchcase(name, pattern) for pattern in skip)
    ]


def supervise(children: list[Child], stop: StopFlag, stop_timeout: float) -> int:
    while not stop.is_set:
        now = time.monotonic()
        for child in children:
            child.check(now)
        time.sleep(POLL)
    return shut_down(children, stop, stop_timeout)


def shut_down(children: list[Child], stop: StopFlag, stop_timeout: float) -> int:
    """SIGTERM to every process, then wait for each up to `stop_timeout` s before killing it."""
    running = [child for child in children if child.running]
    log.info(
        "stopping",
        f"{stop.signal_name or 'stop'}: stopping {len(running)} processes (up to {stop_timeout:g}s each to finish)",
        details={"processes": [child.name for child in running]},
    )
    for child in running:
        child.signal(signal.SIGTERM)
    deadline = time.monotonic() + stop_timeout
    while any(child.running for child in running) and time.monotonic() < deadline:
        time.sleep(POLL)
    killed = [child.name for child in running if child.running]
    for child in running:
        child.signal(signal.SIGKILL)  # and whatever a process that exited left in its group
    for child in running:
        child.proc.wait()
        child.reader.join(timeout=2)  # its last lines (its goodbye) are printed before ours
    if killed:
        log.info("processes_killed", f"Killed after {stop_timeout:g}s: {', '.join(killed)}", details={"killed": killed})
    log.info("stopped", "Every process stopped")
    return 1 if killed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-f", "--procfile", type=Path, default=Path("Procfile"))
    parser.add_argument("-p", "--port", type=int, default=int(os.environ.get("PORT", "8000")), help="base port")
    parser.add_argument("--skip", action="append", default=[], help="a process name (or glob) not to start")
    parser.add_argument(
        "--stop-timeout",
        type=float,
        default=float(os.environ.get("STOP_TIMEOUT", "30")),
        help="seconds each process gets to finish after SIGTERM (STOP_TIMEOUT; default 30)",
    )
    args = parser.parse_args(argv)
    skip = [pattern for value in args.skip for pattern in value.split(",") if pattern.strip()]

    output = Output(width=0)
    children = children_of(args.procfile, args.port, skip, output)
    output.width = max([len("supervise"), *(len(child.name) for child in children)])
    handler = OutputHandler(output)
    log_format = os.environ.get("LOG_FORMAT", "json").strip().lower()
    handler.setFormatter(FORMATTERS[log_format]() if log_format in FORMATTERS else FORMATTERS["json"]())
    logger = logging.getLogger("restaurant.supervise")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False

    stop = StopFlag().install()
    return supervise(children, stop, args.stop_timeout)


if __name__ == "__main__":
    sys.exit(main())
