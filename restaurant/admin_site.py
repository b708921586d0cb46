"""The back office (SPEC §7): Django's admin for Managers and Front of house, with a dead-letter page.

Installed as the default admin site by `restaurant.apps.RestaurantAdminConfig`, so every app's
`admin.py` registers on it as usual. This module registers nothing itself: the site class is imported
while the default site is being built.
"""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.decorators import method_decorator
from django.views.decorators.http import require_http_methods
from pika.exceptions import AMQPError

from kitchen import dead_letters
from restaurant.broker import DEAD_LETTER_QUEUE, TopologyMismatch

# The back office starts at seeing orders: a staff account of the Kitchen role (the kitchen display's
# users) holds no such permission, so the admin refuses it like a non-staff account.
BACK_OFFICE_PERMISSION = "orders.view_order"
DEAD_LETTERS_PERMISSION = "kitchen.manage_dead_letters"
BROKER_ERRORS = (AMQPError, OSError, TopologyMismatch)


class RestaurantAdminSite(admin.AdminSite):
    site_header = "Restaurant back office"
    site_title = "Restaurant back office"
    index_title = "Orders, kitchen and messaging"

    def has_permission(self, request: HttpRequest) -> bool:
        user = request.user
        return user.is_active and user.is_staff and user.has_perm(BACK_OFFICE_PERMISSION)

    def get_urls(self):
        return [
            path("dead-letters/", self.admin_view(self.dead_letters_view), name="dead_letters"),
            *super().get_urls(),
        ]

    def get_app_list(self, request: HttpRequest, app_label: str | None = None) -> list[dict]:
        """The registered models, plus the dead-letter page under Kitchen for those allowed on it."""
        app_list = super().get_app_list(request, app_label)
        if app_label not in (None, "kitchen") or not request.user.has_perm(DEAD_LETTERS_PERMISSION):
            return app_list
        url = reverse("admin:dead_letters", current_app=self.name)
        kitchen = next((app for app in app_list if app["app_label"] == "kitchen"), None)
        if kitchen is None:
            kitchen = {"name": "Kitchen", "app_label": "kitchen", "app_url": url, "has_module_perms": True}
            kitchen["models"] = []
            app_list = sorted([*app_list, kitchen], key=lambda app: app["name"].lower())
        entry = {"name": "Dead letters", "object_name": "DeadLetter", "admin_url": url, "add_url": None}
        kitchen["models"] = sorted([*kitchen["models"], {**entry, "view_only": True}], key=lambda m: m["name"])
        return app_list

    @method_decorator(require_http_methods(["GET", "POST"]))
    def dead_letters_view(self, request: HttpRequest) -> HttpResponse:
        """The first messages of `dead_letter_queue` (listing leaves them in place), each with a
        replay and a discard button. The work is kitchen/dead_letters.py's, as for `manage.py dead_letters`."""
        if not request.user.has_perm(DEAD_LETTERS_PERMISSION):
            raise PermissionDenied
        if request.method == "POST":
            self._act_on_dead_letter(request)
            return HttpResponseRedirect(request.path)
        letters = []
        try:
            letters = dead_letters.dead_letter_list(dead_letters.DEFAULT_LIMIT)
        except BROKER_ERRORS as exc:
            messages.error(request, f"RabbitMQ is unavailable: {type(exc).__name__}: {exc}")
        context = {
            **self.each_context(request),
            "title": "Dead letters",
            "subtitle": None,
            "queue": DEAD_LETTER_QUEUE,
            "letters": letters,
            "limit": dead_letters.DEFAULT_LIMIT,
        }
        return TemplateResponse(request, "admin/dead_letters.html", context)

    def _act_on_dead_letter(self, request: HttpRequest) -> None:
        action, letter_id = request.POST.get("action"), request.POST.get("id", "").strip()
        by = request.user.get_username()
        if action not in ("replay", "discard") or not letter_id:
            messages.error(request, "Choose a dead letter and replay or discard.")
            return
        try:
            if action == "replay":
                result = dead_letters.dead_letter_replay(ids=[letter_id], by=by)
                for letter in result.replayed:
                    messages.success(request, f"Dead letter {letter.id} replayed to {letter.routing_key}.")
                for letter, why in result.refused:
                    messages.error(request, f"Dead letter {letter.id} not replayed: {why}.")
            else:
                for letter in dead_letters.dead_letter_discard(ids=[letter_id], by=by):
                    messages.success(request, f"Dead letter {letter.id} discarded.")
        except dead_letters.DeadLetterNotFound:
            messages.warning(request, f"Dead letter {letter_id} is no longer in {DEAD_LETTER_QUEUE}.")
        except BROKER_ERRORS as exc:
            messages.error(request, f"RabbitMQ is unavailable: {type(exc).__name__}: {exc}")
