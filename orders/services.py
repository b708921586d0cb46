"""Order writes (SPEC §3, §4). Every change of an order goes through a function here.

Status changes follow one rule, whoever asks (the API, the admin, a kitchen worker, the display):
each `order_*` transition names its move in `orders.models.TRANSITIONS`; asking for the status the
order is already in is a no-op (`changed` is False: a double click, a redelivery); any other move
the table does not allow raises `TransitionNotAllowed`. Each returns `(order, changed)`.
"""

from collections.abc import Callable
from contextlib import contextmanager, nullcontext
from datetime import UTC, date, datetime, timedelta
from typing import Any, NamedTuple

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from orders import statements
from orders.capacity import Need, kitchen_clock, next_available, order_need, order_number_day, order_slots
from orders.errors import (
    DuplicateRequest,
    ItemMarkRefused,
    ItemNotFound,
    OrderNotFound,
    RecallExpired,
    SlotFull,
    TransitionNotAllowed,
)
from orders.messages import held_order_routing_key, order_message, order_routing_key, status_update_message
from orders.models import (
    IDEMPOTENCY_KEY_CONSTRAINT,
    SLOT_FULL_CONSTRAINT,
    TRANSITIONS,
    Order,
    OrderItem,
    OrderStatus,
    OrderStatusLog,
)
from orders.statements import Increment
from orders.timing import preparation_time
from orders.validation import OrderInput
from restaurant.broker import NOTIFICATIONS_EXCHANGE, ORDERS_EXCHANGE, dumps
from restaurant.logging import service_logger
from restaurant.outbox import outbox_row
from restaurant.throttling import RateCount, RateLimitExceeded

# Transitions are logged under the service of the process making them (web, worker, …).
log = service_logger()

ORDER_SERVICE = "order-service"


def format_order_number(day: date, sequence: int) -> str:
    return f"ORD_{day:%Y%m%d}_{sequence:03d}"


