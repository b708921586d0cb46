"""What every long-running command shares: a stop flag set by signals, and capped back-off."""

import random
import signal
import time
from collections.abc import Callable


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


def sleep_unless_stopped(stop: StopFlag, seconds: float, *, tick: Callable[[float], None] | None = None) -> None:
    """Sleep up to `seconds`, waking early when `stop` is set. `tick(t)` may wait instead of sleeping
    (for example pika's `connection.sleep`, which keeps heartbeats flowing)."""
    deadline = time.monotonic() + seconds
    while not stop.is_set:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return
        (tick or time.sleep)(min(remaining, 0.25))
