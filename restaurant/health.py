"""GET /health (database and broker), /health/live (the process answers), /health/ready (it can take orders)."""

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


def _check_broker() -> str:
    try:
        broker.connect(client_name="health-check").close()
        return "ok"
    except Exception as exc:
        return f"error: {type(exc).__name__}"


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
