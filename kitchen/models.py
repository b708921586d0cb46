from datetime import datetime, timedelta

from django.db import models
from django.utils import timezone


class WorkerStatus(models.TextChoices):
    ONLINE = "online", "Online"
    OFFLINE = "offline", "Offline"


class Worker(models.Model):
    name = models.CharField(max_length=100, unique=True)
    # The order types it cooks, comma-separated, or "all".
    type = models.CharField(max_length=100, default="all")
    status = models.CharField(max_length=10, choices=WorkerStatus.choices, default=WorkerStatus.OFFLINE)
    last_seen = models.DateTimeField()
    orders_processed = models.PositiveIntegerField(default=0)
    heartbeat_interval = models.PositiveIntegerField(default=30, help_text="seconds")
    # Which running process holds the name: a process that was taken over (it stalled past
    # 2 × its heartbeat interval and another started) sees its heartbeat refused and stops.
    instance_id = models.CharField(max_length=64, blank=True, default="")
    # Where that process runs: a worker restarted on the same host after a crash takes its name
    # back at once when that pid is gone, instead of waiting for the row to go stale.
    host = models.CharField(max_length=255, blank=True, default="")
    pid = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "workers"
        # Dead letters live in RabbitMQ, not in a table: the permission to act on them hangs here.
        permissions = [("manage_dead_letters", "Can list, replay and discard dead letters")]

    def __str__(self) -> str:
        return self.name

    def is_stale(self, now: datetime | None = None) -> bool:
        """Silent for more than twice its own heartbeat interval."""
        return self.last_seen < (now or timezone.now()) - timedelta(seconds=2 * self.heartbeat_interval)

    def is_live(self, now: datetime | None = None) -> bool:
        """Online and not stale: what GET /workers/status and the admin report as online."""
        return self.status == WorkerStatus.ONLINE and not self.is_stale(now)
