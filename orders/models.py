import secrets
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from knox.models import AuthToken


class OrderType(models.TextChoices):
    DINE_IN = "dine_in", "Dine in"
    TAKEOUT = "takeout", "Takeout"
    DELIVERY = "delivery", "Delivery"


class OrderStatus(models.TextChoices):
    RECEIVED = "received", "Received"
    COOKING = "cooking", "Cooking"
    READY = "ready", "Ready"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"


@dataclass(frozen=True)
class Transition:
    """A move of the order state machine: from any of `sources` to `target`."""

    sources: frozenset[str]
    target: str


# The order state machine (SPEC §4, plus the kitchen display's recall of a bump): every allowed move,
# named by the service function of orders/services.py that makes it. Nothing else says which status
# may follow which; the writer of status rows checks every move against this table.
TRANSITIONS: dict[str, Transition] = {
    "start_cooking": Transition(frozenset({OrderStatus.RECEIVED}), OrderStatus.COOKING),
    "mark_ready": Transition(frozenset({OrderStatus.COOKING}), OrderStatus.READY),
    "complete": Transition(frozenset({OrderStatus.READY}), OrderStatus.COMPLETED),
    "recall": Transition(frozenset({OrderStatus.COMPLETED}), OrderStatus.READY),
    "cancel": Transition(frozenset({OrderStatus.RECEIVED, OrderStatus.COOKING}), OrderStatus.CANCELLED),
}


IDEMPOTENCY_KEY_CONSTRAINT = "orders_idempotency_key_once"
SLOT_FULL_CONSTRAINT = "slot_loads_within_capacity"


class Order(models.Model):
    number = models.CharField(max_length=32, unique=True)
    customer_name = models.CharField(max_length=100)
    order_type = models.CharField(max_length=10, choices=OrderType.choices)
    table_number = models.PositiveSmallIntegerField(null=True, blank=True)
    delivery_address = models.TextField(null=True, blank=True)
    total_amount = models.DecimalField(max_digits=10, decimal_places=2)
    priority = models.PositiveSmallIntegerField()
    status = models.CharField(max_length=10, choices=OrderStatus.choices, default=OrderStatus.RECEIVED)
    # A worker's name or a staff username (150, as Django's User.username).
    processed_by = models.CharField(max_length=150, null=True, blank=True)
    estimated_completion = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    notes = models.CharField(max_length=280, blank=True, default="")
    # Who to tell when it is ready (the guest's choice): a phone in E.164 and an email. Staff see them;
    # no public surface, order message or log line carries them (notifications/ reads them here).
    contact_phone = models.CharField(max_length=16, blank=True, default="")
    contact_email = models.EmailField(max_length=254, blank=True, default="")
    # The client's `Idempotency-Key`: a repeat of the key (a double tap, a retry) makes no second order.
    idempotency_key = models.CharField(max_length=64, null=True, blank=True)
    # The end of its kitchen slot (orders/capacity.py): when the guest is told it will be ready.
    promised_at = models.DateTimeField(null=True, blank=True)
    # An order for later is held until then: its kitchen message is published at this time (issue 19).
    fire_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "orders"
        indexes = [
            models.Index(fields=["status", "created_at"]),
            models.Index(fields=["created_at"]),
        ]
        constraints = [
            models.UniqueConstraint(fields=["idempotency_key"], name=IDEMPOTENCY_KEY_CONSTRAINT),
            models.CheckConstraint(condition=models.Q(total_amount__gte=Decimal("0.01")), name="orders_total_positive"),
            models.CheckConstraint(condition=models.Q(priority__in=[1, 5, 10]), name="orders_priority_valid"),
        ]
        # Staff acts beyond add/change/view/delete: each one goes through its service in orders/services.py.
        permissions = [
            ("cancel_order", "Can cancel an order"),
            ("complete_order", "Can mark a ready order completed"),
            ("view_speed_of_service", "Can see the speed-of-service report"),
            ("view_capacity", "Can see the kitchen's capacity page"),
        ]

    def __str__(self) -> str:
        return self.number

    def is_held(self, now: datetime | None = None) -> bool:
        """An order for later not yet fired: received, its kitchen message not due before `fire_at`."""
        fire_at = self.fire_at
        return self.status == OrderStatus.RECEIVED and fire_at is not None and fire_at > (now or timezone.now())


