from django.contrib import admin
from django.utils import timezone

from kitchen.models import Worker, WorkerStatus
from kitchen.services import worker_is_stale


@admin.register(Worker)
class WorkerAdmin(admin.ModelAdmin):
    """Read-only: workers register and beat themselves (kitchen/services.py)."""

    list_display = ["name", "online", "type", "orders_processed", "last_seen", "heartbeat_interval"]
    search_fields = ["name"]
    ordering = ["name"]
    readonly_fields = ["name", "online", "type", "status", "last_seen", "orders_processed", "heartbeat_interval"]
    fields = readonly_fields

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(boolean=True, description="online")
    def online(self, worker: Worker) -> bool:
        """As GET /workers/status says: a worker silent for 2 × its heartbeat interval is offline,
        whatever its row says."""
        return worker.status == WorkerStatus.ONLINE and not worker_is_stale(worker, timezone.now())
