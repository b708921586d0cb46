"""The kitchen display (`/kitchen/`, Kitchen or Manager staff), the public tracking page
(`/track/<number>/`), the public customer board (`/board/`) and the guests' ordering page
(`/order/`): plain pages whose script (kitchen/static/kitchen/, through live.js) opens the WebSockets
of kitchen/consumers.py. What the scripts need from the server (the socket's path, the rules the
server owns, the menu) reaches them through `json_script`."""

import inspect
import json
import re

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST
from rest_framework.renderers import JSONRenderer

from kitchen.screens import asap_pause_view, board_order_types
from menu.apis import menu_json
from menu.models import Station
from menu.selectors import menu_document, menu_version
from orders.capacity import kitchen_clock
from orders.errors import OrderNotFound, utc_text
from orders.models import TRANSITIONS, OrderType, Table
from orders.pause import EXPO_PAUSE_CHOICES, asap_pause, asap_resume, pause_minutes
from orders.rules import CONTACT_RULES, MENU_ITEM_RULES, ORDER_RULES
from orders.selectors import order_get, table_for_key
from orders.services import order_recall
from orders.timing import cooking_time
from restaurant.api import ApplicationError, error_body
from restaurant.roles import EXPO_WATCHERS, KITCHEN_STAFF, has_role

# A ticket's one button: the socket action (kitchen/consumers.py) that makes the order's transition of
# the state machine, shown on the tickets whose status the transition starts from.
SCREEN_STEPS = (("start", "Start", "start_cooking"), ("ready", "Ready", "mark_ready"), ("bump", "Bump", "complete"))
EXPO_STEPS = {"bump"}  # expo runs orders out: the order-level bump (and recall) only
# How long a bumped order may be recalled: order_recall's own default, not restated.
RECALL_WITHIN = inspect.signature(order_recall).parameters["within"].default


def restaurant_zone() -> str:
    """The restaurant's time zone (its menu's kitchen), whose time the screens' clocks show
    (`json_script` "time-zone", read by live.js: `restaurantZone`)."""
    return str(kitchen_clock().zone)


def display_config(*, expo: bool, read_only: bool) -> dict:
    """What the display's script needs from the server: its socket, the next step of an order per
    status (none on a view-only screen) and the recall."""
    steps = [] if read_only else [step for step in SCREEN_STEPS if not expo or step[0] in EXPO_STEPS]
    next_steps = {
        status: {"action": action, "label": label}
        for action, label, transition in steps
        for status in TRANSITIONS[transition].sources
    }
    recall = (
        None
        if read_only
        else {"action": "recall", "label": "Recall", "window_ms": RECALL_WITHIN.total_seconds() * 1000}
    )
    return {
        "socket": "/ws/kitchen/expo/" if expo else "/ws/kitchen/",
        "expo": expo,
        "read_only": read_only,
        "next_steps": next_steps,
        "recall": recall,
    }


PAUSE_PERMISSION = "menu.pause_asap"  # the Manager's (menu/migrations/0008)


def _display(request, *, expo: bool, read_only: bool):
    config = display_config(expo=expo, read_only=read_only)
    # A Manager on expo pauses new ASAP orders from it (kitchen_pause); every screen shows the pause.
    pause_choices = EXPO_PAUSE_CHOICES if expo and request.user.has_perm(PAUSE_PERMISSION) else ()
    context = {
        "expo": expo,
        "read_only": read_only,
        "config": config,
        "time_zone": restaurant_zone(),
        "pause_choices": pause_choices,
    }
    return render(request, "kitchen/display.html", context)


@require_GET
def kitchen_display(request):
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path(), reverse("admin:login"))
    if not has_role(request.user, *KITCHEN_STAFF):
        raise PermissionDenied
    return _display(request, expo=False, read_only=False)


@require_GET
def kitchen_expo(request):
    """The expo screen: whole orders with each station's progress; view only for Front of house."""
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path(), reverse("admin:login"))
    if not has_role(request.user, *EXPO_WATCHERS):
        raise PermissionDenied
    return _display(request, expo=True, read_only=not has_role(request.user, *KITCHEN_STAFF))


@require_POST
def kitchen_pause(request):
    """POST /kitchen/expo/pause/ (the expo's buttons, kitchen/static/kitchen/pause.js; CSRF-checked as
    every form): `minutes=<1–240>` pauses new ASAP orders for that long, `action=resume` takes them
    again. Managers only (menu.pause_asap): anyone else 403. Answers the pause as the screens show it,
    or a 400 naming the field; every kitchen screen hears the change through its bridge."""
    if not request.user.is_authenticated or not request.user.has_perm(PAUSE_PERMISSION):
        raise PermissionDenied
    who = request.user.get_username()
    try:
        if request.POST.get("action") == "resume":
            asap_resume(resumed_by=who)
        else:
            asap_pause(minutes=pause_minutes(request.POST.get("minutes")), paused_by=who)
    except ApplicationError as exc:
        return JsonResponse(error_body(exc.code, exc.errors), status=exc.status_code)
    return JsonResponse(asap_pause_view())


