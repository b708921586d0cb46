"""The kitchen display (`/kitchen/`, Kitchen or Manager staff) and the public tracking page
(`/track/<number>/`): plain pages whose script opens the WebSockets of kitchen/consumers.py."""

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from kitchen.selectors import is_kitchen_staff


@require_GET
def kitchen_display(request):
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path(), reverse("admin:login"))
    if not is_kitchen_staff(request.user):
        raise PermissionDenied
    return render(request, "kitchen/display.html")


@require_GET
def track_order(request, number: str):
    return render(request, "kitchen/track.html", {"number": number})
