import sys

from django.core.management.base import BaseCommand

from restaurant import logging as app_logging
from restaurant.broker import TopologyMismatch
from restaurant.lifecycle import StopFlag
from restaurant.relay import OutboxRelay, log


class Command(BaseCommand):
    help = "Publish committed outbox rows to RabbitMQ (SPEC §5). Stops cleanly on SIGTERM/SIGINT."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--batch-size", type=int, default=200, help="rows per transaction when busy")

    def handle(self, *args, batch_size: int, **options) -> None:
        app_logging.default_service = "outbox-relay"
        if batch_size < 1:
            self.stderr.write("--batch-size must be at least 1")
            sys.exit(2)
        try:
            OutboxRelay(stop=StopFlag().install(), batch_size=batch_size).run()
        except TopologyMismatch as exc:
            log.error("topology_mismatch", f"RabbitMQ topology clashes with ours: {exc}")
            sys.exit(1)
