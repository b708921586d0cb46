"""Order writes (SPEC §3, §4). Every change of an order goes through a function here.

Status changes follow one rule, whoever asks (the API, the admin, a kitchen worker, the display):
each `order_*` transition names its move in `orders.models.TRANSITIONS`; asking for the status the
order is already in is a no-op (`changed` is False: a double click, a redelivery); any other move
the table does not allow raises `TransitionNotAllowed`. Each returns `(order, changed)`.
"""

import functools
import json
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, NamedTuple

from django.conf import settings
from django.db import connection, transaction
from django.db.models import OuterRef
from django.utils import timezone

from menu.selectors import slowest_prep_seconds
from orders.errors import ItemMarkRefused, ItemNotFound, OrderNotFound, RecallExpired, TransitionNotAllowed
from orders.messages import order_routing_key
from orders.models import TRANSITIONS, DailyOrderCounter, Order, OrderItem, OrderStatus, OrderStatusLog
from orders.validation import OrderInput
from restaurant.broker import NOTIFICATIONS_EXCHANGE, ORDERS_EXCHANGE, dumps
from restaurant.logging import service_logger
from restaurant.models import OutboxMessage
from restaurant.outbox import outbox_row
from restaurant.throttling import COUNT as RATE_COUNT_SQL
from restaurant.throttling import RateCount, RateLimitExceeded

# Transitions are logged under the service of the process making them (web, worker, …).
log = service_logger()

ORDER_SERVICE = "order-service"
COOKING_SECONDS = {"dine_in": 8, "takeout": 10, "delivery": 12}


def format_order_number(day: date, sequence: int) -> str:
    return f"ORD_{day:%Y%m%d}_{sequence:03d}"


def order_message(order: Order, items: list[OrderItem]) -> dict[str, Any]:
    """The order message of SPEC §5, plus per item its sku, station, modifier names and notes, and
    the order's notes (additions of the menu: a consumer that does not know them ignores them)."""
    return {
        "order_number": order.number,
        "customer_name": order.customer_name,
        "order_type": order.order_type,
        "table_number": order.table_number,
        "delivery_address": order.delivery_address,
        "items": [
            {
                "name": item.name,
                "quantity": item.quantity,
                "price": item.price,
                "sku": item.sku,
                "station": item.station or None,
                "modifiers": [modifier["name"] for modifier in item.modifiers],
                "notes": item.notes,
            }
            for item in items
        ],
        "total_amount": order.total_amount,
        "priority": order.priority,
        "notes": order.notes,
    }


