"""The back office for orders (SPEC §7). Read-only but for two actions and the staff order entry,
each a call of the service that the API and the kitchen use too (orders/services.py)."""

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from rest_framework.authtoken.admin import TokenAdmin
from rest_framework.authtoken.models import TokenProxy

from menu.apis import menu_json
from menu.selectors import menu_document, menu_version
from orders.forms import ItemRowFormSet, StaffOrderForm, attach_errors, order_data, picked_lines
from orders.models import Order, OrderItem, OrderStatus, OrderStatusLog
from orders.selectors import speed_of_service, speed_of_service_by_hour, station_speed
from orders.services import (
    OrderNotFound,
    StatusChange,
    TransitionNotAllowed,
    order_cancel,
    order_create,
    order_mark_completed,
)
from orders.validation import OrderInvalid, validate_order
from restaurant.admin import ReadOnlyInline
from restaurant.admin_site import AdminPage
from restaurant.roles import TOKEN_MANAGERS, has_role

ORDER_FIELDS = [
    "number",
    "status",
    "customer_name",
    "order_type",
    "table_number",
    "delivery_address",
    "notes",
    "total_amount",
    "priority",
    "processed_by",
    "estimated_completion",
    "completed_at",
    "created_at",
    "updated_at",
]


class OrderItemInline(ReadOnlyInline):
    model = OrderItem
    fields = readonly_fields = ["name", "quantity", "price", "sku", "station", "options", "notes", "prepared_at"]

    @admin.display(description="options")
    def options(self, item: OrderItem) -> str:
        """The chosen options as they were sold: name and price delta."""
        return ", ".join(f"{m['name']} (+{m['price_delta']})" for m in item.modifiers) or "-"


class OrderStatusLogInline(ReadOnlyInline):
    model = OrderStatusLog
    verbose_name = "status change"
    verbose_name_plural = "status history"
    fields = readonly_fields = ["status", "changed_by", "changed_at", "notes"]
    ordering = ["changed_at", "id"]


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = [
        "number",
        "customer_name",
        "order_type",
        "status",
        "priority",
        "total_amount",
        "processed_by",
        "created_at",
    ]
    list_filter = ["status", "order_type", "priority", "created_at", "processed_by"]
    date_hierarchy = "created_at"
    search_fields = ["number", "customer_name"]
    ordering = ["-created_at", "-id"]
    fields = readonly_fields = ORDER_FIELDS
    inlines = [OrderItemInline, OrderStatusLogInline]
    actions = ["mark_completed", "cancel"]
    # Orders only grow: no COUNT(*) of the whole table on every page.
    show_full_result_count = False

    # --- what staff may do ---------------------------------------------------------------------

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # status changes only through the actions; the rest is the customer's order

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # an order's history is kept

    def has_complete_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("orders.complete_order")

    def has_cancel_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("orders.cancel_order")

    # --- actions -------------------------------------------------------------------------------

    @admin.action(description="Mark completed", permissions=["complete"])
    def mark_completed(self, request: HttpRequest, queryset) -> None:
        self._transition(request, queryset, OrderStatus.COMPLETED, order_mark_completed)

    @admin.action(description="Cancel", permissions=["cancel"])
    def cancel(self, request: HttpRequest, queryset) -> None:
        self._transition(request, queryset, OrderStatus.CANCELLED, order_cancel, reason="cancelled in the back office")

    def _transition(
        self, request: HttpRequest, queryset, to: str, service: Callable[..., StatusChange], **arguments: str
    ) -> None:
        """One service call (one transaction) per order: a refusal leaves the others done; an order
        already in `to` is a no-op of the service, reported apart."""
        by = request.user.get_username()
        done, already = [], []
        for number in queryset.order_by("number").values_list("number", flat=True):
            try:
                change = service(number=number, changed_by=by, **arguments)
            except (TransitionNotAllowed, OrderNotFound) as exc:
                reason = "; ".join(message for errors in exc.errors.values() for message in errors)
                self.message_user(request, f"{number} not {to}: {reason}.", messages.ERROR)
                continue
            (done if change.changed else already).append(number)
        if done:
            self.message_user(request, f"{to.capitalize()}: {', '.join(done)}.", messages.SUCCESS)
        if already:
            self.message_user(request, f"Already {to}: {', '.join(already)}.", messages.WARNING)

    # --- staff order entry ---------------------------------------------------------------------

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context=None) -> HttpResponse:
        """A phone or walk-in order: validate_order and order_create, as POST /orders does."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        errors: list[tuple[str, list[str]]] = []
        if request.method == "POST":
            form, items = StaffOrderForm(request.POST), ItemRowFormSet(request.POST, prefix="items")
            picked = request.POST.get("menu_lines", "")
            if form.is_valid() and items.is_valid():
                data, rows = order_data(form, items, picked_lines(picked))
                try:
                    order = order_create(data=validate_order(data), changed_by=request.user.get_username())
                except OrderInvalid as exc:
                    errors = attach_errors(exc.errors, form, items, rows)
                else:
                    self.log_addition(request, order, [{"added": {}}])
                    message = f"Order {order.number} received: total {order.total_amount}, priority {order.priority}."
                    self.message_user(request, message, messages.SUCCESS)
                    url = reverse("admin:orders_order_change", args=[order.pk], current_app=self.admin_site.name)
                    return HttpResponseRedirect(url)
        else:
            form, items, picked = StaffOrderForm(), ItemRowFormSet(prefix="items"), ""
        context = {
            **self.admin_site.each_context(request),
            "title": "Take an order",
            "subtitle": None,
            "opts": self.opts,
            "form": form,
            "items": items,
            "errors": errors,
            # The picker's data: the menu as GET /menu serves it, and the lines picked before an error.
            "menu": menu_document(menu_version(), menu_json),
            "picked": picked_lines(picked),
            "free_items": settings.MENU_MODE == "open",
            **(extra_context or {}),
        }
        return TemplateResponse(request, "admin/orders/order/staff_add.html", context)


# rest_framework.authtoken registers its admin first (it comes before orders in INSTALLED_APPS).
admin.site.unregister(TokenProxy)


@admin.register(TokenProxy)
class ApiTokenAdmin(TokenAdmin):
    """The staff order API's tokens: Managers and superusers only, whatever else a role was given: a
    token logs an app in as its user until it is deleted."""

    def _manages_tokens(self, request: HttpRequest) -> bool:
        return has_role(request.user, *TOKEN_MANAGERS)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self._manages_tokens(request)

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return self._manages_tokens(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self._manages_tokens(request)

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return self._manages_tokens(request)

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return self._manages_tokens(request)


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


def speed_of_service_view(site: admin.AdminSite, request: HttpRequest) -> HttpResponse:
    """Received → ready per hour of a chosen UTC day (?day=YYYY-MM-DD, today by default), with a chart."""
    try:
        day = date.fromisoformat(request.GET["day"]) if request.GET.get("day") else timezone.now().date()
    except ValueError:
        day = timezone.now().date()
        messages.error(request, "Choose a day as YYYY-MM-DD.")
    hours = speed_of_service_by_hour(day=day)
    start = datetime.combine(day, time.min, tzinfo=UTC)
    context = {
        **site.each_context(request),
        "title": "Speed of service",
        "subtitle": None,
        "day": day,
        "total": speed_of_service(since=start, until=start + timedelta(days=1)),
        "hours": [hour for hour in hours if hour["orders"]],
        "chart": _chart(hours),
        "stations": station_speed(since=start, until=start + timedelta(days=1)),
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
