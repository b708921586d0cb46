from django.contrib import admin

from kitchen.models import Worker
from restaurant.admin import ReadOnlyAdmin


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
