from restaurant.commands import LongRunningCommand
from restaurant.relay import OutboxRelay


class Command(LongRunningCommand):
    help = "Publish committed outbox rows to RabbitMQ (SPEC §5). Stops cleanly on SIGTERM/SIGINT."
    service = "outbox-relay"

    def add_arguments(self, parser) -> None:
        parser.add_argument("--batch-size", type=int, default=500, help="rows per transaction when busy")

    def run(self, stop, *, batch_size: int, **options) -> int:
        if batch_size < 1:
            self.stderr.write("--batch-size must be at least 1")
            return 2
        return OutboxRelay(stop=stop, batch_size=batch_size).run()
