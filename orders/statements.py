"""The orders' raw SQL writes: each is one statement, so one database round trip, built from the
models' columns (a new field is written too) and compared with what the ORM would write in
tests/orders/test_statements.py. orders/services.py decides what to write; this module only writes it.

- `insert_order`: the day's next number, the order, its items, its `received` row and its order
  message(s) (and, as named options, its units booked in its kitchen slot, and the request's
  rate-limit count, writing nothing over the limit);
- `update_moved_order`: a locked order's new columns, its log row and its status update;
- `move_at_once`: the same for an order still in the move's source status, the lock included (and,
  as a named option, a counter of another table, e.g. the worker's count of ready orders);
- `increment`: that counter alone, on the locking path;
- `mark_item`: an item's prepared mark with a new display version, and its NOTIFY.

Why one statement, and what it costs to read: docs/architecture.md ("Decision: the one-statement writes").

A message that carries a value only the statement knows (the order's number, the due time it
computes) is built in Python with `FROM_THE_ROW` in that value's place, and the statement splices
the row's value in between the two halves of the JSON text.
"""

import functools
import json
import secrets
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any, NamedTuple

from django.conf import settings
from django.db import connection
from django.db.models import Model

from orders.models import DailyOrderCounter, Order, OrderItem, OrderStatusLog, SlotLoad, SlotReservation
from orders.timing import preparation_time
from restaurant.broker import dumps
from restaurant.models import OutboxMessage
from restaurant.throttling import COUNT as RATE_COUNT_SQL
from restaurant.throttling import RateCount

# Stands for a value the statement fills in from the row it writes. Its NUL can be in no stored
# text (PostgreSQL text cannot hold it: no order field nor worker name has it), and its random part
# in no guess; a message holding it other than once is refused (`_halves`), never corrupted.
FROM_THE_ROW = f"\x00from the row {secrets.token_hex(8)}"


class Increment(NamedTuple):
    """A counter of another table that a move adds one to, only when the order moved: the row of
    `model` whose `key` field is `value`, its `field` + 1 (e.g. a worker's `orders_processed`)."""

    model: type[Model]
    field: str
    key: str
    value: Any


# --- POST /orders ---------------------------------------------------------------------------------


class Reservation(NamedTuple):
    """An order's load units in one slot: station → units, and each station's capacity of now."""

    slot_start: datetime
    units: dict[str, int]
    capacity: dict[str, int]

    def params(self) -> dict[str, Any]:
        stations = sorted(self.units)  # a fixed order: two orders never lock each other's rows the other way round
        return {
            "slot_start": self.slot_start,
            "stations": stations,
            "units": [self.units[code] for code in stations],
            "capacities": [self.capacity[code] for code in stations],
        }


def insert_order(
    order: Order,
    items: list[OrderItem],
    log_row: OrderStatusLog,
    outbox: list[OutboxMessage],
    *,
    message: Callable[[Order, list[OrderItem]], dict[str, Any]],
    number_prefix: str,
    day: date,
    rate_count: RateCount | None = None,
    reservation: Reservation | None = None,
) -> bool:
    """Write a new order: the counter's next number for `day` (`number_prefix` and at least three
    digits), the order, its items, its log row and the `outbox` rows, each with
    `message(order, items)` as its body (an order for later has two: its announcement now and its
    kitchen message at its fire time). Sets the ids and the number on the objects given.

    With `rate_count`, the request is counted first (its `hits` set) and nothing is written when
    that count is over its limit: False. With a `reservation`, the order's units are added to its
    slot's loads and recorded as its reservations in the same statement: a station over its capacity
    fails the whole statement on the loads' CHECK (IntegrityError), and nothing is written, not even
    the day's number."""
    order.number = FROM_THE_ROW
    body_head, body_tail = _halves(message(order, items))
    with connection.cursor() as cursor:
        cursor.execute(
            _insert_order_sql(counted=rate_count is not None, reserving=reservation is not None),
            {
                **(rate_count.params() if rate_count else {}),
                **(reservation.params() if reservation else {}),
                "day": day,
                "prefix": number_prefix,
                "order": _columns_json(order, skip={"number"}),
                "items": "[" + ",".join(_columns_json(item, skip={"order_id"}) for item in items) + "]",
                "log": _columns_json(log_row, skip={"order_id"}),
                "outbox": "[" + ",".join(_columns_json(row, skip={"body"}) for row in outbox) + "]",
                "body_head": body_head,
                "body_tail": body_tail,
            },
        )
        order.pk, order.number, item_ids, *counted = cursor.fetchone()
    if rate_count is not None:
        rate_count.record(*counted)
        if rate_count.exceeded:
            return False
    for item, item_id in zip(items, item_ids, strict=True):
        item.pk, item.order = item_id, order
    log_row.order = order
    return True


