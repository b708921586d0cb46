"""gunicorn settings of the bench's gunicorn setups (`scripts/bench.py --server gunicorn-*`), which
docs/benchmarks.md compares with the web process (restaurant/serve.py, granian).

Threaded workers (gthread, the web process's setup until granian) with HTTP keep-alive, unless the
command line says `-k`; gunicorn's own lines are JSON like everyone else's (SPEC §7).
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
