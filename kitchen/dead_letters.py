"""Operator tooling for the dead-letter queue (SPEC §4, §5): list, replay and discard poison messages.

Small typed functions, for the `dead_letters` command and the Django admin alike. They talk to
RabbitMQ only (no database), so they work while PostgreSQL is down.

AMQP has no "peek": every function takes messages off `dead_letter_queue` with `basic.get` and manual
acks on one channel, acts on the ones it was asked about (a replay is acked only once the broker has
confirmed its republish), and hands every other one back with a single `basic.nack(multiple, requeue)`
at the end. Nacking one by one while still getting would hand the same message straight back to us;
all at once, a classic queue puts them back at their original positions, so a listing leaves the queue
as it found it. (While one call holds messages, another call does not see them.) If the process dies
mid-way, the broker requeues whatever the channel held: nothing is lost; at worst a replayed message
that was confirmed but not yet acked is also still dead-lettered, and replaying it again is harmless
(the worker skips an order that is already ready).

An id refers to a message: its AMQP `message_id` (the relay sets `outbox-<row>`) if it has one, else
`body-` and a hash of its body. Copies of one message (at-least-once delivery) share an id, and an
action on the id acts on every copy.
"""

import hashlib
import json
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pika
from django.utils import timezone
from pika.exceptions import NackError, UnroutableError

from restaurant import broker
from restaurant.logging import request_id_bound, service_logger

# Replays and discards are operators' acts, logged apart from what the worker does on its own.
log = service_logger("operator")

DEFAULT_LIMIT = 100
# How far a replay or discard looks into the queue for the ids asked for; the messages looked at are
# held in memory (and unacked) until the call ends.
DEFAULT_SCAN_LIMIT = 10_000
# Headers that describe one trip to the dead-letter queue: not carried back into the kitchen.
DEAD_LETTER_HEADERS = frozenset(
    {
        "x-dead-letter-reason",
        "x-original-exchange",
        "x-original-routing-key",
        "x-dead-lettered-by",
        "x-dead-lettered-at",
        # RabbitMQ's own, when it dead-lettered the message (a reject or an expiry on a kitchen queue).
        "x-death",
        "x-first-death-exchange",
        "x-first-death-queue",
        "x-first-death-reason",
        "x-last-death-exchange",
        "x-last-death-queue",
        "x-last-death-reason",
    }
)
# How much of a body the list shows: an order message whole, a body that is not JSON (which may be
# anything, megabytes of it) only its start.
SHOWN_BODY_CHARS = 2000
SHOWN_RAW_BODY_CHARS = 200


class DeadLetterNotFound(Exception):
    def __init__(self, ids: Collection[str], scanned: int, remaining: int) -> None:
        listed = ", ".join(sorted(ids))
        where = f"among the {scanned} messages of {broker.DEAD_LETTER_QUEUE}"
        if remaining:
            where += f" looked at ({remaining} more not looked at: raise the scan limit)"
        super().__init__(f"no dead letter with id {listed} {where}")
        self.ids = set(ids)


@dataclass(frozen=True)
class DeadLetter:
    """One message of the dead-letter queue, as an operator sees it."""

    id: str
    order_number: str | None
    reason: str | None
    dead_lettered_at: datetime | None
    dead_lettered_by: str | None
    # How often RabbitMQ itself dead-lettered it (x-death counts); None when it never did.
    deaths: int | None
    replays: int
    exchange: str | None
    routing_key: str | None
    request_id: str | None
    priority: int | None
    body: bytes = field(repr=False)
    properties: Any = field(repr=False, compare=False)
    # False for a body that is not JSON at all (any body can land here: it is why it is here)
    parses: bool = True

    @property
    def size(self) -> int:
        """The body's size in bytes."""
        return len(self.body)

    @property
    def body_preview(self) -> str:
        """The body as text, cut (with "…") to SHOWN_BODY_CHARS, or SHOWN_RAW_BODY_CHARS when it is
        not JSON."""
        limit = SHOWN_BODY_CHARS if self.parses else SHOWN_RAW_BODY_CHARS
        text = self.body[: limit * 4].decode("utf-8", errors="replace")  # no need to decode megabytes
        if len(text) > limit or len(self.body) > limit * 4:
            return text[:limit] + "…"
        return text

    def summary(self) -> dict[str, Any]:
        """What the log lines say about it."""
        return {
            "dead_letter_id": self.id,
            "order_number": self.order_number,
            "reason": self.reason,
            "dead_lettered_at": self.dead_lettered_at,
            "original_routing_key": self.routing_key,
            "replays": self.replays,
        }


@dataclass
class ReplayResult:
    replayed: list[DeadLetter] = field(default_factory=list)
    # (message, why it stays in the dead-letter queue)
    refused: list[tuple[DeadLetter, str]] = field(default_factory=list)


# --- reading ------------------------------------------------------------------------------------


