"""Test settings: the real settings, pointed at a database and a RabbitMQ vhost of this run only.

Nothing here replaces PostgreSQL or RabbitMQ: the run (each pytest-xdist worker of it) gets its own
`test_restaurant_<run>` database (made by pytest-django) and its own vhost (made in tests/conftest.py),
so a running copy of the app and the tests never share tables or messages.
"""

import os
import time

# The pytest process's pid and start time. Under pytest-xdist the controller sets it and its workers
# inherit it, each adding its own name (gw0, gw1, ...): one vhost and one database per worker, all
# named after the live pid of the run (tests/conftest.py drops only those of runs that are gone).
RUN_ID = os.environ.setdefault("TEST_RUN_ID", f"{os.getpid()}_{int(time.time())}")
XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
RUN_NAME = f"{RUN_ID}_{XDIST_WORKER}" if XDIST_WORKER else RUN_ID
RABBITMQ_HOST = os.environ.get("TEST_RABBITMQ_HOST", "127.0.0.1:5672")
TEST_VHOST = f"restaurant_test_{RUN_NAME}"

os.environ.setdefault("SECRET_KEY", "tests-only-secret-key-not-for-production")
os.environ["RABBITMQ_URL"] = f"amqp://guest:guest@{RABBITMQ_HOST}/{TEST_VHOST}"
os.environ["TEST_DATABASE_NAME"] = f"test_restaurant_{RUN_NAME}"
os.environ.setdefault("COOKING_TIME_SCALE", "0.05")
os.environ.setdefault("ORDERS_RATE_LIMIT", "off")
os.environ.setdefault("TRACKING_RATE_LIMIT", "off")
os.environ.setdefault("OUTBOX_POLL_INTERVAL", "2")
# The commands the tests start write JSON lines, which the tests read, whatever a developer's shell
# or .env says (LOG_FORMAT=console is for `make run`).
os.environ["LOG_FORMAT"] = "json"

from restaurant.settings import *  # noqa: E402, F403

# The test process itself takes a plain connection per test (no pool): a reused one could be a
# backend that a fault test terminated. The commands it starts use the real settings, pool included.
DATABASES["default"]["OPTIONS"].pop("pool", None)  # noqa: F405
DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405
