import argparse
import sys

from notifications.subscriber import SUBSCRIBER_NAME, NotificationSubscriber
from restaurant.commands import LongRunningCommand


def subscriber_name(value: str) -> str:
    if not SUBSCRIBER_NAME.fullmatch(value):
        raise argparse.ArgumentTypeError(f"{value!r}: must be 1 to 100 characters of A-Z a-z 0-9 _ . -")
    return value


class Command(LongRunningCommand):
    help = (
        "Print a line for every order status update (SPEC §6). With --subscriber-name the queue is durable "
        "and catches up on what was missed; without, it is exclusive. Stops cleanly on SIGTERM/SIGINT."
    )
    service = "notification-subscriber"

    def add_arguments(self, parser) -> None:
        parser.add_argument("--subscriber-name", type=subscriber_name, default=None)

    def run(self, stop, *, subscriber_name, **options) -> int:
        return NotificationSubscriber(name=subscriber_name, stop=stop, out=sys.stdout).run()
