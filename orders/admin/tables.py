"""The tables (issue 18) in the back office: the Manager's list, their keys rotated by an action, and a
printable sheet of their QR codes (/admin/orders/table/qr-sheet/)."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from orders.models import Table
from orders.tables import table_link, table_qr_svg, tables_rotate_keys


@admin.register(Table)
class TableAdmin(admin.ModelAdmin):
    list_display = ["number", "label", "active", "ordering_link", "key_rotated_at"]
    list_editable = ["label", "active"]
    list_filter = ["active"]
    search_fields = ["=number", "label"]
    fields = ["number", "label", "active", "key_rotated_at"]
    readonly_fields = ["key_rotated_at"]
    actions = ["rotate_keys"]

    @admin.display(description="guest ordering link")
    def ordering_link(self, table: Table) -> str:
        return format_html('<a href="{}">{}</a>', table_link(table), f"/order/?table={table.number}")

    @admin.action(description="Rotate the QR keys (printed codes stop working)", permissions=["change"])
    def rotate_keys(self, request: HttpRequest, queryset) -> None:
        count = tables_rotate_keys(queryset)
        self.message_user(request, f"New keys for {count} table(s): print their codes again.", messages.SUCCESS)

    def get_urls(self):
        sheet = path("qr-sheet/", self.admin_site.admin_view(self.qr_sheet_view), name="orders_table_qr_sheet")
        return [sheet, *super().get_urls()]

    def qr_sheet_view(self, request: HttpRequest) -> HttpResponse:
        """A page of QR codes, one per active table, to print and put on the tables."""
        if not self.has_change_permission(request):
            raise PermissionDenied
        tables = Table.objects.filter(active=True).order_by("number")
        codes = [{"table": table, "link": table_link(table), "svg": mark_safe(table_qr_svg(table))} for table in tables]
        context = {**self.admin_site.each_context(request), "title": "QR codes for the tables", "codes": codes}
        return TemplateResponse(request, "admin/orders/table/qr_sheet.html", context)
