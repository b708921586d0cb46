"""The live screens' home: who hears what (the channel layer's groups) and what they are shown (the
read models: the kitchen ticket, the public status, the snapshots, the speed figures).

Every screen starts from a snapshot read here (kitchen/consumers.py) and then hears updates that
this process's display bridge (kitchen/bridge.py) reads here and sends to a group: `order_updates`
(an order's status or item marks), `menu_update` (the 86 list), `speed_update` (the figures),
`pause_update` (the ASAP pause).
Nothing here writes, and nothing here knows the bridge or the sockets.

A `version` is an `order_status_log` id (an item's mark takes one from the same sequence): the
snapshot's is the highest one, an order's is the highest of its own. A client drops an update whose
version is not above what it has.
"""

import re
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.db.models import BigIntegerField, Max, Q
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from menu.selectors import menu_version, sold_out
from orders.capacity import local_clock_time
from orders.models import Order, OrderItem, OrderStatus, OrderStatusLog, OrderType
from orders.pause import asap_pause_now
from orders.selectors import LATE_AFTER, speed_of_service, station_speed

KITCHEN_GROUP = "kitchen"  # every kitchen display: every update, as a full ticket
TRACK_GROUP = "track"  # every public tracking page (told to reload after a broker outage)
BOARD_GROUP = "board"  # every customer board: every update, as a public status (each board filters by type)
MENU_GROUP = "menu"  # every guest ordering page: the menu's version, at every change of the menu
GROUP_SAFE = re.compile(r"[A-Za-z0-9_.-]{1,80}")  # what a group name may hold: an order number does


def order_group(number: str) -> str:
    """The tracking pages of one order."""
    return f"order.{number}"


OFF_DISPLAY = (OrderStatus.COMPLETED, OrderStatus.CANCELLED)
# Delivery orders leave with a driver, not over the counter: a board shows them only when asked to.
BOARD_DEFAULT_TYPES = (OrderType.TAKEOUT, OrderType.DINE_IN)


def board_order_types(value: str | None) -> tuple[str, ...] | None:
    """The order types a board shows, from its `?types=` (comma-separated; absent: takeout and
    dine-in); None when it names an unknown type or none at all. Shared by the page and its socket.

    Refused rather than ignored: a board is set up once and then read from across the room, so a
    typo (`?types=takout`) must show at once as an error, not as a board that silently misses orders.
    """
    if value is None:
        return BOARD_DEFAULT_TYPES
    types = tuple(dict.fromkeys(part.strip() for part in value.split(",") if part.strip()))
    if not types or not set(types) <= set(OrderType.values):
        return None
    return types


# --- the read models ---------------------------------------------------------------------------


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def kitchen_ticket(order: Order) -> dict[str, Any]:
    """An order as a kitchen ticket; `order` carries `version` (annotated) and prefetched items."""
    return {
        "order_number": order.number,
        "status": order.status,
        "order_type": order.order_type,
        "table_number": order.table_number,
        "delivery_address": order.delivery_address,
        "priority": order.priority,
        "items": [
            {
                "id": item.id,
                "name": item.name,
                "quantity": item.quantity,
                "station": item.station or None,  # None: a free item, shown on every station screen
                "modifiers": [modifier["name"] for modifier in item.modifiers],
                "notes": item.notes,
                "prepared": item.prepared_at is not None,
                "prepared_by": item.prepared_by or None,
            }
            for item in order.items.all()
        ],
        "notes": order.notes,
        "created_at": _iso(order.created_at),
        "processed_by": order.processed_by,
        "estimated_completion": _iso(order.estimated_completion),
        "promised_at": _iso(order.promised_at),
        "fire_at": _iso(order.fire_at),
        "version": order.version,
    }


def public_status(order: Order) -> dict[str, Any]:
    """What anyone holding the order number may see: no name, no address, no items.

    `fire_at` (here and on the ticket): an order for later is held until then (Order.is_held); a screen
    shows it as held until that time comes by the server's clock (the snapshots' `now`) and then as an
    ordinary order by itself, since nothing changes the order at its fire time."""
    return {
        "order_number": order.number,
        "status": order.status,
        "order_type": order.order_type,
        "estimated_completion": _iso(order.estimated_completion),
        "promised_at": _iso(order.promised_at),
        "fire_at": _iso(order.fire_at),
        "version": order.version,
    }


def _orders():
    # An order's version: the highest of its status log ids and its items' marks (one sequence).
    marks = Coalesce(Max("items__mark_version"), 0, output_field=BigIntegerField())
    version = Greatest(Max("status_log__id"), marks, output_field=BigIntegerField())
    return Order.objects.annotate(version=version).prefetch_related("items")


def kitchen_snapshot() -> dict[str, Any]:
    # The version first: an order changed while the orders are read shows its newer state, and its
    # update (a higher version) is applied again, harmlessly.
    version = max(
        OrderStatusLog.objects.aggregate(version=Max("id"))["version"] or 0,
        OrderItem.objects.aggregate(version=Max("mark_version"))["version"] or 0,
    )
    orders = _orders().exclude(status__in=OFF_DISPLAY).order_by("-priority", "created_at")
    return {
        "type": "snapshot",
        "orders": [kitchen_ticket(order) for order in orders],
        "version": version,
        "now": timezone.now().isoformat(),  # the server's clock, for the held orders' fire times
    }


def screen_snapshot() -> dict[str, Any]:
    """What a kitchen screen starts from, read in one thread hop: the tickets, the 86 list, the figures,
    the ASAP pause."""
    return {**kitchen_snapshot(), "menu": sold_out(), "speed": kitchen_speed(), "pause": asap_pause_view()}