def message_id_of(properties: Any, body: bytes) -> str:
    if properties.message_id:
        return str(properties.message_id)
    return "body-" + hashlib.sha256(body).hexdigest()[:16]


def dead_letter_from(properties: Any, body: bytes) -> DeadLetter:
    headers = properties.headers or {}
    deaths = [death for death in headers.get("x-death") or [] if isinstance(death, dict)]
    first_death = deaths[-1] if deaths else {}  # RabbitMQ puts the most recent death first
    last_death = deaths[0] if deaths else {}

    reason = _text(headers.get("x-dead-letter-reason"))
    if reason is None and last_death:
        reason = f"{_text(last_death.get('reason'))} in {_text(last_death.get('queue'))}"

    routing_key = _text(headers.get("x-original-routing-key"))
    exchange = _text(headers.get("x-original-exchange"))
    if not routing_key and first_death:
        keys = first_death.get("routing-keys") or []
        routing_key = _text(keys[0]) if keys else None
        exchange = _text(first_death.get("exchange"))

    message = _json(body)
    return DeadLetter(
        id=message_id_of(properties, body),
        order_number=_order_number(message),
        reason=reason,
        dead_lettered_at=_moment(headers.get("x-dead-lettered-at")) or _moment(last_death.get("time")),
        dead_lettered_by=_text(headers.get("x-dead-lettered-by")),
        deaths=sum(_int(death.get("count")) for death in deaths) if deaths else None,
        replays=_int(headers.get("x-replay-count")),
        exchange=exchange,
        routing_key=routing_key or None,
        request_id=_text(headers.get("request_id")),
        priority=properties.priority,
        body=body,
        parses=message is not _NOT_JSON,
        properties=properties,
    )


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _moment(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str | bytes):
        try:
            moment = datetime.fromisoformat(_text(value))
        except ValueError:
            return None
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return None


_NOT_JSON = object()


def _json(body: bytes) -> Any:
    """The body's JSON value, or _NOT_JSON for any body that does not parse (nested too deeply for
    the parser included: RecursionError)."""
    try:
        return json.loads(body)
    except Exception:
        return _NOT_JSON


def _order_number(message: Any) -> str | None:
    number = message.get("order_number") if isinstance(message, dict) else None
    return number[:100] if isinstance(number, str) else None


# --- holding messages ---------------------------------------------------------------------------


@dataclass
class _Held:
    delivery_tag: int
    letter: DeadLetter


class _Session:
    """Messages taken off the dead-letter queue and not yet settled, on one channel."""

    def __init__(self, channel) -> None:
        self.channel = channel
        self.held: list[_Held] = []
        self.depth = 0  # messages ready when the session began

    def take(self, limit: int) -> None:
        self.depth = self.channel.queue_declare(broker.DEAD_LETTER_QUEUE, passive=True).method.message_count
        # Only what was there at the start: messages dead-lettered meanwhile queue up behind those.
        for _ in range(min(limit, self.depth)):
            method, properties, body = self.channel.basic_get(broker.DEAD_LETTER_QUEUE, auto_ack=False)
            if method is None:
                break
            self.held.append(_Held(method.delivery_tag, dead_letter_from(properties, body)))

    @property
    def remaining(self) -> int:
        """Messages that were in the queue and were not looked at."""
        return max(0, self.depth - len(self.held))

    def select(self, ids: Collection[str] | None) -> list[_Held]:
        """The held messages with these ids (all of them for None); DeadLetterNotFound names any id
        that matches none."""
        if ids is None:
            return list(self.held)
        wanted = set(ids)
        unknown = wanted - {held.letter.id for held in self.held}
        if unknown:
            raise DeadLetterNotFound(unknown, scanned=len(self.held), remaining=self.remaining)
        return [held for held in self.held if held.letter.id in wanted]

    def ack(self, held: _Held) -> None:
        self.channel.basic_ack(held.delivery_tag)
        self.held.remove(held)

    def give_back(self) -> None:
        """Requeue every message still held, in one nack, so none is handed to us again meanwhile
        and the queue keeps its order."""
        if self.held and self.channel.is_open:
            last = max(held.delivery_tag for held in self.held)
            self.channel.basic_nack(delivery_tag=last, multiple=True, requeue=True)
        self.held.clear()


@contextmanager
def _session(limit: int) -> Iterator[_Session]:
    connection = broker.connect(client_name="dead-letters")
    try:
        channel = connection.channel()
        # Our own declaration of SPEC §5, as every process makes it: a replay is then never unroutable
        # for lack of a kitchen queue, and a listing works on a fresh broker.
        broker.declare_topology(channel)
        channel.confirm_delivery()
        session = _Session(channel)
        try:
            session.take(limit)
            yield session
        finally:
            session.give_back()
    finally:
        if connection.is_open:
            connection.close()


def _check_selection(ids: Collection[str] | str | None, every: bool) -> Collection[str] | None:
    if isinstance(ids, str):
        ids = [ids]
    if every == (ids is not None):
        raise ValueError("give either ids or every=True")
    if ids is not None and not ids:
        raise ValueError("no ids given")
    return None if every else ids