def order_create(*, data: OrderInput, changed_by: str = ORDER_SERVICE, rate_count: RateCount | None = None) -> Order:
    """Write a validated order, its items, its `received` log row and its order message, at once:
    one statement (`_order_insert_sql`), so one database round trip and, outside a transaction, its own
    atomic commit. The number comes from the day's counter in the same statement (gap-free).

    With `rate_count` (POST /orders' rate limit, restaurant/throttling.py) the statement counts the
    request too, and writes nothing when that count is over the limit: RateLimitExceeded."""
    now = timezone.now()
    order = Order(
        number=_SPLICED,
        customer_name=data.customer_name,
        order_type=data.order_type,
        table_number=data.table_number,
        delivery_address=data.delivery_address,
        total_amount=data.total_amount,
        priority=data.priority,
        notes=data.notes,
        status=OrderStatus.RECEIVED,
        created_at=now,
        updated_at=now,
    )
    items = [
        OrderItem(
            name=item.name,
            quantity=item.quantity,
            price=item.price,
            sku=item.sku,
            station=item.station,
            # As they were at order time; JSON holds the delta as exact text.
            modifiers=[{"code": m.code, "name": m.name, "price_delta": str(m.price_delta)} for m in item.modifiers],
            notes=item.notes,
        )
        for item in data.items
    ]
    log_row = OrderStatusLog(status=OrderStatus.RECEIVED, changed_by=changed_by, changed_at=now)
    outbox = outbox_row(
        exchange=ORDERS_EXCHANGE,
        routing_key=order_routing_key(order.order_type, order.priority),
        body="",
        priority=order.priority,
        created_at=now,
    )
    # The message's first key is the number, known only in the statement: it is spliced in there.
    body_head, body_tail = dumps(order_message(order, items)).split(dumps(_SPLICED), 1)
    with connection.cursor() as cursor:
        cursor.execute(
            _order_insert_sql(counted=rate_count is not None),
            {
                **(rate_count.params() if rate_count else {}),
                "day": now.date(),
                "prefix": format_order_number(now.date(), 0)[:-3],
                "order": _columns_json(order, skip={"number"}),
                "items": "[" + ",".join(_columns_json(item, skip={"order_id"}) for item in items) + "]",
                "log": _columns_json(log_row, skip={"order_id"}),
                "outbox": _columns_json(outbox, skip={"body"}),
                "body_head": body_head,
                "body_tail": body_tail,
            },
        )
        order.pk, order.number, item_ids, *counted = cursor.fetchone()
    if rate_count is not None:
        rate_count.record(*counted)
        if rate_count.exceeded:
            raise RateLimitExceeded(rate_count)
    for item, item_id in zip(items, item_ids, strict=True):
        item.pk, item.order = item_id, order
    details = {"order_number": order.number, "total_amount": order.total_amount, "priority": order.priority}
    transaction.on_commit(lambda: log.info("order_received", f"Order {order.number} received", details=details))
    return order


_SPLICED = "(spliced in by the statement)"


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


@functools.cache
def _order_insert_sql(*, counted: bool = False) -> str:
    """The counter's next number, the order, its items, its `received` row and its outbox message:
    one data-modifying CTE. Every column is named from the models (a new field is written too).
    `counted`: the rate limit's count first (`t`), and the rest only when it is within the limit."""
    counter = DailyOrderCounter._meta.db_table
    number = "%(prefix)s || lpad(c.last_number::text, greatest(3, length(c.last_number::text)), '0')"
    order = _insert_sql(Order, "%(order)s", first={"number": number}, source="c", returning="RETURNING id, number")
    items = _insert_sql(
        OrderItem, "%(items)s", first={"order_id": "o.id"}, source="o", returning="RETURNING id", many=True
    )
    log_row = _insert_sql(OrderStatusLog, "%(log)s", first={"order_id": "o.id"}, source="o")
    body = "%(body_head)s || to_json(o.number)::text || %(body_tail)s"
    message = _insert_sql(OutboxMessage, "%(outbox)s", first={"body": body}, source="o")
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
        m AS ({message})
        SELECT o.id, o.number, ARRAY(SELECT id FROM i ORDER BY id)
            {", t.hits, t.seconds_left FROM t LEFT JOIN o ON true" if counted else "FROM o"}
    """


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


def cooking_time(order_type: str) -> timedelta:
    """How long an order of this type cooks (SPEC §4), scaled by COOKING_TIME_SCALE."""
    return timedelta(seconds=COOKING_SECONDS[order_type] * settings.COOKING_TIME_SCALE)


def preparation_time(order: Order) -> timedelta:
    """When an order is due: its slowest station's prep time (scaled as cooking times are), or the
    order type's cooking time when none of its items' stations has one (free items have none).
    `order` comes from `_lock_order(…, with_prep=True)`, which read that prep time with the lock."""
    if not order.slowest_prep_seconds:
        return cooking_time(order.order_type)
    return timedelta(seconds=order.slowest_prep_seconds * settings.COOKING_TIME_SCALE)


def status_update_message(*, order: Order, old_status: str, changed_by: str, at) -> dict[str, Any]:
    """The status update of SPEC §5."""
    return {
        "order_number": order.number,
        "old_status": old_status,
        "new_status": order.status,
        "changed_by": changed_by,
        "timestamp": at,
        "estimated_completion": order.estimated_completion,
    }


class StatusChange(NamedTuple):
    order: Order
    changed: bool  # False when the order already was in the status asked for


class AlsoUpdate(NamedTuple):
    """An UPDATE of another table that a move makes too, only when the order moved: in the move's
    own statement (as a CTE gated on the moved row) or, on the locking path, in its transaction.
    `sql` ends with its WHERE clause (a condition is appended to it); `params` are positional."""

    sql: str
    params: tuple = ()


def _lock_order(number: str, *, with_prep: bool = False) -> Order:
    """The order, row-locked until the caller's transaction ends: the compare half of every
    compare-and-set of a status, so a redelivery or a zombie worker can never log a status twice.
    `with_prep` reads its slowest station's prep time in the same query (for `preparation_time`)."""
    if not connection.in_atomic_block:
        raise RuntimeError("an order transition must run inside a transaction")
    orders = Order.objects.select_for_update(of=("self",)).filter(number=number)
    if with_prep:
        stations = OrderItem.objects.filter(order=OuterRef(OuterRef("pk"))).values("station")  # two levels down
        orders = orders.annotate(slowest_prep_seconds=slowest_prep_seconds(stations))
    order = orders.first()
    if order is None:
        raise OrderNotFound(number)
    return order


