"""order_recall: the kitchen display's undo of a bump, within five minutes."""

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction

from orders.models import OrderStatusLog
from orders.services import RecallExpired, TransitionNotAllowed, order_mark_completed, order_recall
from restaurant.models import OutboxMessage
from tests.factories import create_order


def test_recall_then_bump_again_keeps_the_history_with_one_live_row_per_status(db):
    order = create_order(status="completed")
    order_recall(number=order.number, changed_by="cook")
    order_recall(number=order.number, changed_by="cook")  # a double click: already done
    order_mark_completed(number=order.number, changed_by="cook")
    rows = list(order.status_log.values_list("status", "superseded"))
    assert rows == [
        ("received", False),
        ("cooking", False),
        ("ready", True),
        ("completed", True),
        ("ready", False),
        ("completed", False),
    ]
    recall_row = order.status_log.get(status="ready", superseded=False)
    assert recall_row.changed_by == "cook" and recall_row.notes == "recalled from completed"
    new_statuses = [row.body for row in OutboxMessage.objects.filter(exchange="notifications_fanout")]
    assert sum('"old_status":"completed","new_status":"ready"' in body for body in new_statuses) == 1


def test_recall_is_refused_after_the_window_and_for_an_order_not_completed(db):
    old, cooking = create_order(status="completed"), create_order(status="cooking")
    OrderStatusLog.objects.filter(order=old, status="completed").update(
        changed_at=old.updated_at - timedelta(minutes=6)
    )
    with pytest.raises(RecallExpired):
        order_recall(number=old.number, changed_by="cook")
    with pytest.raises(TransitionNotAllowed):
        order_recall(number=cooking.number, changed_by="cook")
    old.refresh_from_db()
    cooking.refresh_from_db()
    assert (old.status, cooking.status) == ("completed", "cooking")


def test_the_status_log_still_refuses_a_second_live_row_for_a_status(db):
    order = create_order(status="ready")
    with pytest.raises(IntegrityError), transaction.atomic():
        OrderStatusLog.objects.create(order=order, status="ready", changed_by="zombie")
