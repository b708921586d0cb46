"""The ASAP pause ("kitchen busy", issue 19; Otter's "pause orders"): a Manager stops new ASAP
orders for N minutes, from the back office (orders/admin/pause.py) or the expo screen
(kitchen/views.py: kitchen_pause). While it lasts an ASAP order is promised a slot ending at least
the pause's end + its lead, or refused (`kitchen_paused`) when none does within the ASAP horizon
(orders/capacity.py); an order for a requested time is not affected.

The pause is the kitchen's row (menu.Kitchen: `paused_until`, `paused_by`), so the intake reads it
with the kitchen's clock it already keeps (no query more per order): another process sees a change
within CLOCK_SECONDS, this one at once. The write NOTIFYs `asap_pause` at commit; every display's
bridge LISTENs to it and pushes the pause to the kitchen screens (kitchen/bridge.py), whose banner
ends by itself when the pause does.
"""

from datetime import datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone

from menu.models import Kitchen
from restaurant.api import ApplicationError
from restaurant.logging import service_logger

log = service_logger()

PAUSE_NOTIFY_CHANNEL = "asap_pause"  # the display bridges LISTEN to it (kitchen/bridge.py)
PAUSE_MINUTES_MIN, PAUSE_MINUTES_MAX = 1, 240
PAUSE_CHOICES = (5, 10, 15, 30, 60)  # the back office's buttons (any whole number of minutes in range may be typed)
EXPO_PAUSE_CHOICES = (15, 30)  # the expo screen's buttons


def pause_minutes(raw: object) -> int:
    """A number of minutes to pause for, from a form's text or a number; ApplicationError naming
    `minutes` when it is not a whole number from PAUSE_MINUTES_MIN to PAUSE_MINUTES_MAX."""
    text = raw.strip() if isinstance(raw, str) else raw
    if isinstance(text, str) and text.isascii() and text.isdigit() and len(text) <= 4:
        text = int(text)
    if isinstance(text, bool) or not isinstance(text, int) or not PAUSE_MINUTES_MIN <= text <= PAUSE_MINUTES_MAX:
        message = f"must be a whole number of minutes from {PAUSE_MINUTES_MIN} to {PAUSE_MINUTES_MAX}"
        raise ApplicationError(code="validation_failed", errors={"minutes": [message]})
    return text


@transaction.atomic
def asap_pause(*, minutes: int, paused_by: str, now: datetime | None = None) -> datetime:
    """Pause new ASAP orders for `minutes` from now (a pause under way is replaced, shorter or longer);
    returns its end. Logged as `asap_paused`, with who and until when."""
    minutes = pause_minutes(minutes)
    until = ((now or timezone.now()) + timedelta(minutes=minutes)).replace(microsecond=0)
    _write(until, paused_by)
    details = {"paused_until": until, "paused_by": paused_by, "minutes": minutes}
    message = f"New ASAP orders paused until {until.isoformat()} by {paused_by}"
    transaction.on_commit(lambda: log.info("asap_paused", message, details=details))
    return until


@transaction.atomic
def asap_resume(*, resumed_by: str) -> None:
    """Take new ASAP orders again at once. Logged as `asap_resumed`, with who and the pause it ended."""
    was = Kitchen.objects.select_for_update().filter(pk=1).values_list("paused_until", flat=True).first()
    _write(None, "")
    details = {"resumed_by": resumed_by, "paused_until": was}
    message = f"New ASAP orders resumed by {resumed_by}"
    transaction.on_commit(lambda: log.info("asap_resumed", message, details=details))


def _write(until: datetime | None, paused_by: str) -> None:
    # update_or_create saves only these fields (the menu file's are left as they are; a kitchen
    # without a row gets one with the defaults, which are what no row means); its post_save makes
    # this process read the kitchen's clock again (orders/capacity.py: forget_clock).
    Kitchen.objects.update_or_create(pk=1, defaults={"paused_until": until, "paused_by": paused_by})
    with connection.cursor() as cursor:  # heard by the display bridges at commit
        cursor.execute("SELECT pg_notify(%s, %s)", [PAUSE_NOTIFY_CHANNEL, until.isoformat() if until else ""])


def asap_pause_now(now: datetime | None = None) -> tuple[datetime | None, str]:
    """The pause under way, read afresh: (until when, who paused), or (None, "") when there is none."""
    row = Kitchen.objects.filter(pk=1).values_list("paused_until", "paused_by").first()
    if row is None or row[0] is None or row[0] <= (now or timezone.now()):
        return None, ""
    return row