class OrderItem(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="items")
    name = models.CharField(max_length=50)
    quantity = models.PositiveSmallIntegerField()
    # The unit price: a menu item's price plus its modifiers' deltas, as they were at order time.
    price = models.DecimalField(max_digits=6, decimal_places=2)
    # A menu item's sku and station, copied (no foreign key: a menu change or deletion never
    # rewrites or deletes an order); null for a free item (MENU_MODE=open).
    sku = models.CharField(max_length=50, null=True, blank=True)
    station = models.CharField(max_length=30, blank=True, default="")
    # The chosen options as they were: [{"code", "name", "price_delta"}, ...].
    modifiers = models.JSONField(default=list, blank=True)
    notes = models.CharField(max_length=140, blank=True, default="")
    # Item-level bump: a station marks its own items done (orders/services.py order_item_prepare).
    prepared_at = models.DateTimeField(null=True, blank=True)
    prepared_by = models.CharField(max_length=150, blank=True, default="")
    # The display version of the latest mark, drawn from the status log's id sequence, so a ticket's
    # version (the highest of its log ids and its marks) grows with marks as with status changes.
    mark_version = models.BigIntegerField(null=True, blank=True)

    class Meta:
        db_table = "order_items"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(quantity__gte=1, quantity__lte=10), name="order_items_quantity_range"
            ),
            models.CheckConstraint(
                condition=models.Q(price__gte=Decimal("0.01"), price__lte=Decimal("999.99")),
                name="order_items_price_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.name}"


class OrderStatusLog(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="status_log")
    status = models.CharField(max_length=10, choices=OrderStatus.choices)
    changed_by = models.CharField(max_length=150)  # `order-service`, a worker's name or a staff username
    changed_at = models.DateTimeField(default=timezone.now)
    notes = models.TextField(blank=True, default="")
    # Set on the `ready` and `completed` rows an order_recall undid: kept as history, no longer live.
    superseded = models.BooleanField(default=False)

    class Meta:
        db_table = "order_status_log"
        ordering = ["changed_at", "id"]
        constraints = [
            # Whatever crashes or redeliveries happen, an order logs each status once (once again
            # only after a recall from the kitchen display has superseded its ready/completed rows).
            models.UniqueConstraint(
                fields=["order", "status"],
                condition=models.Q(superseded=False),
                name="order_status_log_once_per_status",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.order_id}: {self.status}"


class DailyOrderCounter(models.Model):
    """The last order number handed out on a UTC day; its row lock makes numbers gap-free."""

    day = models.DateField(primary_key=True)
    last_number = models.PositiveIntegerField()

    class Meta:
        db_table = "order_daily_counter"

    def __str__(self) -> str:
        return f"{self.day}: {self.last_number}"


TABLE_NUMBERS = (1, 100)  # SPEC §3's table_number


def new_table_key() -> str:
    return secrets.token_urlsafe(12)


class Table(models.Model):
    """A table of the dining room, and the key its QR code carries (`/order/?table=<n>&key=<key>`):
    a guest ordering from the table's code cannot order for another table by editing the number.
    Rotating the key (a new sheet printed) makes the old codes stop working."""

    number = models.PositiveSmallIntegerField(
        unique=True, validators=[MinValueValidator(TABLE_NUMBERS[0]), MaxValueValidator(TABLE_NUMBERS[1])]
    )
    label = models.CharField(max_length=50, blank=True, default="", help_text="e.g. Terrace 4, by the window")
    active = models.BooleanField(default=True, help_text="Guests can order from its QR code")
    key = models.CharField(max_length=32, editable=False)  # set on the first save (no default: see save)
    key_rotated_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        db_table = "tables"
        ordering = ["number"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(number__gte=TABLE_NUMBERS[0], number__lte=TABLE_NUMBERS[1]),
                name="tables_number_range",
            ),
        ]

    def __str__(self) -> str:
        return f"Table {self.number}" + (f" ({self.label})" if self.label else "")

    def save(self, *args, **kwargs) -> None:
        # Here rather than a field default, which the migrations would have to import.
        if not self.key:
            self.key = new_table_key()
        super().save(*args, **kwargs)


class ApiToken(AuthToken):
    """A token of the staff order API (orders/tokens.py), as the back office lists it under Orders: knox's
    own row (its key hashed), no permissions of its own (a role decides: orders/admin/tokens.py)."""

    class Meta:
        proxy = True
        verbose_name = "API token"
        default_permissions = ()

    def __str__(self) -> str:
        # knox's names the digest: the back office shows the key's first characters only.
        return f"{self.token_key}… of {self.user}"


class SlotLoad(models.Model):
    """The load units booked on one station in one kitchen slot; the CHECK is the capacity rule itself,
    so two orders racing for the last units cannot both have them (orders/capacity.py)."""

    slot_start = models.DateTimeField()
    station = models.CharField(max_length=30)
    used = models.PositiveIntegerField()
    capacity = models.PositiveIntegerField()

    class Meta:
        db_table = "slot_loads"
        constraints = [
            models.UniqueConstraint(fields=["slot_start", "station"], name="slot_loads_once"),
            models.CheckConstraint(condition=models.Q(used__lte=models.F("capacity")), name=SLOT_FULL_CONSTRAINT),
        ]

    def __str__(self) -> str:
        return f"{self.station} at {self.slot_start}: {self.used}/{self.capacity}"


class SlotReservation(models.Model):
    """An order's units on a station in its slot: given back when the order is cancelled."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="reservations")
    slot_start = models.DateTimeField()
    station = models.CharField(max_length=30)
    units = models.PositiveIntegerField()

    class Meta:
        db_table = "slot_reservations"

    def __str__(self) -> str:
        return f"{self.order_id}: {self.units} on {self.station} at {self.slot_start}"