def _move(order: Order, move: str, *, changed_by: str, notes: str = "", **fields: Any) -> bool:
    """The only writer of status rows: apply the table's `move` to a locked order (setting `fields`
    too), with its log row and its status update in the outbox, in the caller's transaction (one
    statement: `_move_sql`). False (and nothing written) when the order is already in the move's
    target status."""
    transition = TRANSITIONS[move]
    if order.status == transition.target:
        return False
    if order.status not in transition.sources:
        raise TransitionNotAllowed(order, transition.target)
    old_status, now = order.status, timezone.now()
    order.status, order.updated_at = transition.target, now
    for name, value in fields.items():
        setattr(order, name, value)
    changed = ["status", "updated_at", *fields]
    log_row = OrderStatusLog(order=order, status=order.status, changed_by=changed_by, changed_at=now, notes=notes)
    body = status_update_message(order=order, old_status=old_status, changed_by=changed_by, at=now)
    outbox = outbox_row(exchange=NOTIFICATIONS_EXCHANGE, routing_key="", body=dumps(body), created_at=now)
    with connection.cursor() as cursor:
        cursor.execute(
            _move_sql(tuple(Order._meta.get_field(name).column for name in changed)),
            {
                "id": order.pk,
                "order": json.dumps(
                    {Order._meta.get_field(n).column: getattr(order, n) for n in changed}, default=_column_value
                ),
                "log": _columns_json(log_row, skip=set()),
                "outbox": _columns_json(outbox, skip=set()),
            },
        )
    _log_transition(order.number, old_status, order.status, changed_by)
    return True


def _log_transition(number: str, old_status: str, new_status: str, changed_by: str) -> None:
    details = {"order_number": number, "old_status": old_status, "new_status": new_status, "changed_by": changed_by}
    message = f"Order {number}: {old_status} -> {new_status} by {changed_by}"
    transaction.on_commit(lambda: log.info("order_status_changed", message, details=details))


@functools.cache
def _move_sql(columns: tuple[str, ...]) -> str:
    """An order's new `columns`, its log row and its outbox row: one statement of three writes."""
    names = ", ".join(columns)
    values = ", ".join(f"r.{column}" for column in columns)
    return f"""
        WITH o AS (
            UPDATE {Order._meta.db_table} SET ({names}) = ({values})
            FROM jsonb_populate_record(NULL::{Order._meta.db_table}, %(order)s) AS r
            WHERE {Order._meta.db_table}.id = %(id)s
        ), l AS (
            {_insert_sql(OrderStatusLog, "%(log)s")}
        )
        {_insert_sql(OutboxMessage, "%(outbox)s")}
    """


