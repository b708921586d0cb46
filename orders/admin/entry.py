"""The back office's staff order entry: a phone or walk-in order taken on the order's "add" page,
through validate_order and order_create as POST /orders takes one (the form: orders/forms.py)."""

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse

from menu.apis import menu_json
from menu.selectors import menu_document, menu_version
from orders.forms import ItemRowFormSet, StaffOrderForm, attach_errors, order_data, picked_lines, picker_rules
from orders.services import order_create
from orders.validation import OrderInvalid, validate_order


class StaffOrderEntry:
    """A ModelAdmin mixin: the order's add page is the staff order entry."""

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
            "picker_rules": picker_rules(),
            "free_items": settings.MENU_MODE == "open",
            **(extra_context or {}),
        }
        return TemplateResponse(request, "admin/orders/order/staff_add.html", context)
