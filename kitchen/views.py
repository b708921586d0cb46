"""The kitchen display (`/kitchen/`, Kitchen or Manager staff), the public tracking page
(`/track/<number>/`) and the public customer board (`/board/`): plain pages whose script opens the
WebSockets of kitchen/consumers.py."""

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from kitchen.screens import board_order_types
from kitchen.selectors import can_watch_expo, is_kitchen_staff
from orders.models import OrderType


@require_GET
def kitchen_display(request):
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path(), reverse("admin:login"))
    if not is_kitchen_staff(request.user):
        raise PermissionDenied
    return render(request, "kitchen/display.html", {"expo": False, "read_only": False})


@require_GET
def kitchen_expo(request):
    """The expo screen: whole orders with each station's progress; view only for Front of house."""
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path(), reverse("admin:login"))
    if not can_watch_expo(request.user):
        raise PermissionDenied
    return render(request, "kitchen/display.html", {"expo": True, "read_only": not is_kitchen_staff(request.user)})


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
