"""Order reads: what tracking answers, the staff order API's list and detail, and the speed of
service figures. Nothing here writes, and nothing here imports a service. The live screens' reads
(tickets, public status, snapshots, the kitchen's figures) are kitchen/screens.py's.
"""

import math
import secrets
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

from django.db.models import OuterRef, Prefetch, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce

from orders.errors import OrderNotFound
from orders.models import Order, OrderItem, OrderStatus, OrderStatusLog, Table


def order_get(*, number: str) -> Order:
    # PostgreSQL text cannot hold NUL: such a number (from a URL's %00) names no order, not a 500.
    order = None if "\x00" in number else Order.objects.filter(number=number).first()
    if order is None:
        raise OrderNotFound(number)
    return order


def order_history(*, number: str) -> QuerySet[OrderStatusLog]:
    order = order_get(number=number)
    return OrderStatusLog.objects.filter(order=order).order_by("changed_at", "id")


def _staff_orders() -> QuerySet[Order]:
    return Order.objects.annotate(item_count=Coalesce(Sum("items__quantity"), 0))


def order_list(
    *, status: str | None = None, order_type: str | None = None, since: datetime | None = None
) -> QuerySet[Order]:
    """The staff API's orders, newest first, each with `item_count` (Σ quantity); `since` keeps
    those created at or after it. The caller slices a page off it."""
    orders = _staff_orders().order_by("-created_at", "-id")
    if status is not None:
        orders = orders.filter(status=status)
    if order_type is not None:
        orders = orders.filter(order_type=order_type)
    if since is not None:
        orders = orders.filter(created_at__gte=since)
    return orders


def order_detail(*, number: str) -> Order:
    """One order for the staff API: `item_count`, its items in the order they were taken and its
    status history oldest first, in three queries."""
    order = None
    if "\x00" not in number:  # as in order_get: PostgreSQL text cannot hold NUL
        order = (
            _staff_orders()
            .prefetch_related(
                Prefetch("items", queryset=OrderItem.objects.order_by("id")),
                Prefetch("status_log", queryset=OrderStatusLog.objects.order_by("changed_at", "id")),
            )
            .filter(number=number)
            .first()
        )
    if order is None:
        raise OrderNotFound(number)
    return order


# A ticket is late once ready more than this past its estimate: a worker that cooks to the second
# finishes a few milliseconds after it, which no guest would call late.
LATE_AFTER = timedelta(minutes=1)


def _percentile(values: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile: the smallest value with at least `fraction` of the values at or below it."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def _ready_orders(since: datetime, until: datetime):
    """Orders that first became ready in [since, until), with when they were received and first ready."""

    def first(status: str) -> Subquery:  # a recalled order's first ready counts, not a later one
        rows = OrderStatusLog.objects.filter(order=OuterRef("pk"), status=status).order_by("changed_at", "id")
        return Subquery(rows.values("changed_at")[:1])

    return (
        Order.objects.annotate(received_at=first(OrderStatus.RECEIVED), ready_at=first(OrderStatus.READY))
        .filter(ready_at__gte=since, ready_at__lt=until)
        .values("received_at", "ready_at", "estimated_completion")
    )


def _figures(rows: list[dict]) -> dict[str, Any]:
    seconds = [(row["ready_at"] - row["received_at"]).total_seconds() for row in rows]
    late = [
        row
        for row in rows
        if row["estimated_completion"] and row["ready_at"] > row["estimated_completion"] + LATE_AFTER
    ]
    return {
        "orders": len(rows),
        "median_seconds": _percentile(seconds, 0.5),
        "p90_seconds": _percentile(seconds, 0.9),
        "late": len(late),  # made ready more than LATE_AFTER past their estimated completion
    }


def speed_of_service(*, since: datetime, until: datetime) -> dict[str, Any]:
    """Received → ready of the orders made ready in [since, until): how many, the median and the 90th
    percentile (nearest rank, in seconds) and how many were late."""
    return _figures(list(_ready_orders(since, until)))


def speed_of_service_by_hour(*, day: date, zone: tzinfo) -> list[dict[str, Any]]:
    """`speed_of_service` for each hour of `day` on the clock of `zone` (the restaurant's), by the
    hour the orders became ready. A day the clocks change has 23 or 25 hours: the hour repeated in
    autumn counts both its passes under one hour."""
    start = datetime.combine(day, time.min, tzinfo=zone)
    rows = list(_ready_orders(start, datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone)))
    return [
        {"hour": hour, **_figures([row for row in rows if row["ready_at"].astimezone(zone).hour == hour])}
        for hour in range(24)
    ]


def station_speed(*, since: datetime, until: datetime) -> dict[str, dict[str, Any]]:
    """Per station: received → item prepared of the items marked in [since, until) (the order's
    `received` row to the item's mark), as `speed_of_service` counts them (items, median, p90)."""
    received = OrderStatusLog.objects.filter(order=OuterRef("order"), status=OrderStatus.RECEIVED)
    rows = (
        OrderItem.objects.filter(prepared_at__gte=since, prepared_at__lt=until)
        .exclude(station="")
        .annotate(received_at=Subquery(received.order_by("changed_at", "id").values("changed_at")[:1]))
        .values_list("station", "received_at", "prepared_at")
    )
    seconds: dict[str, list[float]] = {}
    for station, received_at, prepared_at in rows:
        seconds.setdefault(station, []).append((prepared_at - received_at).total_seconds())
    return {
        station: {
            "items": len(values),
            "median_seconds": _percentile(values, 0.5),
            "p90_seconds": _percentile(values, 0.9),
        }
        for station, values in sorted(seconds.items())
    }


def table_for_key(number: int, key: str) -> Table | None:
    """Active table `number` when `key` is its current key (its QR code's), else None."""
    table = Table.objects.filter(number=number, active=True).first()
    return table if table is not None and secrets.compare_digest(table.key.encode(), key.encode()) else None


def table_key_matches(number: int, key: str) -> bool:
    """Whether `key` is the current key of active table `number` (its QR code's)."""
    return table_for_key(number, key) is not None
