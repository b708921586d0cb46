"""Item-level bump (orders/services.py order_item_prepare / order_item_unprepare): a station marks its
own items of a cooking order; the last mark makes the order ready in the same transaction; a mark can
be undone for a minute; each mark raises the ticket's version."""

from datetime import timedelta

import pytest

from kitchen.screens import order_views
from orders.errors import ItemMarkRefused, ItemNotFound
from orders.models import OrderItem, OrderStatus, OrderStatusLog
from orders.services import order_item_prepare, order_item_unprepare
from tests.factories import create_order

pytestmark = pytest.mark.django_db

TWO_ITEMS = [
    {"name": "Margherita Pizza", "quantity": 1, "price": 12.5},
    {"name": "Cola", "quantity": 2, "price": 3.0},
]


def cooking_order():
    order = create_order(status=OrderStatus.COOKING, items=TWO_ITEMS)
    return order, list(order.items.order_by("id"))


def statuses(order) -> list[str]:
    return list(OrderStatusLog.objects.filter(order=order).order_by("id").values_list("status", flat=True))


def test_a_mark_is_kept_with_who_made_it_and_raises_the_tickets_version():
    order, (pizza, cola) = cooking_order()
    before = order_views(order.number)[0]

    change = order_item_prepare(number=order.number, item_id=pizza.id, changed_by="oven_cook")

    pizza.refresh_from_db()
    assert change.changed is False and change.order.status == OrderStatus.COOKING  # the cola is not done
    assert pizza.prepared_at is not None and pizza.prepared_by == "oven_cook"
    ticket = order_views(order.number)[0]
    assert ticket["version"] > before["version"]
    assert [(item["prepared"], item["prepared_by"]) for item in ticket["items"]] == [(True, "oven_cook"), (False, None)]


def test_marking_a_marked_item_again_changes_nothing():
    order, (pizza, _) = cooking_order()
    order_item_prepare(number=order.number, item_id=pizza.id, changed_by="oven_cook")
    version = order_views(order.number)[0]["version"]

    order_item_prepare(number=order.number, item_id=pizza.id, changed_by="someone_else")

    pizza.refresh_from_db()
    assert pizza.prepared_by == "oven_cook" and order_views(order.number)[0]["version"] == version


def test_the_last_items_mark_makes_the_order_ready_by_that_cook_in_the_same_transaction():
    order, (pizza, cola) = cooking_order()
    order_item_prepare(number=order.number, item_id=pizza.id, changed_by="oven_cook")

    change = order_item_prepare(number=order.number, item_id=cola.id, changed_by="bar_cook")

    order.refresh_from_db()
    assert change.changed is True and order.status == OrderStatus.READY
    assert statuses(order) == ["received", "cooking", "ready"]
    ready = OrderStatusLog.objects.get(order=order, status=OrderStatus.READY)
    assert ready.changed_by == "bar_cook" and order.processed_by == "bar_cook" and order.completed_at is not None


@pytest.mark.parametrize("status", [OrderStatus.RECEIVED, OrderStatus.READY, OrderStatus.CANCELLED])
def test_items_are_marked_only_while_the_order_cooks(status):
    order = create_order(status=status, items=TWO_ITEMS)
    item = order.items.first()

    with pytest.raises(ItemMarkRefused) as refused:
        order_item_prepare(number=order.number, item_id=item.id, changed_by="cook")

    assert refused.value.code == "item_mark_refused" and refused.value.status_code == 409
    assert not OrderItem.objects.filter(prepared_at__isnull=False).exists()


@pytest.mark.parametrize("item_id", ["1", None, True, 10**9])
def test_an_item_that_is_not_of_the_order_is_not_found(item_id):
    order, _ = cooking_order()
    other = create_order(status=OrderStatus.COOKING).items.first()

    for wanted in (item_id, other.id):
        with pytest.raises(ItemNotFound):
            order_item_prepare(number=order.number, item_id=wanted, changed_by="cook")
    assert not OrderItem.objects.filter(prepared_at__isnull=False).exists()


def test_a_mark_is_undone_within_a_minute_and_not_after():
    order, (pizza, cola) = cooking_order()
    order_item_prepare(number=order.number, item_id=pizza.id, changed_by="oven_cook")
    order_item_prepare(number=order.number, item_id=pizza.id, changed_by="oven_cook")
    version = order_views(order.number)[0]["version"]

    order_item_unprepare(number=order.number, item_id=pizza.id, changed_by="oven_cook")

    pizza.refresh_from_db()
    assert (pizza.prepared_at, pizza.prepared_by) == (None, "")
    assert order_views(order.number)[0]["version"] > version
    order_item_prepare(number=order.number, item_id=pizza.id, changed_by="oven_cook")
    OrderItem.objects.filter(pk=pizza.pk).update(prepared_at=pizza.order.created_at - timedelta(minutes=2))
    with pytest.raises(ItemMarkRefused):
        order_item_unprepare(number=order.number, item_id=pizza.id, changed_by="oven_cook")
    assert OrderItem.objects.get(pk=pizza.pk).prepared_at is not None


def test_a_mark_cannot_be_undone_once_the_order_is_ready():
    order, items = cooking_order()
    for item in items:
        order_item_prepare(number=order.number, item_id=item.id, changed_by="cook")

    with pytest.raises(ItemMarkRefused):
        order_item_unprepare(number=order.number, item_id=items[0].id, changed_by="cook")
    assert OrderItem.objects.get(pk=items[0].pk).prepared_at is not None


def test_an_order_is_due_when_its_slowest_station_is_done_else_after_its_order_types_time(settings):
    from menu.models import Station
    from orders.services import order_start_cooking
    from orders.timing import cooking_time
    from tests.factories import load_test_menu

    load_test_menu()
    Station.objects.filter(code="oven").update(prep_seconds=600)
    Station.objects.filter(code="bar").update(prep_seconds=60)
    lines = [{"sku": "margherita", "quantity": 1, "modifiers": ["medium"]}, {"sku": "cola", "quantity": 1}]
    menu_order, free_order = create_order(items=lines), create_order()

    for order in (menu_order, free_order):
        order_start_cooking(number=order.number, changed_by="cook")
        order.refresh_from_db()
    started = {
        o.pk: OrderStatusLog.objects.get(order=o, status=OrderStatus.COOKING).changed_at
        for o in (menu_order, free_order)
    }

    due = menu_order.estimated_completion - started[menu_order.pk]
    assert abs(due - timedelta(seconds=600 * settings.COOKING_TIME_SCALE)) < timedelta(seconds=0.5)
    due = free_order.estimated_completion - started[free_order.pk]
    assert abs(due - cooking_time(free_order.order_type)) < timedelta(seconds=0.5)
