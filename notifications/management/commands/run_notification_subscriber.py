import argparse
import sys

from django.core.management.base import BaseCommand

from notifications.subscriber import SUBSCRIBER_NAME, NotificationSubscriber, log
from restaurant import logging as app_logging
from restaurant.broker import TopologyMismatch
from restaurant.lifecycle import StopFlag


def subscriber_name(value: str) -> str:
    if not SUBSCRIBER_NAME.fullmatch(value):
        raise argparse.ArgumentTypeError(f"{value!r}: must be 1 to 100 characters of A-Z a-z 0-9 _ . -")
    return value


class Command(BaseCommand):
    help = (
        "Print a line for every order status update (SPEC §6). With --subscriber-name the queue is durable "
        "and catches up on what was missed; without, it is exclusive. Stops cleanly on SIGTERM/SIGINT."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--subscriber-name", type=subscriber_name, default=None)

    def handle(self, *args, subscriber_name, **options):
        app_logging.default_service = "notification-subscriber"
        stop = StopFlag().install()
        subscriber = NotificationSubscriber(name=subscriber_name, stop=stop, out=sys.stdout)
        try:
            code = subscriber.run()
        except TopologyMismatch as exc:
            log.error("topology_mismatch", f"RabbitMQ topology clashes with ours: {exc}")
            subscriber.disconnect()
            sys.exit(1)
        sys.exit(code)