@functools.cache
def _insert_order_sql(*, counted: bool, reserving: bool = False) -> str:
    counter = DailyOrderCounter._meta.db_table
    number = "%(prefix)s || lpad(c.last_number::text, greatest(3, length(c.last_number::text)), '0')"
    order = _insert_sql(Order, "%(order)s", first={"number": number}, source="c", returning="RETURNING id, number")
    items = _insert_sql(
        OrderItem, "%(items)s", first={"order_id": "o.id"}, source="o", returning="RETURNING id", many=True
    )
    log_row = _insert_sql(OrderStatusLog, "%(log)s", first={"order_id": "o.id"}, source="o")
    body = "%(body_head)s || to_json(o.number)::text || %(body_tail)s"
    message = _insert_sql(OutboxMessage, "%(outbox)s", first={"body": body}, source="o", many=True)
    # Counted: the rate limit's count first (`t`), and the rest only when it is within the limit.
    within_limit = "FROM t WHERE t.hits <= %(throttle_limit)s" if counted else ""
    return f"""
        WITH {f"t AS ({RATE_COUNT_SQL})," if counted else ""}
        c AS (
            INSERT INTO {counter} (day, last_number) SELECT %(day)s, 1 {within_limit}
            ON CONFLICT (day) DO UPDATE SET last_number = {counter}.last_number + 1
            RETURNING last_number
        ),
        o AS ({order}),
        i AS ({items}),
        l AS ({log_row}),
        m AS ({message}){_RESERVE_SQL if reserving else ""}
        SELECT o.id, o.number, ARRAY(SELECT id FROM i ORDER BY id)
            {", t.hits, t.seconds_left FROM t LEFT JOIN o ON true" if counted else "FROM o"}
    """


# --- status moves ---------------------------------------------------------------------------------


def update_moved_order(order: Order, fields: list[str], log_row: OrderStatusLog, outbox: OutboxMessage) -> None:
    """A locked order's moved `fields` (as set on `order`), its log row and its status update:
    one statement of three writes, in the caller's transaction."""
    columns = tuple(Order._meta.get_field(name).column for name in fields)
    values = {Order._meta.get_field(name).column: getattr(order, name) for name in fields}
    with connection.cursor() as cursor:
        cursor.execute(
            _update_moved_order_sql(columns),
            {
                "id": order.pk,
                "order": json.dumps(values, default=_column_value),
                "log": _columns_json(log_row, skip=set()),
                "outbox": _columns_json(outbox, skip=set()),
            },
        )


@functools.cache
def _update_moved_order_sql(columns: tuple[str, ...]) -> str:
    table = Order._meta.db_table
    names = ", ".join(columns)
    values = ", ".join(f"r.{column}" for column in columns)
    return f"""
        WITH o AS (
            UPDATE {table} SET ({names}) = ({values})
            FROM jsonb_populate_record(NULL::{table}, %(order)s) AS r
            WHERE {table}.id = %(id)s
        ), l AS (
            {_insert_sql(OrderStatusLog, "%(log)s")}
        )
        {_insert_sql(OutboxMessage, "%(outbox)s")}
    """


