"""The customer notifications (issue 18): what a guest who left a phone or an email is told, and the
history of every message sent or tried."""

from django.db import models
from django.utils import timezone

from orders.models import Order


class Event(models.TextChoices):
    RECEIVED = "received", "Order received"
    READY = "ready", "Order ready"
    CANCELLED = "cancelled", "Order cancelled"


class Channel(models.TextChoices):
    SMS = "sms", "SMS"
    EMAIL = "email", "Email"


class NotificationStatus(models.TextChoices):
    PENDING = "pending", "Pending"  # to send, at `next_attempt_at`
    SENDING = "sending", "Sending"  # claimed by a sender until `claimed_until`
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"  # given up: `last_error` says why


class MessageTemplate(models.Model):
    """The wording of one event on one channel, a Manager's to edit (placeholders: notifications/wording.py)."""

    event = models.CharField(max_length=10, choices=Event.choices)
    channel = models.CharField(max_length=5, choices=Channel.choices)
    subject = models.CharField(max_length=150, blank=True, default="", help_text="Email only")
    body = models.TextField(max_length=1000)

    class Meta:
        db_table = "notification_templates"
        ordering = ["event", "channel"]
        constraints = [models.UniqueConstraint(fields=["event", "channel"], name="notification_templates_once")]

    def __str__(self) -> str:
        return f"{self.get_event_display()} ({self.get_channel_display()})"


class CustomerNotification(models.Model):
    """One message to one guest: at most one per order, event and channel, whatever is redelivered."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="notifications")
    event = models.CharField(max_length=10, choices=Event.choices)
    channel = models.CharField(max_length=5, choices=Channel.choices)
    recipient = models.CharField(max_length=254)
    subject = models.CharField(max_length=150, blank=True, default="")
    body = models.TextField()  # as written when the event came, from the template of that moment
    status = models.CharField(max_length=10, choices=NotificationStatus.choices, default=NotificationStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    claimed_until = models.DateTimeField(null=True, blank=True)
    provider_id = models.CharField(max_length=100, blank=True, default="")
    last_error = models.CharField(max_length=500, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "customer_notifications"
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["order", "event", "channel"], name="customer_notifications_once"),
        ]
        indexes = [models.Index(fields=["status", "next_attempt_at"])]

    def __str__(self) -> str:
        return f"{self.order_id} {self.event} by {self.channel}: {self.status}"
