from django.contrib.auth.models import User
from django.db import models


class OutboxMessage(models.Model):
    """A message to publish, written in the same transaction as the change it announces (SPEC §5).

    `run_outbox_relay` publishes unpublished rows in id order and sets `published_at` once the
    broker has confirmed them. An insert trigger (migration 0002) sends NOTIFY to wake the relay.
    """

    exchange = models.CharField(max_length=100)
    routing_key = models.CharField(max_length=200, blank=True, default="")
    # The serialized JSON body, published byte for byte as stored.
    body = models.TextField()
    headers = models.JSONField(default=dict)
    priority = models.PositiveSmallIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    published_at = models.DateTimeField(null=True, blank=True)
    # Not published before this time (an order for later's kitchen message); None: at once.
    not_before = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")

    class Meta:
        db_table = "outbox"
        indexes = [
            # The relay's query: oldest unpublished first.
            models.Index(fields=["id"], condition=models.Q(published_at__isnull=True), name="outbox_pending_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.exchange}:{self.routing_key}#{self.id}"


class ThrottleCounter(models.Model):
    """One client's requests in one throttle scope, counted by restaurant/throttling.py in a window
    that starts with the client's first request and ends at `expires_at`.

    The table is UNLOGGED (migration 0003): a counter is worth no WAL, and losing them all in a crash
    only forgives the clients of the current window.
    """

    pk = models.CompositePrimaryKey("scope", "client")
    scope = models.TextField()
    client = models.TextField(help_text="the client IP, or `user:<pk>` for a logged-in user")
    hits = models.PositiveIntegerField(help_text="requests in the window, the refused ones included")
    expires_at = models.DateTimeField()

    class Meta:
        db_table = "throttle_counter"

    def __str__(self) -> str:
        return f"{self.scope}:{self.client}={self.hits}"


class StaffAccount(User):
    """A person's login as a Manager sees it in the back office (restaurant/admin.py): a username, a
    name, a password, a role (restaurant/roles.py), active or not; never a superuser, never permissions
    of its own. A proxy of Django's user, so its permissions are its own (restaurant.add_staffaccount,
    change, view; there is no deleting a login that has cooked orders: it is deactivated) and
    Django's own user admin stays the superusers'."""

    class Meta:
        proxy = True
        verbose_name = "staff account"
        default_permissions = ("add", "change", "view")
