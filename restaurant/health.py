"""GET /health (database and broker), /health/live (the process answers), /health/ready (it can take orders)."""

import threading
import time

from django.db import connection
from django.http import JsonResponse
from django.utils import timezone

from restaurant import broker
from restaurant.models import OutboxMessage


def _check_database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return "ok"
    except Exception as exc:  # any failure is the answer, not a crash
        connection.close()
        return f"error: {type(exc).__name__}"


class BrokerCheck:
    """The broker's health, on one AMQP connection per process kept open between checks: a new
    connection per call is a TCP and AMQP handshake for the broker each time, which a flood of anonymous
    /health calls would turn into a flood of connections. A check reads what the broker sent on it (a
    closed or cut connection raises there), and only when it is gone opens a new one, so an outage
    shows at the next call. After a failure the answer stands for FAILURE_HOLD seconds, and a call
    made while another thread checks gets the last answer: a flood of calls while the broker hangs
    ties up no thread waiting on it."""

    FAILURE_HOLD = 2.0
    # A connection left idle longer is let go before its heartbeats lapse (nothing services them between
    # checks), so a quiet process holds none and the broker logs no missed heartbeat.
    MAX_IDLE = 30.0

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._connection = None
        self._last: str | None = None
        self._failed_at: float | None = None
        self._checked_at = 0.0

    def __call__(self) -> str:
        if not self._lock.acquire(blocking=self._last is None):
            return self._last  # another thread is checking right now
        try:
            if self._failed_at is None or time.monotonic() - self._failed_at >= self.FAILURE_HOLD:
                self._last = self._check()
                self._failed_at = None if self._last == "ok" else time.monotonic()
            return self._last
        finally:
            self._lock.release()

    def _check(self) -> str:
        now = time.monotonic()
        if now - self._checked_at > self.MAX_IDLE:
            self._drop()
        self._checked_at = now
        try:
            if self._connection is not None and self._connection.is_open:
                try:
                    self._connection.process_data_events(time_limit=0)
                    return "ok"
                except Exception:  # gone since the last check: a new connection says whether the broker is
                    self._drop()
            self._connection = broker.connect(client_name="health-check")
            return "ok"
        except Exception as exc:
            self._drop()
            return f"error: {type(exc).__name__}"

    def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None and connection.is_open:
            try:
                connection.close()
            except Exception:  # closing what is already broken
                pass


_check_broker = BrokerCheck()


def _outbox_backlog() -> dict:
    pending = OutboxMessage.objects.filter(published_at__isnull=True)
    oldest = pending.order_by("id").values_list("created_at", flat=True).first()
    age = (timezone.now() - oldest).total_seconds() if oldest else 0.0
    return {"pending": pending.count(), "oldest_pending_seconds": round(age, 3)}


def health(request):
    checks = {"database": _check_database(), "broker": _check_broker()}
    healthy = all(value == "ok" for value in checks.values())
    body = {"status": "ok" if healthy else "unavailable", "checks": checks}
    if checks["database"] == "ok":
        body["outbox"] = _outbox_backlog()
    return JsonResponse(body, status=200 if healthy else 503)


def live(request):
    return JsonResponse({"status": "ok"})


def ready(request):
    # Orders need only the database: while the broker is down the outbox holds their messages.
    database = _check_database()
    return JsonResponse(
        {"status": "ok" if database == "ok" else "unavailable", "checks": {"database": database}},
        status=200 if database == "ok" else 503,
    )
