"""Logins (issue 17 item 6): django-axes locks a username from one client address out after
LOGIN_FAILURE_LIMIT failures in a row, for LOGIN_LOCKOUT_MINUTES (settings.py's AXES_* settings).

Axes counts the failures in its own tables (`axes_accessattempt`), refuses a locked-out login in its
authentication backend, and its middleware turns the refused login page into `lockout_response`.
The client's address is `restaurant.throttling.client_address`, as for the rate limits, so behind
TRUSTED_PROXIES proxies a lockout is the client's, not the proxy's. Every refused login of a
locked-out pair is logged as `login_locked_out`.
"""

from axes.signals import user_locked_out
from django.conf import settings
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string

from restaurant.logging import service_logger

log = service_logger(None)


def lockout_response(request: HttpRequest, *args) -> HttpResponse:
    """AXES_LOCKOUT_CALLABLE: a small page, 429 with Retry-After. Every refusal is a failure that starts
    the cool-off again (axes' AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT), so the wait is the whole
    cool-off from now. (`args`: the refused response and the credentials, which axes' middleware passes
    in one order or another depending on the server; neither is needed.)"""
    minutes = settings.LOGIN_LOCKOUT_MINUTES
    page = render_to_string("restaurant/locked_out.html", {"minutes": minutes}, request=request)
    response = HttpResponse(page, status=429)
    response["Retry-After"] = str(minutes * 60)
    return response


@receiver(user_locked_out)
def log_lockout(sender, request: HttpRequest, username: str | None, ip_address: str | None, **kwargs) -> None:
    log.info(
        "login_locked_out",
        f"login refused: {settings.AXES_FAILURE_LIMIT} or more failed logins in a row, locked out for "
        f"{settings.LOGIN_LOCKOUT_MINUTES} min",
        details={
            "username": username,
            "client": ip_address,
            "failures": getattr(request, "axes_failures_since_start", None),
            "path": request.path,
        },
    )