def order_create(
    *,
    data: OrderInput,
    changed_by: str = ORDER_SERVICE,
    rate_count: RateCount | None = None,
    idempotency_key: str | None = None,
) -> Order:
    """Write a validated order, its items, its `received` log row and its order message, at once:
    one statement (`statements.insert_order`), so one database round trip and, outside a
    transaction, its own atomic commit. The number comes from the day's counter (gap-free).

    With `rate_count` (POST /orders' rate limit, restaurant/throttling.py) the statement counts the
    request too, and writes nothing when that count is over the limit: RateLimitExceeded. With an
    `idempotency_key` an earlier order made with the same key writes nothing: DuplicateRequest (the
    key is unique in the table, so two requests racing with one key make one order)."""
    now = timezone.now()
    order = Order(
        customer_name=data.customer_name,
        order_type=data.order_type,
        table_number=data.table_number,
        delivery_address=data.delivery_address,
        total_amount=data.total_amount,
        priority=data.priority,
        notes=data.notes,
        contact_phone=data.contact_phone,
        contact_email=data.contact_email,
        idempotency_key=idempotency_key,
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
    need = order_need(data.order_type, data.items)
    slots = order_slots(need, data.ready_at, now, by_loads=False)  # the clock's slots; no query

    day = order_number_day(now)  # UTC, or the restaurant's business day (ORDER_NUMBER_DAY)

    def insert(reservation: statements.Reservation | None = None) -> None:
        order.fire_at = _fire_time(order.promised_at, need, data.ready_at, now)
        written = statements.insert_order(
            order,
            items,
            OrderStatusLog(status=OrderStatus.RECEIVED, changed_by=changed_by, changed_at=now),
            _order_messages(order, now),
            message=order_message,
            number_prefix=format_order_number(day, 0)[:-3],
            day=day,
            rate_count=rate_count,
            reservation=reservation,
        )
        if not written:
            raise RateLimitExceeded(rate_count)

    with _refusing_a_repeated_key(idempotency_key):
        if not need.units:  # no station of it has a capacity: the one statement, as ever
            order.promised_at = slots[0][1].astimezone(UTC)
            insert()
        else:
            _insert_with_reservation(order, need, data.ready_at, now, slots, insert)
    details = {"order_number": order.number, "total_amount": order.total_amount, "priority": order.priority}
    transaction.on_commit(lambda: log.info("order_received", f"Order {order.number} received", details=details))
    return order


def _fire_time(promised_at, need: Need, ready_at, now) -> datetime | None:
    """When an order for a requested time must start so as to be ready at `promised_at`: its lead
    before. None (cooked at once, as an ASAP order) when that time has come already."""
    if ready_at is None:
        return None
    fire_at = promised_at - need.lead
    return fire_at if fire_at > now else None


def _order_messages(order: Order, now) -> list:
    """The order's outbox rows: its order message for the kitchen, published at once, or for an order
    held until its fire time, then (`not_before`), after an announcement published at once on a
    routing key no kitchen queue takes (orders/messages.py: held_order_routing_key)."""
    kitchen = outbox_row(
        exchange=ORDERS_EXCHANGE,
        routing_key=order_routing_key(order.order_type, order.priority),
        priority=order.priority,
        created_at=now,
        not_before=order.fire_at,
    )
    if order.fire_at is None:
        return [kitchen]
    announcement = outbox_row(
        optional=True,
        exchange=ORDERS_EXCHANGE,
        routing_key=held_order_routing_key(order.order_type, order.priority),
        priority=order.priority,
        created_at=now,
    )
    return [announcement, kitchen]


def _insert_with_reservation(
    order: Order, need: Need, ready_at: datetime | None, now: datetime, slots: list, insert: Callable
) -> None:
    """The order with its units in its slot, one statement (`insert_order` with a reservation): the
    first of `slots` (the clock's, best first) whose stations still have room as the units are added.
    Only once the loads' CHECK has refused a slot are the loads read, to try only slots with room
    (SlotFull, KitchenPaused when none has: `order_slots`)."""
    tried: set = set()
    while slots:
        start, end = slots[0]
        order.promised_at = end.astimezone(UTC)
        try:
            # Inside a caller's transaction a savepoint keeps it alive past a refusal.
            with transaction.atomic() if connection.in_atomic_block else nullcontext():
                insert(statements.Reservation(start, need.units, need.capacity))
            return
        except IntegrityError as exc:
            if not _violates(exc, SLOT_FULL_CONSTRAINT):
                raise
        tried.add(start)
        slots = [slot for slot in order_slots(need, ready_at, now) if slot[0] not in tried]
    clock = kitchen_clock()
    raise SlotFull("the slot filled up meanwhile", next_available(clock, need, end))


def _violates(exc: IntegrityError, constraint: str) -> bool:
    """Whether the database refused a write for `constraint` (psycopg's diagnostics name it)."""
    return getattr(getattr(exc.__cause__, "diag", None), "constraint_name", None) == constraint


@contextmanager
def _refusing_a_repeated_key(key: str | None):
    """The insert's unique violation on the idempotency key, as DuplicateRequest. Inside a caller's
    transaction the insert gets a savepoint, so the transaction survives the refusal; outside one the
    statement is its own transaction and needs none (no extra round trip on the hot path)."""
    if key is None:
        yield
        return
    try:
        with transaction.atomic() if connection.in_atomic_block else nullcontext():
            yield
    except IntegrityError as exc:
        if not _violates(exc, IDEMPOTENCY_KEY_CONSTRAINT):
            raise
        raise DuplicateRequest(Order.objects.values_list("number", flat=True).get(idempotency_key=key)) from None


class StatusChange(NamedTuple):
    order: Order
    changed: bool  # False when the order already was in the status asked for


def _lock_order(number: str, *, with_preparation: bool = False) -> Order:
    """The order, row-locked until the caller's transaction ends: the compare half of every
    compare-and-set of a status, so a redelivery or a zombie worker can never log a status twice.
    `with_preparation` reads its `preparation_time` with the lock (orders/timing.py)."""
    if not connection.in_atomic_block:
        raise RuntimeError("an order transition must run inside a transaction")
    if "\x00" in number:  # as in order_get: PostgreSQL text cannot hold NUL (a path may: %00)
        raise OrderNotFound(number)
    orders = Order.objects.select_for_update(of=("self",)).filter(number=number)
    if with_preparation:
        orders = orders.annotate(preparation=preparation_time())
    order = orders.first()
    if order is None:
        raise OrderNotFound(number)
    return order


def _move(order: Order, move: str, *, changed_by: str, notes: str = "", **fields: Any) -> bool:
    """The only writer of status rows: apply the table's `move` to a locked order (setting `fields`
    too), with its log row and its status update in the outbox, in the caller's transaction.
    False (and nothing written) when the order is already in the move's target status."""
    transition = TRANSITIONS[move]
    if order.status == transition.target:
        return False
    if order.status not in transition.sources:
        raise TransitionNotAllowed(order, transition.target)
    old_status, now = order.status, timezone.now()
    order.status, order.updated_at = transition.target, now
    for name, value in fields.items():
        setattr(order, name, value)
    body = status_update_message(order=order, old_status=old_status, changed_by=changed_by, at=now)
    statements.update_moved_order(
        order,
        ["status", "updated_at", *fields],
        OrderStatusLog(order=order, status=order.status, changed_by=changed_by, changed_at=now, notes=notes),
        outbox_row(exchange=NOTIFICATIONS_EXCHANGE, routing_key="", body=dumps(body), created_at=now),
    )
    _log_transition(order.number, old_status, order.status, changed_by)
    return True


def _log_transition(number: str, old_status: str, new_status: str, changed_by: str) -> None:
    details = {"order_number": number, "old_status": old_status, "new_status": new_status, "changed_by": changed_by}
    message = f"Order {number}: {old_status} -> {new_status} by {changed_by}"
    transaction.on_commit(lambda: log.info("order_status_changed", message, details=details))


def order_start_cooking(*, number: str, changed_by: str) -> StatusChange:
    """received → cooking, by `changed_by` (who also becomes `processed_by`), due when its slowest
    station is done (orders/timing.py). Already cooking: no-op (a redelivery resumes the cook)."""
    return _move_by_number(
        number, "start_cooking", changed_by=changed_by, fields={"processed_by": changed_by}, due_on_start=True
    )


def order_mark_ready(*, number: str, changed_by: str, count: Increment | None = None) -> StatusChange:
    """cooking → ready, with `completed_at`; and `count` + 1 (a worker's count) when it moved."""
    return _move_by_number(
        number,
        "mark_ready",
        changed_by=changed_by,
        fields={"processed_by": changed_by, "completed_at": timezone.now()},
        count=count,
    )


def _move_by_number(
    number: str,
    move: str,
    *,
    changed_by: str,
    fields: dict[str, Any],
    due_on_start: bool = False,
    count: Increment | None = None,
) -> StatusChange:
    """The usual case, an order in the move's one source status, in one statement
    (`statements.move_at_once`); any other (already moved, another status, an unknown number)
    through the lock and `_move`, which say why. `due_on_start`: `estimated_completion` is now +
    the order's preparation time. `count` is added to only when the order moved."""
    transition = TRANSITIONS[move]
    [source] = transition.sources
    now = timezone.now()
    order = statements.move_at_once(
        number,
        source=source,
        fields={"status": transition.target, "updated_at": now, **fields},
        due_field="estimated_completion" if due_on_start else None,
        log_row=OrderStatusLog(status=transition.target, changed_by=changed_by, changed_at=now),
        outbox=outbox_row(exchange=NOTIFICATIONS_EXCHANGE, routing_key="", created_at=now),
        message=lambda moved: status_update_message(order=moved, old_status=source, changed_by=changed_by, at=now),
        increment=count,
    )
    if order is not None:
        _log_transition(number, source, order.status, changed_by)
        return StatusChange(order, True)
    with transaction.atomic():
        order = _lock_order(number, with_preparation=due_on_start)
        if due_on_start:
            fields = {**fields, "estimated_completion": now + order.preparation}
        moved = _move(order, move, changed_by=changed_by, **fields)
        if moved and count is not None:
            statements.increment(count)
        return StatusChange(order, moved)


@transaction.atomic
def order_cancel(*, number: str, changed_by: str, reason: str = "") -> StatusChange:
    """Staff cancel an order that is received or cooking (SPEC §4)."""
    order = _lock_order(number)
    moved = _move(order, "cancel", changed_by=changed_by, notes=reason)
    if moved:
        statements.release_units(order.pk)  # its kitchen slot's units are free for others at once
    return StatusChange(order, moved)


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
KITCHEN_NOTIFY_CHANNEL = "kitchen"  # the display bridges LISTEN to it (kitchen/bridge.py)


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
    statements.mark_item(item, notify=KITCHEN_NOTIFY_CHANNEL, payload=order.number)


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
