"""The back office for the kitchen (SPEC §7): the workers, read-only, and the dead-letter page."""

from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from pika.exceptions import AMQPError

from kitchen import dead_letters
from kitchen.models import Worker
from restaurant.admin import ReadOnlyAdmin
from restaurant.admin_site import AdminPage, ScreenLink
from restaurant.broker import DEAD_LETTER_QUEUE, TopologyMismatch
from restaurant.roles import EXPO_WATCHERS, KITCHEN_STAFF

DEAD_LETTERS_PERMISSION = "kitchen.manage_dead_letters"
BROKER_ERRORS = (AMQPError, OSError, TopologyMismatch)


@admin.register(Worker)
class WorkerAdmin(ReadOnlyAdmin):
    """Read-only: workers register and beat themselves (kitchen/services.py)."""

    list_display = ["name", "online", "type", "orders_processed", "last_seen", "heartbeat_interval"]
    search_fields = ["name"]
    ordering = ["name"]
    readonly_fields = ["name", "online", "type", "status", "last_seen", "orders_processed", "heartbeat_interval"]
    fields = readonly_fields

    @admin.display(boolean=True, description="online")
    def online(self, worker: Worker) -> bool:
        """As GET /workers/status says: a worker silent for 2 × its heartbeat interval is offline,
        whatever its row says."""
        return worker.is_live()


def dead_letters_view(site: admin.AdminSite, request: HttpRequest) -> HttpResponse:
    """The first messages of `dead_letter_queue` (listing leaves them in place), each with a
    replay and a discard button. The work is kitchen/dead_letters.py's, as for `manage.py dead_letters`."""
    if request.method == "POST":
        _act_on_dead_letter(request)
        return HttpResponseRedirect(request.path)
    letters = []
    try:
        letters = dead_letters.dead_letter_list(dead_letters.DEFAULT_LIMIT)
    except BROKER_ERRORS as exc:
        messages.error(request, f"RabbitMQ is unavailable: {type(exc).__name__}: {exc}")
    context = {
        **site.each_context(request),
        "title": "Dead letters",
        "subtitle": None,
        "queue": DEAD_LETTER_QUEUE,
        "letters": letters,
        "limit": dead_letters.DEFAULT_LIMIT,
    }
    return TemplateResponse(request, "admin/kitchen/dead_letters.html", context)


def _act_on_dead_letter(request: HttpRequest) -> None:
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


admin.site.register_page(
    AdminPage(
        app_label="kitchen",
        route="dead-letters/",
        url_name="dead_letters",
        name="Dead letters",
        object_name="DeadLetter",
        permission=DEAD_LETTERS_PERMISSION,
        view=dead_letters_view,
    )
)

# The live screens, served by the display process: linked from the admin's index for who may open them.
for screen in (
    ScreenLink("Kitchen display", "kitchen-display", "tickets to start, mark and bump", KITCHEN_STAFF),
    ScreenLink("Expo", "kitchen-expo", "whole orders, ready to run first", EXPO_WATCHERS),
    ScreenLink("Customer board", "customer-board", "the numbers being prepared and ready (public)"),
):
    admin.site.register_screen(screen)
admin.site.view_site_url_name = "customer-board"  # "View site": the public board