def asap_pause_view() -> dict[str, Any]:
    """The ASAP pause as the kitchen screens show it (orders/pause.py): until when (ISO 8601, None when
    there is none) and that time as HH:MM in the restaurant's zone, who paused, and the server's `now`,
    so a screen ends the banner by the server's clock rather than its own."""
    now = timezone.now()
    until, paused_by = asap_pause_now(now)
    local = local_clock_time(until) if until else None
    return {"paused_until": _iso(until), "until_local": local, "paused_by": paused_by, "now": now.isoformat()}


def menu_snapshot() -> dict[str, Any]:
    """What a guest ordering page hears on connecting and at every change: the menu's version (it
    reads GET /menu again when that moved). Nothing that GET /menu does not say."""
    return {"type": "menu", "version": menu_version()}


def order_views(number: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The kitchen ticket and the public status of one order (one read), or None if there is no such order."""
    order = _orders().filter(number=number).first()
    return (kitchen_ticket(order), public_status(order)) if order is not None else None


# The newest open orders a board's snapshot holds: more than any screen shows, and well under the
# 1 MiB a WebSocket message may carry (daphne refuses a bigger one, and the board would never load).
BOARD_ORDERS = 500


def board_snapshot(*, order_types: Iterable[str]) -> dict[str, Any]:
    """The customer board: the public status of every open order of `order_types`, oldest first,
    each with `ready_at` (the time of its live `ready` row, so a recalled order counts from its
    recall; None until it is ready), the version as in kitchen_snapshot, and `now`, so the board
    tells how long an order has been ready by the server's clock rather than its own."""
    version = OrderStatusLog.objects.aggregate(version=Max("id"))["version"] or 0
    live_ready = Q(status_log__status=OrderStatus.READY, status_log__superseded=False)
    newest = (
        Order.objects.annotate(version=Max("status_log__id"), ready_at=Max("status_log__changed_at", filter=live_ready))
        .filter(order_type__in=list(order_types))
        .exclude(status__in=OFF_DISPLAY)
        .order_by("-created_at", "-id")[:BOARD_ORDERS]
    )
    return {
        "type": "snapshot",
        "orders": [{**public_status(order), "ready_at": _iso(order.ready_at)} for order in reversed(newest)],
        "version": version,
        "now": timezone.now().isoformat(),
    }


def kitchen_speed(*, now: datetime | None = None) -> dict[str, Any]:
    """What every kitchen screen shows: `speed_of_service` of the last hour, and how many orders are
    cooking past their estimated completion right now (`overdue`)."""
    now = now or timezone.now()
    figures = speed_of_service(since=now - timedelta(hours=1), until=now)
    overdue = Order.objects.filter(status=OrderStatus.COOKING, estimated_completion__lt=now - LATE_AFTER)
    figures["overdue"] = overdue.count()
    figures["stations"] = station_speed(since=now - timedelta(hours=1), until=now)
    return figures


def changes_speed(old_status: str, new_status: str) -> bool:
    """Whether a status change moves `kitchen_speed`: an order made ready (or recalled to ready) or
    one that stops cooking (it may have been overdue). An item's mark moves a station's figures too."""
    return new_status == OrderStatus.READY or old_status == OrderStatus.COOKING


# --- the updates: (group, message) pairs for the bridge to send ---------------------------------

Update = tuple[str, dict[str, Any]]


def order_updates(number: str, *, public: bool = True) -> list[Update]:
    """One order's change from one read: every kitchen screen its ticket, and with `public` its
    trackers and every board its public status (an item's mark is not public: that status shows no
    items). Nothing for an unknown order."""
    views = order_views(number)
    if views is None:
        return []
    ticket, status = views
    updates = [(KITCHEN_GROUP, {"type": "order.update", "order": ticket, "version": ticket["version"]})]
    if public:
        message = {"type": "order.update", "order": status, "version": status["version"]}
        updates += [(order_group(number), message), (BOARD_GROUP, message)]
    return updates


def menu_update() -> list[Update]:
    """The 86 list, read once, to every kitchen screen; its version to every ordering page."""
    message = {"type": "menu.update", "menu": sold_out()}
    return [(KITCHEN_GROUP, message), (MENU_GROUP, message)]


def pause_update() -> list[Update]:
    """The ASAP pause, read once, to every kitchen screen (a Manager paused or resumed)."""
    return [(KITCHEN_GROUP, {"type": "pause.update", "pause": asap_pause_view()})]


def speed_update() -> list[Update]:
    """The speed figures, read once for every kitchen screen of the process."""
    return [(KITCHEN_GROUP, {"type": "speed.update", "speed": kitchen_speed()})]


EVERY_SCREEN = (KITCHEN_GROUP, TRACK_GROUP, BOARD_GROUP, MENU_GROUP)  # each socket is in exactly one of these
MENU_FOLLOWERS = (KITCHEN_GROUP, MENU_GROUP)  # the screens that hear the menu's NOTIFY


def resync(groups: Iterable[str] = EVERY_SCREEN) -> list[Update]:
    """The screens of `groups` take a fresh snapshot: updates for them were lost (the bridge was away)."""
    return [(group, {"type": "resync"}) for group in groups]


def bridge_status(up: bool) -> list[Update]:
    """Every screen is told whether updates reach it: while the bridge is down its light is red."""
    return [(group, {"type": "bridge.status", "up": up}) for group in EVERY_SCREEN]
