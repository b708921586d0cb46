"""The speed-of-service report (/admin/speed-of-service/): received → ready per hour of a day, with
its SVG chart (the template: admin/orders/speed_of_service.html)."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from orders.capacity import kitchen_clock, today
from orders.selectors import speed_of_service, speed_of_service_by_hour, station_speed
from restaurant.admin_site import AdminPage

SPEED_PERMISSION = "orders.view_speed_of_service"
CHART_HEIGHT, BAR_WIDTH = 160, 24


def _chart(hours: list[dict]) -> dict:
    """Bars of the median and the 90th percentile per hour, scaled to the day's highest figure."""
    top = max((hour["p90_seconds"] or 0 for hour in hours), default=0) or 1
    bars = []
    for hour in hours:
        for offset, key in ((0, "median_seconds"), (BAR_WIDTH // 2, "p90_seconds")):
            height = round((hour[key] or 0) / top * CHART_HEIGHT)
            x = hour["hour"] * BAR_WIDTH + offset
            bars.append({"x": x, "y": CHART_HEIGHT - height, "height": height, "kind": key.split("_")[0]})
    return {"bars": bars, "width": 24 * BAR_WIDTH, "height": CHART_HEIGHT, "top_minutes": round(top / 60, 1)}


def _day_bounds(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The day from its midnight to the next on the restaurant's clock (23 or 25 hours when the clocks
    change), in UTC: the calendar's first and last days have no such bounds (OverflowError)."""
    start = datetime.combine(day, time.min, tzinfo=zone).astimezone(UTC)
    return start, datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone).astimezone(UTC)


def speed_of_service_view(site: admin.AdminSite, request: HttpRequest) -> HttpResponse:
    """Received → ready per hour of a chosen day on the restaurant's clock (its kitchen's time zone;
    ?day=YYYY-MM-DD, its today by default), with a chart."""
    zone = kitchen_clock().zone
    try:
        day = date.fromisoformat(request.GET["day"]) if request.GET.get("day") else today()
        start, end = _day_bounds(day, zone)
    except (ValueError, OverflowError):
        day = today()
        start, end = _day_bounds(day, zone)
        messages.error(request, "Choose a day as YYYY-MM-DD.")
    hours = speed_of_service_by_hour(day=day, zone=zone)
    context = {
        **site.each_context(request),
        "title": "Speed of service",
        "subtitle": None,
        "day": day,
        "time_zone": str(zone),
        "total": speed_of_service(since=start, until=end),
        "hours": [hour for hour in hours if hour["orders"]],
        "chart": _chart(hours),
        "stations": station_speed(since=start, until=end),
    }
    return TemplateResponse(request, "admin/orders/speed_of_service.html", context)


admin.site.register_page(
    AdminPage(
        app_label="orders",
        route="speed-of-service/",
        url_name="speed_of_service",
        name="Speed of service",
        object_name="SpeedOfService",
        permission=SPEED_PERMISSION,
        view=speed_of_service_view,
        methods=("GET",),
    )
)