def move_at_once(
    number: str,
    *,
    source: str,
    fields: dict[str, Any],
    log_row: OrderStatusLog,
    outbox: OutboxMessage,
    message: Callable[[Order], dict[str, Any]],
    due_field: str | None = None,
    increment: Increment | None = None,
) -> Order | None:
    """A move of the order `number` if it is in `source`, as one statement: the order's row lock,
    its new `fields` (values), `due_field` (if any) set to `fields["updated_at"]` + its
    `preparation_time` (read with the lock), its log row, `outbox` with `message(order)` as its body
    (the due time from the row) and `increment` (gated on the moved row). In autocommit it is its
    own transaction: one round trip.

    The moved order, or None (nothing written) when it is not in `source` or does not exist."""
    sql, lock_params = _move_at_once_sql(
        source, tuple(fields), due_field, increment and increment[:3], settings.COOKING_TIME_SCALE
    )  # the scale: the compiled lock holds it
    moved = Order(number=number, estimated_completion=FROM_THE_ROW, **fields)
    body_head, body_tail = _halves(message(moved))
    params = [
        *(number if param == FROM_THE_ROW else param for param in lock_params),
        *fields.values(),
        *([fields["updated_at"]] if due_field else []),
        _columns_json(log_row, skip={"order_id"}),
        body_head,
        body_tail,
        _columns_json(outbox, skip={"body"}),
        *([increment.value] if increment else []),
    ]  # in the statement's order
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    return Order.from_db(connection.alias, [field.attname for field in Order._meta.concrete_fields], row)


@functools.cache
def _move_at_once_sql(
    source: str, fields: tuple[str, ...], due_field: str | None, increment: tuple | None, scale: float
) -> tuple[str, tuple]:
    """The statement of `move_at_once` and its lock's parameters (the number as FROM_THE_ROW),
    compiled once per kind of move: the ORM's compiling costs more than the statement."""
    locked = Order.objects.filter(number=FROM_THE_ROW, status=source)
    if due_field:
        locked = locked.annotate(preparation=preparation_time())
    lock_sql, lock_params = locked.values("id", *(["preparation"] if due_field else [])).query.sql_with_params()
    table = Order._meta.db_table
    sets = [f"{Order._meta.get_field(name).column} = %s" for name in fields]
    if due_field:
        sets.append(f"{Order._meta.get_field(due_field).column} = %s + p.preparation")
    returning = ", ".join(f"{table}.{field.column}" for field in Order._meta.concrete_fields)
    body = f"%s || {_ISO_SQL.format('o.estimated_completion')} || %s"
    log_insert = _insert_sql(OrderStatusLog, "%s", first={"order_id": "o.id"}, source="o")
    message_insert = _insert_sql(OutboxMessage, "%s", first={"body": body}, source="o")
    also = f", a AS ({_increment_sql(*increment)} AND EXISTS (SELECT FROM o))" if increment else ""
    # FOR UPDATE written out: Django compiles select_for_update() only inside a transaction, and this is one.
    sql = f"""
        WITH p AS ({lock_sql} FOR UPDATE OF {connection.ops.quote_name(table)}),
        o AS (UPDATE {table} SET {", ".join(sets)} FROM p WHERE {table}.id = p.id RETURNING {returning}),
        l AS ({log_insert}),
        m AS ({message_insert}){also}
        SELECT * FROM o
    """
    return sql, lock_params


# A timestamptz as JSON text exactly as Python's isoformat() of a UTC datetime writes it (null if NULL):
# the due time that `move_at_once` computes reaches the message as Python would have written it.
_ISO_SQL = (
    "CASE WHEN {0} IS NULL THEN 'null' ELSE '\"' || to_char({0} AT TIME ZONE 'UTC', "
    "CASE WHEN date_trunc('second', {0}) = {0} THEN 'YYYY-MM-DD\"T\"HH24:MI:SS' "
    "ELSE 'YYYY-MM-DD\"T\"HH24:MI:SS.US' END) || '+00:00\"' END"
)


def increment(counter: Increment) -> None:
    """`counter` + 1, in the caller's transaction (the locking path's counterpart of `move_at_once`'s)."""
    with connection.cursor() as cursor:
        cursor.execute(_increment_sql(*counter[:3]), [counter.value])


@functools.cache
def _increment_sql(model: type[Model], field: str, key: str) -> str:
    column = model._meta.get_field(field).column
    key_column = model._meta.get_field(key).column
    return f"UPDATE {model._meta.db_table} SET {column} = {column} + 1 WHERE {key_column} = %s"


# --- item marks -----------------------------------------------------------------------------------


