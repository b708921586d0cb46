"""The catalog the restaurant runs on: kitchen stations, categories, items with their modifier groups
and options. Prices are Decimal; `available = False` is "sold out" (86ed).

An order copies what it needs of an item at order time (orders/models.py `OrderItem`), so a later
change here never rewrites an order, and deleting an item never deletes an order's rows.
"""

from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

PRICE_MIN, PRICE_MAX = Decimal("0.01"), Decimal("999.99")
# A station's capacity per slot and an item's load, in load units: the menu file's bounds and the admin's.
CAPACITY_MIN, CAPACITY_MAX = 1, 100_000
LOAD_MIN, LOAD_MAX = 0, 1000


class Station(models.Model):
    """Where an item is prepared (Pizza oven, Grill, Cold, Bar): what a station screen shows."""

    code = models.SlugField(max_length=30, unique=True)
    name = models.CharField(max_length=50)
    display_order = models.PositiveSmallIntegerField(default=0)
    # How long its items take; an order is due when its slowest station is done. Empty: the order
    # type's cooking time (SPEC §4) stands.
    prep_seconds = models.PositiveIntegerField(null=True, blank=True, help_text="Empty: the order type's time")
    # The load units it can cook in one slot of the kitchen's clock (orders/capacity.py). Empty: no limit.
    capacity_per_slot = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(CAPACITY_MIN), MaxValueValidator(CAPACITY_MAX)],
        help_text="The load units it can cook in one slot (each item puts its load × quantity). Empty: no limit",
    )

    class Meta:
        db_table = "menu_stations"
        ordering = ["display_order", "name"]

    def __str__(self) -> str:
        return self.name


class Category(models.Model):
    code = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=50)
    display_order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        db_table = "menu_categories"
        ordering = ["display_order", "name"]
        verbose_name_plural = "categories"

    def __str__(self) -> str:
        return self.name


class MenuItem(models.Model):
    sku = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=50)
    description = models.TextField(blank=True, default="")
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="items")
    station = models.ForeignKey(Station, on_delete=models.PROTECT, related_name="items")
    price = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        validators=[MinValueValidator(PRICE_MIN), MaxValueValidator(PRICE_MAX)],
    )
    available = models.BooleanField(default=True, help_text="Unticked: sold out (86ed)")
    display_order = models.PositiveSmallIntegerField(default=0)
    # The units one of it puts on its station's capacity per slot (a pizza 2, a drink 0 say).
    load = models.PositiveSmallIntegerField(
        default=1,
        validators=[MinValueValidator(LOAD_MIN), MaxValueValidator(LOAD_MAX)],
        help_text="The units one of it puts on its station's capacity per slot; 0: takes no station time",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "menu_items"
        ordering = ["display_order", "name"]
        # The Kitchen's one back-office right: 86 an item during service (the admin's two actions).
        permissions = [("set_availability", "Can mark items sold out or available")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(price__gte=PRICE_MIN, price__lte=PRICE_MAX), name="menu_items_price_range"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.sku})"


class ModifierGroup(models.Model):
    """A choice on an item: Size (exactly 1), Extras (0–3), Remove (0–n: `max_choices` empty)."""

    item = models.ForeignKey(MenuItem, on_delete=models.CASCADE, related_name="modifier_groups")
    code = models.SlugField(max_length=50)
    name = models.CharField(max_length=50)
    min_choices = models.PositiveSmallIntegerField(default=0)
    max_choices = models.PositiveSmallIntegerField(null=True, blank=True, help_text="Empty: no limit")
    display_order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        db_table = "menu_modifier_groups"
        ordering = ["display_order", "id"]
        constraints = [
            models.UniqueConstraint(fields=["item", "code"], name="menu_modifier_groups_code_per_item"),
            models.CheckConstraint(
                condition=models.Q(max_choices__isnull=True) | models.Q(max_choices__gte=models.F("min_choices")),
                name="menu_modifier_groups_min_le_max",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.item.sku}: {self.name}"


class ModifierOption(models.Model):
    group = models.ForeignKey(ModifierGroup, on_delete=models.CASCADE, related_name="options")
    # Unique across the item's groups (an order names options by code alone): checked by load_menu
    # and the admin form, as a constraint cannot reach across groups.
    code = models.SlugField(max_length=50)
    name = models.CharField(max_length=50)
    price_delta = models.DecimalField(max_digits=5, decimal_places=2, default=Decimal("0.00"))
    available = models.BooleanField(default=True)
    display_order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        db_table = "menu_modifier_options"
        ordering = ["display_order", "id"]
        constraints = [
            models.UniqueConstraint(fields=["group", "code"], name="menu_modifier_options_code_per_group"),
        ]

    def __str__(self) -> str:
        return self.name


class MenuVersion(models.Model):
    """One row whose `version` a trigger bumps on any change of the tables above (admin, load_menu,
    raw SQL alike), notifying `menu`: the ETag of GET /menu and the signal for live displays."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    version = models.PositiveBigIntegerField(default=1)

    class Meta:
        db_table = "menu_version"

    def __str__(self) -> str:
        return f"menu version {self.version}"


class Kitchen(models.Model):
    """The kitchen's clock (one row, from the menu file's `"kitchen"`): its time zone, its slots, how far
    ahead guests may order, and its opening hours (`[{"days": ["mon", …], "open": "11:30", "close":
    "22:30"}]`; none: open all day); and whether new ASAP orders are paused. orders/capacity.py reads it."""

    time_zone = models.CharField(max_length=64, default="UTC")
    slot_minutes = models.PositiveSmallIntegerField(default=15)
    asap_horizon_minutes = models.PositiveIntegerField(default=120)
    days_ahead = models.PositiveSmallIntegerField(default=7)
    hours = models.JSONField(default=list, blank=True)
    # A Manager's "kitchen busy" (orders/pause.py): until then new ASAP orders are promised after it.
    # Not the menu file's: load_menu writes the fields above only, and never ends a pause.
    paused_until = models.DateTimeField(null=True, blank=True)
    paused_by = models.CharField(max_length=150, blank=True, default="")

    class Meta:
        db_table = "menu_kitchen"
        verbose_name = "kitchen hours and slots"
        verbose_name_plural = "kitchen hours and slots"
        permissions = [("pause_asap", "Can pause new ASAP orders (kitchen busy)")]

    def __str__(self) -> str:
        return f"Kitchen ({self.time_zone}, {self.slot_minutes}-minute slots)"
