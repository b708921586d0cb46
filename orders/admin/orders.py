"""The order pages of the back office (SPEC §7): read-only but for two actions and the staff order
entry (orders/admin/entry.py), each a call of the service that the API and the kitchen use too
(orders/services.py)."""

from collections.abc import Callable

from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone

from orders.admin.entry import StaffOrderEntry
from orders.capacity import kitchen_clock
from orders.models import Order, OrderItem, OrderStatus, OrderStatusLog
from orders.services import (
    OrderNotFound,
    StatusChange,
    TransitionNotAllowed,
    order_cancel,
    order_mark_completed,
)
from restaurant.admin import ReadOnlyInline

ORDER_FIELDS = [
    "number",
    "status",
    "customer_name",
    "order_type",
    "table_number",
    "delivery_address",
    "notes",
    "contact_phone",
    "contact_email",
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
class OrderAdmin(StaffOrderEntry, admin.ModelAdmin):
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
    search_fields = ["number", "customer_name", "=contact_phone", "=contact_email"]
    ordering = ["-created_at", "-id"]
    fields = readonly_fields = ORDER_FIELDS
    inlines = [OrderItemInline, OrderStatusLogInline]
    actions = ["mark_completed", "cancel"]
    # Orders only grow: no COUNT(*) of the whole table on every page.
    show_full_result_count = False

    # --- the restaurant's clock ----------------------------------------------------------------

    def changelist_view(self, request: HttpRequest, extra_context=None) -> HttpResponse:
        """The list by the restaurant's calendar: its day filters (the date hierarchy, "Today", "Past
        7 days") and its times in the kitchen's zone, the day its staff, the speed report and a local
        order number (ORDER_NUMBER_DAY=local) speak of, not UTC's."""
        return _on_the_restaurants_clock(lambda: super(OrderAdmin, self).changelist_view(request, extra_context))

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context=None):
        return _on_the_restaurants_clock(
            lambda: super(OrderAdmin, self).change_view(request, object_id, form_url, extra_context)
        )

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


def _on_the_restaurants_clock(view: Callable[[], HttpResponse]) -> HttpResponse:
    """`view()`'s answer queried and rendered in the restaurant's time zone (a TemplateResponse is
    rendered here, while the zone is on, rather than later on its way out)."""
    with timezone.override(kitchen_clock().zone):
        response = view()
        if isinstance(response, TemplateResponse):
            response.render()
    return response