def mark_item(item: OrderItem, *, notify: str, payload: str) -> None:
    """Write an item's mark (`prepared_at`, `prepared_by` as set on it) with a new display version
    (`mark_version`, from the status log's sequence, so it orders with status changes), and NOTIFY
    `notify` with `payload` at commit."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, 'id'))", [OrderStatusLog._meta.db_table])
        (item.mark_version,) = cursor.fetchone()
        item.save(update_fields=["prepared_at", "prepared_by", "mark_version"])
        # NOTIFY is delivered at commit, folded with the transaction's others: no display sees a
        # mark that rolls back. (Marks are not messages for the broker: no consumer but the displays.)
        cursor.execute("SELECT pg_notify(%s, %s)", [notify, payload])


# --- the parts ------------------------------------------------------------------------------------


def _halves(message: dict[str, Any]) -> tuple[str, str]:
    """The message's JSON text before and after FROM_THE_ROW, which must be in it exactly once."""
    parts = dumps(message).split(dumps(FROM_THE_ROW))
    if len(parts) != 2:
        raise ValueError(f"a statement's message must hold its value from the row once, not {len(parts) - 1} times")
    return parts[0], parts[1]


def _insert_columns(model, *, skip: set[str] = frozenset()) -> list[str]:
    return [f.column for f in model._meta.concrete_fields if not f.primary_key and f.column not in skip]


def _columns_json(instance, *, skip: set[str]) -> str:
    """The instance's columns as one JSON object, each value as `save()` would write it (defaults
    applied); the statement reads it back into the table's own column types."""
    values = {}
    for field in instance._meta.concrete_fields:
        if not field.primary_key and field.column not in skip:
            values[field.column] = field.pre_save(instance, add=True)
    return json.dumps(values, default=_column_value)


def _column_value(value: Any) -> str:
    if isinstance(value, (datetime, date)):
        return value.isoformat()  # every digit: DjangoJSONEncoder would cut microseconds
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"no JSON form for {type(value).__name__}")


def _insert_sql(
    model,
    values: str,
    *,
    first: dict[str, str] | None = None,
    source: str = "",
    returning: str = "",
    many: bool = False,
) -> str:
    """INSERT of `model`'s rows from `values`, a JSON object (or array) of their columns
    (`_columns_json`), `jsonb_populate_record(set)` casting each value to its column's type; the
    columns of `first` come from expressions instead (of `source`, an earlier part of the CTE)."""
    first = first or {}
    columns = _insert_columns(model, skip=set(first))
    names = ", ".join([*first, *columns])
    picked = ", ".join([*first.values(), *(f"r.{column}" for column in columns)])
    table = model._meta.db_table
    rows = f"jsonb_populate_record{'set' if many else ''}(NULL::{table}, {values}) AS r"
    sources = f"{source}, {rows}" if source else rows
    return f"INSERT INTO {table} ({names}) SELECT {picked} FROM {sources} {returning}"


# --- kitchen slots (orders/capacity.py) --------------------------------------------------------

# The reservation's part of `insert_order`'s statement: from `o`, so nothing is booked for an order
# the rate limit refused. The loads' CHECK (used <= capacity) fails the statement for a full slot.
_RESERVE_SQL = f""",
        u AS (SELECT * FROM unnest(%(stations)s::text[], %(units)s::int[], %(capacities)s::int[])
              AS s(station, units, capacity)),
        sl AS (
            INSERT INTO {SlotLoad._meta.db_table} (slot_start, station, used, capacity)
            SELECT %(slot_start)s, u.station, u.units, u.capacity FROM o, u
            ON CONFLICT (slot_start, station) DO UPDATE
            SET used = {SlotLoad._meta.db_table}.used + EXCLUDED.used, capacity = EXCLUDED.capacity
        ),
        sr AS (
            INSERT INTO {SlotReservation._meta.db_table} (order_id, slot_start, station, units)
            SELECT o.id, %(slot_start)s, u.station, u.units FROM o, u
        )"""


def release_units(order_id: int) -> None:
    """Give an order's reserved units back to their slots, and forget the reservations: one statement."""
    loads, reservations = SlotLoad._meta.db_table, SlotReservation._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH r AS (DELETE FROM {reservations} WHERE order_id = %s RETURNING slot_start, station, units)
            UPDATE {loads} l SET used = l.used - r.units FROM r
            WHERE l.slot_start = r.slot_start AND l.station = r.station
            """,
            [order_id],
        )
