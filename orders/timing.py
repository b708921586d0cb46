"""How long an order cooks once started (SPEC §4 and the menu's stations): one rule.

An order is due when its slowest station is done (each station's `prep_seconds` in the menu), or
after its order type's cooking time when none of its items' stations has one (free items have
none); both scaled by COOKING_TIME_SCALE. The rule is an ORM expression (`preparation_time`), so the
order's own statement can read it with the lock (orders/statements.py) and the locking path can
annotate the locked order with it: the same SQL either way.
"""

from datetime import timedelta

from django.conf import settings
from django.db.models import Case, DurationField, Func, IntegerField, OuterRef, Value, When
from django.db.models.functions import Coalesce, NullIf

from menu.selectors import slowest_prep_seconds
from orders.models import OrderItem

COOKING_SECONDS = {"dine_in": 8, "takeout": 10, "delivery": 12}


def cooking_time(order_type: str) -> timedelta:
    """How long an order of this type cooks when none of its stations has a prep time, scaled."""
    return timedelta(seconds=COOKING_SECONDS[order_type] * settings.COOKING_TIME_SCALE)


class Seconds(Func):
    """An interval of this many seconds (a float)."""

    template = "make_interval(secs => %(expressions)s)"
    output_field = DurationField()


def preparation_time() -> Seconds:
    """The preparation time of the order being queried (an interval), to annotate an Order query with."""
    stations = OrderItem.objects.filter(order=OuterRef(OuterRef("pk"))).values("station")  # two levels down
    by_type = Case(
        *(When(order_type=order_type, then=Value(seconds)) for order_type, seconds in COOKING_SECONDS.items()),
        output_field=IntegerField(),
    )
    seconds = Coalesce(NullIf(slowest_prep_seconds(stations), 0), by_type)
    return Seconds(seconds * Value(float(settings.COOKING_TIME_SCALE)))
