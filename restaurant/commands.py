"""What the management commands share: the wrapper every long-running command runs in
(run_kitchen_worker, run_notification_subscriber, run_outbox_relay): its log lines name its service
(SPEC §7), SIGTERM/SIGINT only set a stop flag its loop watches, and a topology clash
(TopologyMismatch) exits 1 with `topology_mismatch`: no retry would fix it, an operator must; and
the argument types their options share.
"""

import argparse
import sys

from django.core.management.base import BaseCommand

from restaurant import logging as app_logging
from restaurant.broker import TopologyMismatch
from restaurant.lifecycle import StopFlag
from restaurant.logging import service_logger


def positive_int(value: str) -> int:
    """An argument type: a whole number of at least 1."""
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {number}")
    return number


class LongRunningCommand(BaseCommand):
    service: str  # SPEC §7: the `service` of this process's log lines

    def run(self, stop: StopFlag, **options) -> int:
        """The command's work until `stop` is set; returns the exit code."""
        raise NotImplementedError

    def handle(self, *args, **options) -> None:
        app_logging.default_service = self.service
        stop = StopFlag().install()
        try:
            code = self.run(stop, **options)
        except TopologyMismatch as exc:
            service_logger(self.service).error("topology_mismatch", f"RabbitMQ topology clashes with ours: {exc}")
            code = 1
        sys.exit(code)