# --- the operations -----------------------------------------------------------------------------


def dead_letter_count() -> int:
    """Messages waiting in the dead-letter queue (not counting those someone holds right now)."""
    connection = broker.connect(client_name="dead-letters")
    try:
        channel = connection.channel()
        broker.declare_topology(channel)
        return channel.queue_declare(broker.DEAD_LETTER_QUEUE, passive=True).method.message_count
    finally:
        if connection.is_open:
            connection.close()


def dead_letter_list(limit: int = DEFAULT_LIMIT) -> list[DeadLetter]:
    """The first `limit` dead letters, oldest first; all of them stay in the queue, in their order."""
    if limit < 1:
        raise ValueError("limit must be at least 1")
    with _session(limit) as session:
        return [held.letter for held in session.held]


def dead_letter_replay(
    *, ids: Collection[str] | str | None = None, every: bool = False, by: str, scan_limit: int = DEFAULT_SCAN_LIMIT
) -> ReplayResult:
    """Republish dead letters to `orders_topic` under their original routing key (persistent, with
    publisher confirms, mandatory), then take them off the dead-letter queue.

    `ids` or `every=True` (everything among the first `scan_limit`). An unknown id raises
    DeadLetterNotFound and nothing is replayed. A message without an original routing key, one whose
    body is not JSON (it would only poison the kitchen again), or one that nothing is bound to, is
    refused and stays where it is; `by` names who asked, in its headers.
    """
    ids = _check_selection(ids, every)
    result = ReplayResult()
    with _session(scan_limit) as session:
        for held in session.select(ids):
            letter = held.letter
            if not letter.routing_key:
                why = "no original routing key (neither x-original-routing-key nor x-death routing-keys)"
                _refuse(result, letter, why)
                continue
            if not letter.parses:
                _refuse(result, letter, "its body is not JSON: no worker can ever cook it (discard it)")
                continue
            try:
                _republish(session.channel, letter, by=by)
            except UnroutableError:
                _refuse(result, letter, f"{broker.ORDERS_EXCHANGE} routes {letter.routing_key!r} to no queue")
                continue
            except NackError:
                _refuse(result, letter, "the broker refused the republish (nack); try again")
                continue
            session.ack(held)
            result.replayed.append(letter)
            _log_about(letter, "dead_letter_replayed", f"Dead letter {letter.id} replayed to {letter.routing_key}", by)
    return result


def dead_letter_discard(
    *, ids: Collection[str] | str | None = None, every: bool = False, by: str, scan_limit: int = DEFAULT_SCAN_LIMIT
) -> list[DeadLetter]:
    """Take dead letters off the queue for good, logging each one as it goes: its id, reason and size,
    not its body (which holds a customer's name and address).

    `ids` or `every=True` (everything among the first `scan_limit`). An unknown id raises
    DeadLetterNotFound and nothing is discarded.
    """
    ids = _check_selection(ids, every)
    discarded = []
    with _session(scan_limit) as session:
        for held in session.select(ids):
            session.ack(held)
            discarded.append(held.letter)
            _log_about(held.letter, "dead_letter_discarded", f"Dead letter {held.letter.id} discarded", by)
    return discarded


def _republish(channel, letter: DeadLetter, *, by: str) -> None:
    props = letter.properties
    headers = {key: value for key, value in (props.headers or {}).items() if key not in DEAD_LETTER_HEADERS}
    headers.update(
        {"x-replayed-at": timezone.now().isoformat(), "x-replayed-by": by, "x-replay-count": letter.replays + 1}
    )
    channel.basic_publish(
        broker.ORDERS_EXCHANGE,
        letter.routing_key,
        letter.body,
        pika.BasicProperties(
            content_type=props.content_type,
            content_encoding=props.content_encoding,
            delivery_mode=pika.DeliveryMode.Persistent,
            priority=props.priority,
            message_id=props.message_id,
            correlation_id=props.correlation_id,
            timestamp=props.timestamp,
            app_id=props.app_id,
            headers=headers,
        ),
        mandatory=True,
    )


def _refuse(result: ReplayResult, letter: DeadLetter, why: str) -> None:
    result.refused.append((letter, why))
    with request_id_bound(letter.request_id):
        log.info(
            "dead_letter_replay_refused",
            f"Dead letter {letter.id} not replayed: {why}",
            details={**letter.summary(), "refused_because": why},
        )


def _log_about(letter: DeadLetter, action: str, message: str, by: str) -> None:
    """Under the request that placed the order, so the order's trail shows the operator's act."""
    details = {**letter.summary(), "by": by}
    if action == "dead_letter_discarded":
        details["size"] = letter.size
        details["dead_lettered_by"] = letter.dead_lettered_by
    with request_id_bound(letter.request_id):
        log.info(action, message, details=details)