def order_start_cooking(*, number: str, changed_by: str) -> StatusChange:
    """received → cooking, by `changed_by` (who also becomes `processed_by`), due when its slowest
    station is done (`preparation_time`). Already cooking: no-op (a redelivery resumes the cook)."""
    due = f"%s + make_interval(secs => coalesce(nullif(p.slowest_prep_seconds, 0) * %s, {_COOKING_SECONDS_SQL} * %s))"
    now, scale = timezone.now(), settings.COOKING_TIME_SCALE
    return _move_by_number(
        number,
        "start_cooking",
        changed_by=changed_by,
        now=now,
        at_once={"processed_by": ("%s", [changed_by]), "estimated_completion": (due, [now, scale, scale])},
        locked=lambda order: {"processed_by": changed_by, "estimated_completion": now + preparation_time(order)},
        with_prep=True,
    )


def order_mark_ready(*, number: str, changed_by: str, also: AlsoUpdate | None = None) -> StatusChange:
    """cooking → ready, with `completed_at`; and `also` (a worker's count) when it moved."""
    now = timezone.now()
    return _move_by_number(
        number,
        "mark_ready",
        changed_by=changed_by,
        now=now,
        at_once={"processed_by": ("%s", [changed_by]), "completed_at": ("%s", [now])},
        locked=lambda order: {"processed_by": changed_by, "completed_at": now},
        also=also,
    )


def _move_by_number(
    number: str,
    move: str,
    *,
    changed_by: str,
    now,
    at_once: dict,
    locked: Callable,
    with_prep: bool = False,
    also: AlsoUpdate | None = None,
) -> StatusChange:
    """The usual case in one statement (`_move_at_once`, setting `at_once`); any other (already
    moved, another status, an unknown number) through the lock and `_move` (setting
    `locked(order)`), which say why. `also` is written with the move, and only when it moved."""
    order = _move_at_once(number, move, changed_by=changed_by, now=now, also=also, fields=at_once, with_prep=with_prep)
    if order is not None:
        return StatusChange(order, True)
    with transaction.atomic():
        order = _lock_order(number, with_prep=with_prep)
        moved = _move(order, move, changed_by=changed_by, **locked(order))
        if moved and also is not None:
            with connection.cursor() as cursor:
                cursor.execute(also.sql, also.params)
        return StatusChange(order, moved)


_COOKING_SECONDS_SQL = (
    "CASE p.order_type " + " ".join(f"WHEN '{t}' THEN {n}" for t, n in COOKING_SECONDS.items()) + " END"
)


def _move_at_once(
    number: str,
    move: str,
    *,
    changed_by: str,
    now,
    fields: dict[str, tuple[str, list]],
    also: AlsoUpdate | None,
    with_prep: bool,
) -> Order | None:
    """`_move` for an order in the move's one source status, as one statement: the lock, the
    order's new columns (`fields`: SQL expressions over `p`, the locked row, `with_prep` with its
    stations' slowest prep time, and their parameters), its log row, its status update and `also`
    (gated on the moved row). In autocommit it is its own transaction: one round trip. None
    (nothing written) when the order is not in that status or does not exist: the caller then takes
    the locking path, which says why."""
    transition = TRANSITIONS[move]
    [source] = transition.sources
    sets = {"status": ("%s", [transition.target]), "updated_at": ("%s", [now]), **fields}
    sets_sql = tuple((name, expression) for name, (expression, _) in sets.items())
    sql, lock_params = _move_at_once_sql(source, sets_sql, also.sql if also else None, with_prep)
    lock_params = [number if param == _SPLICED else param for param in lock_params]
    set_params = [param for _, params in sets.values() for param in params]
    log_row = OrderStatusLog(status=transition.target, changed_by=changed_by, changed_at=now)
    outbox = outbox_row(exchange=NOTIFICATIONS_EXCHANGE, routing_key="", body="", created_at=now)
    # The message's last key, the due time, is the row's: spliced in there, formatted as Python's isoformat().
    spliced = Order(number=number, status=transition.target, estimated_completion=_SPLICED)
    message = status_update_message(order=spliced, old_status=source, changed_by=changed_by, at=now)
    body_head, body_tail = dumps(message).split(dumps(_SPLICED), 1)
    log_json, outbox_json = _columns_json(log_row, skip={"order_id"}), _columns_json(outbox, skip={"body"})
    also_params = also.params if also else ()
    params = [*lock_params, *set_params, log_json, body_head, body_tail, outbox_json, *also_params]  # statement's order
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    order = Order.from_db(connection.alias, [field.attname for field in Order._meta.concrete_fields], row)
    _log_transition(number, source, order.status, changed_by)
    return order


