"""What every long-running command shares: a stop flag set by signals, capped back-off, and one way
to wait that keeps an AMQP connection's heartbeats flowing."""

import random
import signal
import time
from collections.abc import Callable
from typing import Any

from pika.exceptions import AMQPError


class StopFlag:
    """Set by SIGTERM/SIGINT. The handler only sets the flag; the command's loop notices it."""

    def __init__(self) -> None:
        self.is_set = False
        self.signal_name: str | None = None

    def install(self) -> "StopFlag":
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._handle)
        return self

    def _handle(self, signum, frame) -> None:
        self.is_set = True
        self.signal_name = signal.Signals(signum).name

    def set(self) -> None:
        self.is_set = True


class Backoff:
    """Capped exponential back-off with jitter: 0.5 s, 1 s, 2 s, … up to `cap`."""

    def __init__(self, *, initial: float = 0.5, cap: float = 10.0) -> None:
        self.initial = initial
        self.cap = cap
        self.failures = 0

    def next_delay(self) -> float:
        delay = min(self.cap, self.initial * 2**self.failures)
        self.failures += 1
        return delay * random.uniform(0.8, 1.0)

    def reset(self) -> None:
        self.failures = 0


# Short enough that a stop, a heartbeat or a DB heartbeat never waits long for its turn.
SLEEP_CHUNK = 0.25


def sleep(
    seconds: float,
    *,
    stop: StopFlag | None,
    amqp: Any = None,
    between: Callable[[], None] | None = None,
) -> None:
    """Wait `seconds`, returning early once `stop` is set (None: not interruptible, as a cook that
    must finish). With an open pika connection `amqp`, wait in its `sleep`, so its heartbeats (and
    consumer callbacks) are served meanwhile; if it breaks, wait on without it: its owner notices
    when it next uses it. `between` runs after every chunk (the worker's DB heartbeat)."""
    deadline = time.monotonic() + seconds
    while (remaining := deadline - time.monotonic()) > 0:
        if stop is not None and stop.is_set:
            return
        chunk = min(remaining, SLEEP_CHUNK)
        if amqp is not None and amqp.is_open:
            try:
                amqp.sleep(chunk)
            except (AMQPError, OSError):
                amqp = None
        else:
            time.sleep(chunk)
        if between is not None:
            between()
