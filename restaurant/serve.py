"""The web process (Procfile `web:`): granian serving restaurant.wsgi (the HTTP API, health, admin).

`python -m restaurant.serve`, on $BIND_ADDRESS:$PORT (127.0.0.1 unless set). granian parses HTTP and
keeps connections alive in Rust and hands each request to one of a worker's threads, which run
Django; each thread keeps one database connection, so the number of connections is fixed
(WEB_CONCURRENCY × WEB_THREADS) whatever the load. Why granian and not gunicorn's threaded workers: docs/benchmarks.md.
"""

import os

from granian import Granian
from granian.constants import Interfaces
from granian.http import HTTP1Settings

from restaurant.logging import formatter_path

# granian's own lines (start, stop, a worker that died) are JSON like everyone else's (SPEC §7), or
# text with LOG_FORMAT=console; no access log: POST /orders logs order_received / validation_failed
# with its request ID.
LOGGING = {
    "formatters": {"lines": {"()": formatter_path(os.environ.get("LOG_FORMAT", "json").strip().lower())}},
    "handlers": {"stdout": {"class": "logging.StreamHandler", "stream": "ext://sys.stdout", "formatter": "lines"}},
    "loggers": {"_granian": {"handlers": ["stdout"], "level": "INFO", "propagate": False}},
}


def server() -> Granian:
    return Granian(
        "restaurant.wsgi:application",
        interface=Interfaces.WSGI,
        address=os.environ.get("BIND_ADDRESS") or "127.0.0.1",
        port=int(os.environ.get("PORT", "8000")),
        workers=int(os.environ.get("WEB_CONCURRENCY", "2")),
        blocking_threads=int(os.environ.get("WEB_THREADS", "4")),
        # A thread (and its database connection) idle this long is let go (600 s is granian's most).
        blocking_threads_idle_timeout=600,
        websockets=False,  # the display process (daphne) serves the kitchen's sockets
        http1_settings=HTTP1Settings(keep_alive=True),
        log_dictconfig=LOGGING,
        log_access=False,
        respawn_failed_workers=True,
        workers_kill_timeout=10,  # on SIGTERM, seconds a worker gets to finish its requests
    )


if __name__ == "__main__":
    server().serve()
