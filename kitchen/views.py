"""The kitchen display (`/kitchen/`, Kitchen or Manager staff), the public tracking page
(`/track/<number>/`) and the public customer board (`/board/`): plain pages whose script opens the
WebSockets of kitchen/consumers.py."""

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from orders.models import OrderType
from restaurant.roles import EXPO_WATCHERS, KITCHEN_STAFF, has_role

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


@require_GET
def kitchen_display(request):
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path(), reverse("admin:login"))
    if not has_role(request.user, *KITCHEN_STAFF):
        raise PermissionDenied
    return render(request, "kitchen/display.html", {"expo": False, "read_only": False})


@require_GET
def kitchen_expo(request):
    """The expo screen: whole orders with each station's progress; view only for Front of house."""
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path(), reverse("admin:login"))
    if not has_role(request.user, *EXPO_WATCHERS):
        raise PermissionDenied
    read_only = not has_role(request.user, *KITCHEN_STAFF)
    return render(request, "kitchen/display.html", {"expo": True, "read_only": read_only})


@require_GET
def track_order(request, number: str):
    # The board shows an order by its number of the day (ORD_20250101_042: 042).
    return render(request, "kitchen/track.html", {"number": number, "short_number": number.rpartition("_")[2]})


@require_GET
def customer_board(request):
    types = board_order_types(request.GET.get("types"))
    if types is None:
        context = {"invalid_types": request.GET.get("types"), "known_types": OrderType.values}
        return render(request, "kitchen/board.html", context, status=400)
    return render(request, "kitchen/board.html", {"types": list(types)})
