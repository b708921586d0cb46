"""The customer notifications' writes (issue 18).

An event of an order (`received`, `ready`, `cancelled`) becomes a row per channel the guest gave
(`notifications_record`), written from the template of the moment; the unique (order, event,
channel) makes a redelivered or replayed message write nothing. Rows are then sent apart from the
queue, channel by channel (`notifications_send_due`): claimed under a lease (FOR UPDATE SKIP LOCKED,
so two notifiers never send one row), sent, and marked sent, or tried again after 2, 4, 8 … seconds
(capped), or failed once the attempts are spent or the provider refuses the message for good.

Delivery is at least once in one narrow case: a notifier killed between the provider's answer and
the row's update leaves the row claimed; once its lease is over it is sent again.
"""

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from notifications.models import Channel, CustomerNotification, MessageTemplate, NotificationStatus
from notifications.providers import Outgoing, SendFailed, send
from notifications.wording import DEFAULT_TEMPLATES, order_values, render
from orders.contact import masked
from orders.models import Order
from restaurant.logging import service_logger

log = service_logger("customer-notifier")

# How long a claimed row is a sender's: longer than a provider's answer can take.
LEASE = timedelta(seconds=60)


def ensure_templates() -> None:
    """The default wording for every event and channel that has none yet (never overwrites)."""
    for (event, channel), (subject, body) in DEFAULT_TEMPLATES.items():
        MessageTemplate.objects.get_or_create(event=event, channel=channel, defaults={"subject": subject, "body": body})


def _recipients(order: Order) -> dict[str, str]:
    return {
        channel: to for channel, to in ((Channel.SMS, order.contact_phone), (Channel.EMAIL, order.contact_email)) if to
    }


def notifications_record(*, number: str, event: str) -> int:
    """The rows of `event` for order `number`, one per channel of its contact; how many are new (0 for
    an order without a contact, an unknown one, or a repeat)."""
    order = Order.objects.filter(number=number).first()
    if order is None or not (recipients := _recipients(order)):
        return 0
    templates = {t.channel: t for t in MessageTemplate.objects.filter(event=event, channel__in=recipients)}
    values = order_values(order)
    rows = []
    for channel, recipient in recipients.items():
        subject, body = DEFAULT_TEMPLATES[(event, channel)]
        if template := templates.get(channel):
            subject, body = template.subject, template.body
        rows.append(
            CustomerNotification(
                order=order,
                event=event,
                channel=channel,
                recipient=recipient,
                subject=render(subject, values)[:150],
                body=render(body, values),
            )
        )
    before = CustomerNotification.objects.filter(order=order, event=event).count()
    CustomerNotification.objects.bulk_create(rows, ignore_conflicts=True)
    return CustomerNotification.objects.filter(order=order, event=event).count() - before


def _claim(channel: str, limit: int) -> list[CustomerNotification]:
    now = timezone.now()
    with transaction.atomic():
        due = (
            CustomerNotification.objects.select_for_update(skip_locked=True)
            .filter(channel=channel, next_attempt_at__lte=now)
            .filter(status__in=[NotificationStatus.PENDING, NotificationStatus.SENDING])
            .exclude(status=NotificationStatus.SENDING, claimed_until__gt=now)
            .select_related("order")
            .order_by("next_attempt_at", "id")[:limit]
        )
        claimed = list(due)
        for row in claimed:
            row.status, row.claimed_until, row.attempts = NotificationStatus.SENDING, now + LEASE, row.attempts + 1
        CustomerNotification.objects.bulk_update(claimed, ["status", "claimed_until", "attempts", "updated_at"])
    return claimed


def notifications_send_due(*, channel: str, limit: int = 10) -> int:
    """Send the due rows of `channel`, at most `limit`; how many were tried."""
    claimed = _claim(channel, limit)
    for row in claimed:
        _send_one(row)
    return len(claimed)


def _send_one(row: CustomerNotification) -> None:
    message = Outgoing(row.channel, row.recipient, row.subject, row.body, row.order.number, row.event)
    details = {"order_number": message.order_number, "event": row.event, "channel": row.channel}
    details |= {"recipient": masked(row.recipient), "attempt": row.attempts}
    try:
        provider_id = send(message)
    except SendFailed as exc:
        _failed(row, str(exc).replace(row.recipient, masked(row.recipient)), exc.permanent, details)
        return
    except Exception as exc:  # a bug of ours, or of a library: this row fails, the sender goes on
        log.error("notification_error", "Sending raised", details=details, exc_info=exc)
        _failed(row, f"{type(exc).__name__} while sending", False, details)
        return
    row.status, row.provider_id, row.sent_at = NotificationStatus.SENT, provider_id, timezone.now()
    row.claimed_until, row.last_error = None, ""
    row.save(update_fields=["status", "provider_id", "sent_at", "claimed_until", "last_error", "updated_at"])
    log.info("notification_sent", f"{row.event} {row.channel} sent for {message.order_number}", details=details)


def _failed(row: CustomerNotification, error: str, permanent: bool, details: dict) -> None:
    row.last_error, row.claimed_until = error[:500], None
    if permanent or row.attempts >= settings.NOTIFY_ATTEMPTS:
        row.status = NotificationStatus.FAILED
        log.error("notification_failed", f"Gave up after {row.attempts} attempt(s): {row.last_error}", details=details)
    else:
        delay = min(2.0**row.attempts, settings.NOTIFY_RETRY_MAX_SECONDS)
        row.status, row.next_attempt_at = NotificationStatus.PENDING, timezone.now() + timedelta(seconds=delay)
        details = {**details, "retry_in_seconds": delay}
        log.warning("notification_retry", f"Not sent, trying again in {delay:.0f}s: {row.last_error}", details=details)
    row.save(update_fields=["status", "last_error", "claimed_until", "next_attempt_at", "updated_at"])
