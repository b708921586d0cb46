"""The kitchen's capacity page (/admin/capacity/): a day's open slots × the stations that have a capacity,
each cell the units booked of the slot's capacity with a bar, and the day's total per station (the
template: admin/orders/capacity.html). The figures are orders/capacity.py's `day_slots`, as GET /slots
serves them."""

from datetime import date, datetime, timedelta
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse

from menu.models import Station
from orders.capacity import day_slots, today
from restaurant.admin_site import AdminPage

CAPACITY_PERMISSION = "orders.view_capacity"
BUSY_FROM = 80  # percent of a capacity at which a cell's bar turns amber (red when full)


def _load(used: int, capacity: int) -> dict:
    """A cell's figures: the bar's width in percent and its level (`""`, `busy` or `full`)."""
    percent = min(100, round(used * 100 / capacity)) if capacity else 100
    level = "full" if used >= capacity else "busy" if percent >= BUSY_FROM else ""
    return {"used": used, "capacity": capacity, "percent": percent, "level": level}


def _table(slots: dict, orders_url: str) -> dict:
    """`day_slots`' answer as the page's table: a row per slot in the restaurant's local time, a
    column per station with a capacity, and the day's totals per station."""
    zone = ZoneInfo(slots["time_zone"])
    present = {code for slot in slots["slots"] for code in slot["stations"]}
    # In the menu's order of stations (a station's display order, then its name), as the screens show them.
    names = dict(Station.objects.filter(code__in=present).values_list("code", "name"))
    codes = [*names, *sorted(present - names.keys())]
    rows = []
    for slot in slots["slots"]:
        start, end = (datetime.fromisoformat(slot[key]).astimezone(zone) for key in ("start", "end"))
        loads = slot["stations"]
        rows.append(
            {
                "start": start.strftime("%H:%M"),
                "end": end.strftime("%H:%M"),
                "full": slot["full"],
                # The orders promised for this slot: their promised_at is its end (UTC, as stored).
                "orders_url": f"{orders_url}?{urlencode({'promised_at': slot['end']})}",
                "cells": [{**_load(**loads[code]), "station": code} for code in codes],
            }
        )
    totals = [
        {
            **_load(
                sum(slot["stations"][code]["used"] for slot in slots["slots"]),
                sum(slot["stations"][code]["capacity"] for slot in slots["slots"]),
            ),
            "station": code,
        }
        for code in codes
    ]
    stations = [{"code": code, "name": names.get(code, code)} for code in codes]
    return {"stations": stations, "rows": rows, "totals": totals}


def capacity_view(site: admin.AdminSite, request: HttpRequest) -> HttpResponse:
    """A day's slots and their load (?date=YYYY-MM-DD, the restaurant's today by default); a bad date is
    a 400 page naming the parameter."""
    context = {**site.each_context(request), "title": "Kitchen capacity", "subtitle": None}
    raw = request.GET.get("date", "")
    try:
        day = date.fromisoformat(raw) if raw else today()
        previous_day, next_day = day - timedelta(days=1), day + timedelta(days=1)  # the calendar's edges overflow
        slots = day_slots(day)
    except ValueError:
        return _refused(request, context, raw, "must be a date YYYY-MM-DD")
    except OverflowError:  # a day at the calendar's edge, or one its time zone moves past it
        return _refused(request, context, raw, "is out of range")
    table = _table(slots, reverse("admin:orders_order_changelist", current_app=site.name))
    context |= {
        "day": day,
        "previous_day": previous_day,
        "next_day": next_day,
        "time_zone": slots["time_zone"],
        "slot_minutes": slots["slot_minutes"],
        **table,
    }
    return TemplateResponse(request, "admin/orders/capacity.html", context)


def _refused(request: HttpRequest, context: dict, raw: str, problem: str) -> HttpResponse:
    context |= {"error": {"field": "date", "value": raw, "problem": problem}}
    return TemplateResponse(request, "admin/orders/capacity.html", context, status=400)


admin.site.register_page(
    AdminPage(
        app_label="orders",
        route="capacity/",
        url_name="capacity",
        name="Kitchen capacity",
        object_name="Capacity",
        permission=CAPACITY_PERMISSION,
        view=capacity_view,
        methods=("GET",),
    )
)