@functools.cache
def _move_at_once_sql(
    status: str, sets: tuple[tuple[str, str], ...], also: str | None, with_prep: bool
) -> tuple[str, tuple]:
    """The statement of `_move_at_once` and its lock's parameters (the number as `_SPLICED`),
    compiled once per move: the ORM's compiling costs more than the statement.

    The lock is the order if it is in `status` (`p`), `with_prep` with its stations' slowest prep time."""
    locked = Order.objects.filter(number=_SPLICED, status=status)
    if with_prep:
        stations = OrderItem.objects.filter(order=OuterRef(OuterRef("pk"))).values("station")  # two levels down
        locked = locked.annotate(slowest_prep_seconds=slowest_prep_seconds(stations))
    locked = locked.values("id", "order_type", *(["slowest_prep_seconds"] if with_prep else []))
    lock_sql, lock_params = locked.query.sql_with_params()
    table = Order._meta.db_table
    set_sql = ", ".join(f"{Order._meta.get_field(name).column} = {expression}" for name, expression in sets)
    returning = ", ".join(f"{table}.{field.column}" for field in Order._meta.concrete_fields)
    body = f"%s || {_ISO_SQL.format('o.estimated_completion')} || %s"
    log_insert = _insert_sql(OrderStatusLog, "%s", first={"order_id": "o.id"}, source="o")
    message_insert = _insert_sql(OutboxMessage, "%s", first={"body": body}, source="o")
    # FOR UPDATE written out: Django compiles select_for_update() only inside a transaction, and this is one.
    sql = f"""
        WITH p AS ({lock_sql} FOR UPDATE OF {connection.ops.quote_name(table)}),
        o AS (UPDATE {table} SET {set_sql} FROM p WHERE {table}.id = p.id RETURNING {returning}),
        l AS ({log_insert}),
        m AS ({message_insert}){f", a AS ({also} AND EXISTS (SELECT FROM o))" if also else ""}
        SELECT * FROM o
    """
    return sql, lock_params


# A timestamptz as JSON text exactly as Python's isoformat() of a UTC datetime writes it (null if NULL).
_ISO_SQL = (
    "CASE WHEN {0} IS NULL THEN 'null' ELSE '\"' || to_char({0} AT TIME ZONE 'UTC', "
    "CASE WHEN date_trunc('second', {0}) = {0} THEN 'YYYY-MM-DD\"T\"HH24:MI:SS' "
    "ELSE 'YYYY-MM-DD\"T\"HH24:MI:SS.US' END) || '+00:00\"' END"
)


@transaction.atomic
def order_cancel(*, number: str, changed_by: str, reason: str = "") -> StatusChange:
    """Staff cancel an order that is received or cooking (SPEC §4)."""
    order = _lock_order(number)
    return StatusChange(order, _move(order, "cancel", changed_by=changed_by, notes=reason))


@transaction.atomic
def order_mark_completed(*, number: str, changed_by: str) -> StatusChange:
    """A ready order is handed over (bumped off the kitchen display, or completed in the admin)."""
    order = _lock_order(number)
    return StatusChange(order, _move(order, "complete", changed_by=changed_by))


