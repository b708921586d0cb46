import getpass
import re
from datetime import UTC

from django.core.management.base import BaseCommand, CommandError
from pika.exceptions import AMQPError

from kitchen import dead_letters
from kitchen.dead_letters import DeadLetter, DeadLetterNotFound
from restaurant import logging as app_logging
from restaurant.broker import DEAD_LETTER_QUEUE, ORDERS_EXCHANGE, TopologyMismatch
from restaurant.commands import positive_int

REASON_WIDTH = 60
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f]")


class Command(BaseCommand):
    help = (
        "Inspect and act on dead_letter_queue: `list` (leaves the queue as it is), `replay ID|--all` "
        "(back to orders_topic under the original routing key), `discard ID|--all`."
    )

    def add_arguments(self, parser) -> None:
        commands = parser.add_subparsers(dest="subcommand", required=True, metavar="{list,replay,discard}")
        listing = commands.add_parser("list", help="a table of the first --limit dead letters")
        listing.add_argument("--limit", type=positive_int, default=dead_letters.DEFAULT_LIMIT)
        for name, text in (
            ("replay", "republish to orders_topic under the original routing key, then remove"),
            ("discard", "remove for good (each one is logged: its id, reason and size)"),
        ):
            action = commands.add_parser(name, help=text)
            action.add_argument("ids", nargs="*", metavar="ID", help="as shown by `list`")
            action.add_argument("--all", action="store_true", dest="every", help="every dead letter")
            action.add_argument(
                "--scan-limit",
                type=positive_int,
                default=dead_letters.DEFAULT_SCAN_LIMIT,
                help="how many messages to look through for the ids",
            )

    def handle(self, *args, subcommand: str, **options) -> None:
        app_logging.default_service = "operator"
        if subcommand != "list" and bool(options["ids"]) == options["every"]:
            raise CommandError(f"{subcommand}: give one or more IDs, or --all", returncode=2)
        try:
            if subcommand == "list":
                self.show(options["limit"])
            elif subcommand == "replay":
                self.replay(options["ids"] or None, options["every"], options["scan_limit"])
            else:
                self.discard(options["ids"] or None, options["every"], options["scan_limit"])
        except DeadLetterNotFound as exc:
            raise CommandError(str(exc), returncode=1) from None
        except TopologyMismatch as exc:
            raise CommandError(f"RabbitMQ topology clashes with ours: {exc}", returncode=1) from None
        except (AMQPError, OSError) as exc:
            raise CommandError(f"RabbitMQ: {type(exc).__name__}: {exc}", returncode=1) from None

    def show(self, limit: int) -> None:
        letters = dead_letters.dead_letter_list(limit)
        if not letters:
            self.stdout.write(f"{DEAD_LETTER_QUEUE} is empty")
            return
        rows = [("ID", "ORDER", "REASON", "DEAD-LETTERED AT", "DEATHS", "REPLAYS", "ROUTING KEY")]
        rows += [_row(letter) for letter in letters]
        widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
        for row in rows:
            self.stdout.write("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
        for letter in letters:
            if not letter.parses:  # no order to name it by: its raw start says what it is
                raw = _visible(letter.body_preview)
                self.stdout.write(f"{letter.id}: body is not JSON ({letter.size} bytes): {raw}")
        total = dead_letters.dead_letter_count()
        more = f" (the first {len(letters)}: --limit shows more)" if total > len(letters) else ""
        self.stdout.write(f"{total} in {DEAD_LETTER_QUEUE}{more}")

    def replay(self, ids: list[str] | None, every: bool, scan_limit: int) -> None:
        result = dead_letters.dead_letter_replay(ids=ids, every=every, by=_operator(), scan_limit=scan_limit)
        if not result.replayed and not result.refused:
            self.stdout.write(f"nothing to replay: {DEAD_LETTER_QUEUE} is empty")
            return
        for letter in result.replayed:
            self.stdout.write(f"replayed {_name(letter)} to {ORDERS_EXCHANGE} {letter.routing_key}")
        for letter, why in result.refused:
            self.stderr.write(f"not replayed {_name(letter)}: {why}")
        if every:
            self.left()
        if result.refused:
            raise CommandError(
                f"{len(result.refused)} not replayed (still in {DEAD_LETTER_QUEUE}), {len(result.replayed)} replayed",
                returncode=1,
            )

    def discard(self, ids: list[str] | None, every: bool, scan_limit: int) -> None:
        discarded = dead_letters.dead_letter_discard(ids=ids, every=every, by=_operator(), scan_limit=scan_limit)
        if not discarded:
            self.stdout.write(f"nothing to discard: {DEAD_LETTER_QUEUE} is empty")
            return
        for letter in discarded:
            self.stdout.write(f"discarded {_name(letter)}: {letter.reason or 'no reason given'}")
        if every:
            self.left()

    def left(self) -> None:
        """After --all: what is still there (refused, beyond --scan-limit, or dead-lettered meanwhile)."""
        self.stdout.write(f"{dead_letters.dead_letter_count()} left in {DEAD_LETTER_QUEUE}")


def _row(letter: DeadLetter) -> tuple[str, ...]:
    reason = " ".join((letter.reason or "-").split())
    if len(reason) > REASON_WIDTH:
        reason = reason[: REASON_WIDTH - 1] + "…"
    at = letter.dead_lettered_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ") if letter.dead_lettered_at else "-"
    return (
        letter.id,
        letter.order_number or "-",
        reason,
        at,
        "-" if letter.deaths is None else str(letter.deaths),
        str(letter.replays),
        letter.routing_key or "-",
    )


def _visible(text: str) -> str:
    """Control characters escaped: a raw body must not drive the operator's terminal."""
    return CONTROL_CHARACTERS.sub(lambda match: f"\\x{ord(match.group()):02x}", text)


def _name(letter: DeadLetter) -> str:
    return f"{letter.id} ({letter.order_number})" if letter.order_number else letter.id


def _operator() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry for our uid (some containers)
        return "operator"
