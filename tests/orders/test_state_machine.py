"""The order state machine: orders.models.TRANSITIONS walked in full through the service functions.

Every allowed move succeeds once and is a no-op the second time; every other move is refused and
writes nothing. Orders reach each starting status through the services too, along the table.
"""

from collections import deque

import pytest

from orders.models import TRANSITIONS, Order, OrderStatus, OrderStatusLog
from orders.services import (
    TransitionNotAllowed,
    order_cancel,
    order_mark_completed,
    order_mark_ready,
    order_recall,
    order_start_cooking,
)
from restaurant.models import OutboxMessage
from tests.factories import make_order

SERVICES = {
    "start_cooking": order_start_cooking,
    "mark_ready": order_mark_ready,
    "complete": order_mark_completed,
    "recall": order_recall,
    "cancel": order_cancel,
}
ALLOWED = [(move, source) for move, transition in TRANSITIONS.items() for source in sorted(transition.sources)]
REFUSED = [
    (move, status)
    for move, transition in TRANSITIONS.items()
    for status in OrderStatus.values
    if status not in transition.sources and status != transition.target
]


def path_to(status: str) -> list[str]:
    """The moves that take a new (received) order to `status`, shortest first, found in the table."""
    paths, queue = {OrderStatus.RECEIVED: []}, deque([OrderStatus.RECEIVED])
    while queue:
        current = queue.popleft()
        for move, transition in TRANSITIONS.items():
            if current in transition.sources and transition.target not in paths:
                paths[transition.target] = [*paths[current], move]
                queue.append(transition.target)
    return paths[status]


def order_in(status: str) -> Order:
    order = make_order()
    for move in path_to(status):
        SERVICES[move](number=order.number, changed_by="walker")
    order.refresh_from_db()
    assert order.status == status
    return order


def written(order: Order) -> tuple[int, int]:
    return OrderStatusLog.objects.filter(order=order).count(), OutboxMessage.objects.count()


def test_every_move_of_the_table_has_one_service_and_every_status_is_reachable():
    assert set(SERVICES) == set(TRANSITIONS)
    assert all(path_to(status) is not None for status in OrderStatus.values)


@pytest.mark.parametrize(("move", "source"), ALLOWED)
def test_an_allowed_move_succeeds_once_and_is_a_no_op_the_second_time(db, move, source):
    order = order_in(source)
    rows, messages = written(order)

    first = SERVICES[move](number=order.number, changed_by="cook")
    assert first.changed is True and first.order.status == TRANSITIONS[move].target
    assert written(order) == (rows + 1, messages + 1)  # its log row and its status update
    log = OrderStatusLog.objects.filter(order=order).order_by("id").last()
    assert (log.status, log.changed_by) == (TRANSITIONS[move].target, "cook")

    second = SERVICES[move](number=order.number, changed_by="cook")
    assert second.changed is False and second.order.status == TRANSITIONS[move].target
    assert written(order) == (rows + 1, messages + 1)


@pytest.mark.parametrize(("move", "status"), REFUSED)
def test_a_move_the_table_does_not_allow_is_refused_and_writes_nothing(db, move, status):
    order = order_in(status)
    before = written(order)
    with pytest.raises(TransitionNotAllowed) as refused:
        SERVICES[move](number=order.number, changed_by="cook")
    assert refused.value.errors == {"status": [f"cannot go from {status} to {TRANSITIONS[move].target}"]}
    order.refresh_from_db()
    assert order.status == status and written(order) == before
