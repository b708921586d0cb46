"""The "Kitchen busy" page (/admin/kitchen-busy/, Managers: menu.pause_asap): pause new ASAP orders for
5, 10, 15, 30 or 60 minutes or a number typed (1–240), or take them again at once (orders/pause.py;
the expo screen has the same buttons, kitchen/views.py: kitchen_pause)."""

from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse

from orders.capacity import kitchen_clock, local_clock_time
from orders.pause import (
    PAUSE_CHOICES,
    PAUSE_MINUTES_MAX,
    PAUSE_MINUTES_MIN,
    asap_pause,
    asap_pause_now,
    asap_resume,
    pause_minutes,
)
from restaurant.admin_site import AdminPage
from restaurant.api import ApplicationError

PAUSE_PERMISSION = "menu.pause_asap"


def kitchen_busy_view(site: admin.AdminSite, request: HttpRequest) -> HttpResponse:
    """The pause under way and the buttons; a POST pauses (`minutes`) or resumes (`action=resume`)
    and comes back here, or answers 400 naming `minutes`, nothing changed."""
    error, who = None, request.user.get_username()
    if request.method == "POST":
        try:
            if request.POST.get("action") == "resume":
                asap_resume(resumed_by=who)
                messages.success(request, "New ASAP orders are taken again.")
            else:
                until = asap_pause(minutes=pause_minutes(request.POST.get("minutes")), paused_by=who)
                messages.success(request, f"New ASAP orders paused until {local_clock_time(until)}.")
        except ApplicationError as exc:
            error = "; ".join(exc.errors["minutes"])
        else:
            return HttpResponseRedirect(request.path)
    until, paused_by = asap_pause_now()
    zone = kitchen_clock().zone
    context = {
        **site.each_context(request),
        "title": "Kitchen busy",
        "subtitle": None,
        "paused_until": until.astimezone(zone) if until else None,
        "paused_by": paused_by,
        "time_zone": str(zone),
        "choices": PAUSE_CHOICES,
        "minutes_min": PAUSE_MINUTES_MIN,
        "minutes_max": PAUSE_MINUTES_MAX,
        "error": error,
        "typed": request.POST.get("minutes", "") if error else "",
    }
    return TemplateResponse(request, "admin/orders/kitchen_busy.html", context, status=400 if error else 200)


admin.site.register_page(
    AdminPage(
        app_label="orders",
        route="kitchen-busy/",
        url_name="kitchen_busy",
        name="Kitchen busy (pause ASAP orders)",
        object_name="KitchenBusy",
        permission=PAUSE_PERMISSION,
        view=kitchen_busy_view,
    )
)
