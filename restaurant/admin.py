from django.contrib import admin
from django.db.models import Count, Min

from restaurant.models import OutboxMessage


class ReadOnlyMixin:
    """For what the system writes itself: staff may look, never add, change or delete. For a
    ModelAdmin and an inline alike (an inline's has_add_permission also gets the parent object)."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class ReadOnlyAdmin(ReadOnlyMixin, admin.ModelAdmin):
    """A model the system writes: its list and its pages, read only."""


class ReadOnlyInline(ReadOnlyMixin, admin.TabularInline):
    """Rows the system writes along with their parent: shown on its page, never edited there."""

    extra = 0
    can_delete = False


class OutboxStateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("pending", "Pending"), ("published", "Published")]

    def queryset(self, request, queryset):
        if self.value() == "pending":
            return queryset.filter(published_at__isnull=True)
        if self.value() == "published":
            return queryset.filter(published_at__isnull=False)
        return queryset


@admin.register(OutboxMessage)
class OutboxMessageAdmin(ReadOnlyAdmin):
    """Read-only: rows are written with the changes they announce and published by run_outbox_relay."""

    list_display = ["id", "exchange", "routing_key", "created_at", "published_at", "attempts", "last_error"]
    list_filter = [OutboxStateFilter, "exchange"]
    search_fields = ["=routing_key", "body"]
    ordering = ["-id"]
    readonly_fields = [field.name for field in OutboxMessage._meta.fields]
    # The table grows with every order: no COUNT(*) of all of it on each page.
    show_full_result_count = False

    def changelist_view(self, request, extra_context=None):
        pending = OutboxMessage.objects.filter(published_at__isnull=True).aggregate(
            count=Count("id"), oldest=Min("created_at")
        )
        extra_context = {
            **(extra_context or {}),
            "outbox_pending": pending["count"],
            "outbox_oldest_pending": pending["oldest"],
        }
        return super().changelist_view(request, extra_context)