@transaction.atomic
def order_recall(*, number: str, changed_by: str, within: timedelta = timedelta(minutes=5)) -> StatusChange:
    """Undo a bump: a completed order goes back to ready, within `within` of its completion.

    Its `ready` and `completed` log rows stay as history, marked superseded, so the new `ready` row
    (and the `completed` of the next bump) keep the one-live-row-per-status constraint.
    """
    order = _lock_order(number)
    if order.status == OrderStatus.COMPLETED:
        live = order.status_log.filter(superseded=False, status__in=[OrderStatus.READY, OrderStatus.COMPLETED])
        completed = live.filter(status=OrderStatus.COMPLETED).first()
        if completed is None or completed.changed_at < timezone.now() - within:
            raise RecallExpired(number, within)
        live.update(superseded=True)
    return StatusChange(order, _move(order, "recall", changed_by=changed_by, notes="recalled from completed"))


UNDO_PREPARED_WITHIN = timedelta(minutes=1)
KITCHEN_NOTIFY_CHANNEL = "kitchen"  # the display bridges LISTEN to it (notifications/bridge.py)


def _lock_item(order: Order, item_id: object) -> OrderItem:
    item = None
    if isinstance(item_id, int) and not isinstance(item_id, bool):
        item = OrderItem.objects.select_for_update().filter(order=order, pk=item_id).first()
    if item is None:
        raise ItemNotFound(order.number, item_id)
    return item


def _mark(order: Order, item: OrderItem, *, prepared_at, prepared_by: str) -> None:
    """Write an item's mark with a new display version, and tell every display at commit."""
    item.prepared_at, item.prepared_by = prepared_at, prepared_by
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval(pg_get_serial_sequence('order_status_log', 'id'))")
        (item.mark_version,) = cursor.fetchone()
        item.save(update_fields=["prepared_at", "prepared_by", "mark_version"])
        # NOTIFY is delivered at commit, folded with the transaction's others: no display sees a
        # mark that rolls back. (Marks are not messages for the broker: no consumer but the displays.)
        cursor.execute("SELECT pg_notify(%s, %s)", [KITCHEN_NOTIFY_CHANNEL, order.number])


@transaction.atomic
def order_item_prepare(*, number: str, item_id: int, changed_by: str) -> StatusChange:
    """A station marks an item of a cooking order done; the last item's mark makes the order ready
    (cooking → ready by `changed_by`), in the same transaction. Marking a marked item is a no-op.
    `changed` tells whether the order became ready."""
    order = _lock_order(number)
    item = _lock_item(order, item_id)
    if item.prepared_at is not None:
        return StatusChange(order, False)
    if order.status != OrderStatus.COOKING:
        raise ItemMarkRefused(f"order {number} is {order.status}: items are marked while it cooks")
    _mark(order, item, prepared_at=timezone.now(), prepared_by=changed_by)
    if order.items.filter(prepared_at__isnull=True).exists():
        return StatusChange(order, False)
    ready = _move(order, "mark_ready", changed_by=changed_by, processed_by=changed_by, completed_at=timezone.now())
    return StatusChange(order, ready)


@transaction.atomic
def order_item_unprepare(*, number: str, item_id: int, changed_by: str) -> StatusChange:
    """Undo an item's mark within a minute, while its order still cooks. An unmarked item: no-op."""
    order = _lock_order(number)
    item = _lock_item(order, item_id)
    if item.prepared_at is None:
        return StatusChange(order, False)
    if order.status != OrderStatus.COOKING:
        raise ItemMarkRefused(f"order {number} is {order.status}: its marks can no longer be undone")
    if item.prepared_at < timezone.now() - UNDO_PREPARED_WITHIN:
        raise ItemMarkRefused(f"item {item.pk} was marked more than a minute ago")
    _mark(order, item, prepared_at=None, prepared_by="")
    return StatusChange(order, False)
