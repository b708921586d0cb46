"""gunicorn settings for the web process (Procfile): the HTTP API, health and admin.

Threaded workers (gthread) with HTTP keep-alive: a client that sends many orders keeps its
connection instead of paying an accept and a close per order, and each thread keeps one database
connection, so the number of connections is fixed (workers × threads) whatever the load
(docs/benchmarks.md). gunicorn's own lines are JSON like everyone else's (SPEC §7).
"""

import os

bind = f"127.0.0.1:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "3"))
worker_class = "gthread"
threads = int(os.environ.get("WEB_THREADS", "4"))
keepalive = 5  # seconds an idle keep-alive connection stays open
timeout = 30
graceful_timeout = 10
# Several web processes may run side by side (tests, two instances): no shared control socket.
control_socket_disable = True
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "restaurant.logging.JSONFormatter"}},
    "handlers": {"stdout": {"class": "logging.StreamHandler", "stream": "ext://sys.stdout", "formatter": "json"}},
    "root": {"handlers": ["stdout"], "level": "INFO"},
    "loggers": {
        "gunicorn.error": {"handlers": ["stdout"], "level": "INFO", "propagate": False},
        # No access log: POST /orders logs order_received / validation_failed with its request ID.
        "gunicorn.access": {"handlers": ["stdout"], "level": "WARNING", "propagate": False},
    },
}