@require_GET
def track_order(request, number: str):
    """The order's step bar, or a 404 page when no order has this number (a mistyped number must
    not look like an order that is waiting)."""
    # The board shows an order by its number of the day (ORD_20250101_042: 042).
    context = {"number": number, "short_number": number.rpartition("_")[2]}
    try:
        order_get(number=number)
    except OrderNotFound:
        return render(request, "kitchen/track.html", {**context, "unknown": True}, status=404)
    # The status itself comes by the socket; the promised time is shown on the restaurant's clock.
    config = {"socket": f"/ws/orders/{number}/", "time_zone": restaurant_zone()}
    return render(request, "kitchen/track.html", {**context, "config": config, "time_zone": restaurant_zone()})


@require_GET
def customer_board(request):
    types = board_order_types(request.GET.get("types"))
    zone = restaurant_zone()  # its clock shows the restaurant's time, on a board set up wrong too
    if types is None:
        context = {"invalid_types": request.GET.get("types"), "known_types": OrderType.values, "time_zone": zone}
        return render(request, "kitchen/board.html", context, status=400)
    context = {"types": list(types), "config": {"socket": "/ws/board/"}, "time_zone": zone}
    return render(request, "kitchen/board.html", context)


# What a guest may order without a table's code; dine-in needs one (the table is the QR code's).
GUEST_ORDER_TYPES = (OrderType.TAKEOUT, OrderType.DELIVERY)
TABLE_PARAMETER = re.compile(r"[0-9]{1,3}")


def guest_rules() -> dict[str, dict[str, int]]:
    """The limits the ordering page's inputs show (orders/rules.py's; POST /orders still judges)."""
    quantity, address = MENU_ITEM_RULES["quantity"], ORDER_RULES["delivery_address"]
    return {
        "quantity": {"min": quantity.min, "max": quantity.max},
        "item_notes": {"max": MENU_ITEM_RULES["notes"].max},
        "lines": {"max": ORDER_RULES["items"].max},
        "customer_name": {"max": ORDER_RULES["customer_name"].max},
        "delivery_address": {"min": address.min, "max": address.max},
        "phone": {"max": CONTACT_RULES["phone"].max},
        "email": {"max": CONTACT_RULES["email"].max},
    }


def guest_kitchen() -> dict:
    """What the ordering page needs to offer the times POST /orders will take (orders/capacity.py):
    how many days ahead, the ASAP horizon, the slot's length, how long an order takes (each station's
    prep time and each order type's cooking time, scaled, in seconds: an order's lead is the longest
    of its stations', its type's when none has one) and the server's now, as a phone's clock may be
    off. The slots themselves, their room and the restaurant's zone come from GET /slots."""
    clock = kitchen_clock()
    scale = settings.COOKING_TIME_SCALE
    stations = Station.objects.filter(prep_seconds__gt=0).values_list("code", "prep_seconds")
    return {
        "days_ahead": clock.days_ahead,
        "asap_horizon_minutes": int(clock.horizon.total_seconds() // 60),
        "slot_minutes": int(clock.slot.total_seconds() // 60),
        "leads": {
            "stations": {code: seconds * scale for code, seconds in stations},
            "order_types": {order_type: cooking_time(order_type).total_seconds() for order_type in OrderType.values},
        },
        "now": utc_text(timezone.now()),
    }


def _linked_table(number: str, key: str) -> Table | None:
    """The table a QR code's link names, when its key is that active table's current one."""
    return table_for_key(int(number), key) if TABLE_PARAMETER.fullmatch(number) else None


@require_GET
def order_page(request):
    """The guests' ordering page: the menu (as GET /menu serves it, kept live through /ws/menu/), a
    cart, when it should be ready (as soon as possible or a slot of GET /slots: `guest_kitchen`) and
    the guest's details; its script places the order with POST /orders on this same origin (the
    display serves the whole URLconf) and opens the order's tracking page.

    Opened from a table's QR code (`?table=<n>&key=<key>`) it orders dine-in for that table, shown
    and not editable; a code that is not the table's current one (a rotated key, an inactive or
    unknown table) gets a page saying so, with no form: 403. Without `table`: takeout or delivery."""
    rules = guest_rules()
    context = {"restaurant": settings.RESTAURANT_NAME, "rules": rules}
    table = None
    if "table" in request.GET:
        table = _linked_table(request.GET["table"], request.GET.get("key", ""))
        if table is None:
            return render(request, "kitchen/order.html", {**context, "refused": True}, status=403)
    version = menu_version()
    config = {
        "socket": "/ws/menu/",
        "menu_url": reverse("menu"),
        "orders_url": reverse("order-create"),
        "slots_url": reverse("slots"),
        "kitchen": guest_kitchen(),
        "track_url": reverse("track-order", kwargs={"number": "NUMBER"}),
        "table": {"number": table.number, "label": table.label, "key": table.key} if table else None,
        "order_types": [OrderType.DINE_IN] if table else list(GUEST_ORDER_TYPES),
        "rules": rules,
        # As GET /menu renders it (prices as JSON numbers), so the page reads one format first and after.
        "menu": json.loads(JSONRenderer().render(menu_document(version, menu_json))),
        "menu_version": version,
    }
    context |= {"table": table, "order_types": GUEST_ORDER_TYPES, "phone_region": settings.PHONE_REGION}
    return render(request, "kitchen/order.html", {**context, "config": config})
