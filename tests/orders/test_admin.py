"""The back office for orders (SPEC §7): pages, filters, the complete/cancel actions, the staff order
entry, who may do what, and `create_demo_staff`. Real PostgreSQL; the admin through Django's test client."""

import json
import re
from decimal import Decimal
from io import StringIO

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth import authenticate, get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client, RequestFactory
from django.urls import reverse

from kitchen.services import worker_register
from orders.models import Order, OrderStatus, OrderStatusLog
from restaurant.broker import NOTIFICATIONS_EXCHANGE, ORDERS_EXCHANGE
from restaurant.models import OutboxMessage
from restaurant.roles import ROLE_PERMISSIONS
from tests.factories import (
    FRONT_OF_HOUSE,
    KITCHEN,
    MANAGER,
    load_test_menu,
    logged_in,
    make_order,
    messages_of,
    staff_user,
)

pytestmark = pytest.mark.django_db

ORDERS = reverse("admin:orders_order_changelist")
ADD_ORDER = reverse("admin:orders_order_add")


def change_url(order: Order) -> str:
    return reverse("admin:orders_order_change", args=[order.pk])


def ready_order(**overrides) -> Order:
    order = make_order(status=OrderStatus.READY, cook="chef_test", **overrides)
    assert order.status == OrderStatus.READY
    return order


def run_action(client, action: str, *orders: Order):
    return client.post(ORDERS, {"action": action, ACTION_CHECKBOX_NAME: [order.pk for order in orders]})


def status_updates(order: Order) -> list[dict]:
    rows = OutboxMessage.objects.filter(exchange=NOTIFICATIONS_EXCHANGE).order_by("id")
    return [body for body in (json.loads(row.body) for row in rows) if body["order_number"] == order.number]


def listed(response) -> list[str]:
    return sorted(order.number for order in response.context["cl"].result_list)


def entry_form(items: list[tuple[str, str, str]], **fields: str) -> dict[str, str]:
    """The staff order entry form as a browser posts it, with eight item rows."""
    data = {
        "customer_name": "Jane Doe",
        "order_type": "takeout",
        "table_number": "",
        "delivery_address": "",
        "items-TOTAL_FORMS": "8",
        "items-INITIAL_FORMS": "0",
        "items-MIN_NUM_FORMS": "0",
        "items-MAX_NUM_FORMS": "20",
        **fields,
    }
    for row, (name, quantity, price) in enumerate(items):
        data.update({f"items-{row}-name": name, f"items-{row}-quantity": quantity, f"items-{row}-price": price})
    return data


# --- pages --------------------------------------------------------------------------------------


def test_manager_sees_the_order_pages_with_items_and_history():
    order = ready_order(customer_name="Ann Lee")
    client = logged_in(MANAGER)

    index = client.get(reverse("admin:index"))
    listing = client.get(ORDERS)
    page = client.get(change_url(order))
    add = client.get(ADD_ORDER)

    assert index.status_code == listing.status_code == page.status_code == add.status_code == 200
    assert order.number in listing.text and "Ann Lee" in listing.text
    # Items and the status history inline, read only: no form fields, no save button.
    assert "Margherita Pizza" in page.text
    assert [row.status for row in OrderStatusLog.objects.filter(order=order)] == ["received", "cooking", "ready"]
    for status in ("Received", "Cooking", "Ready"):
        assert status in page.text
    assert "chef_test" in page.text
    assert 'name="_save"' not in page.text and 'name="customer_name"' not in page.text
    assert 'name="items-0-quantity"' in add.text


def test_order_list_filters_by_status_type_priority_worker_and_day():
    received = make_order(order_type="delivery", delivery_address="12 Long Street, Springfield")
    big = make_order(price="60.00", order_type="dine_in", table_number=4)
    ready = ready_order()
    client = logged_in(MANAGER)
    today = received.created_at

    assert listed(client.get(ORDERS, {"status__exact": "ready"})) == [ready.number]
    assert listed(client.get(ORDERS, {"order_type__exact": "delivery"})) == [received.number]
    assert listed(client.get(ORDERS, {"priority__exact": "5"})) == [big.number]
    assert listed(client.get(ORDERS, {"processed_by": "chef_test"})) == [ready.number]
    day = {"created_at__year": today.year, "created_at__month": today.month, "created_at__day": today.day}
    assert listed(client.get(ORDERS, day)) == sorted([received.number, big.number, ready.number])
    assert listed(client.get(ORDERS, {**day, "created_at__day": (today.day % 28) + 1})) == []


def test_order_list_searches_number_and_customer_name():
    ann = make_order(customer_name="Ann Lee")
    bob = make_order(customer_name="Bob Marley")
    client = logged_in(MANAGER)

    assert listed(client.get(ORDERS, {"q": "marley"})) == [bob.number]
    assert listed(client.get(ORDERS, {"q": ann.number})) == [ann.number]


# --- actions ------------------------------------------------------------------------------------


def test_cancel_action_cancels_a_received_order_through_the_service():
    order = make_order()
    client = logged_in(MANAGER, "maria")

    response = run_action(client, "cancel", order)

    assert response.status_code == 302
    assert messages_of(response) == [("success", f"Cancelled: {order.number}.")]
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED
    cancelled = OrderStatusLog.objects.get(order=order, status=OrderStatus.CANCELLED)
    assert cancelled.changed_by == "maria"
    [update] = status_updates(order)
    assert (update["old_status"], update["new_status"], update["changed_by"]) == ("received", "cancelled", "maria")


def test_cancel_action_refuses_a_ready_order_and_still_cancels_the_others():
    ready, received = ready_order(), make_order()
    client = logged_in(MANAGER, "maria")
    updates_before = len(status_updates(ready))

    response = run_action(client, "cancel", ready, received)

    assert response.status_code == 302
    assert messages_of(response) == [
        ("error", f"{ready.number} not cancelled: cannot go from ready to cancelled."),
        ("success", f"Cancelled: {received.number}."),
    ]
    ready.refresh_from_db()
    assert ready.status == OrderStatus.READY
    assert not OrderStatusLog.objects.filter(order=ready, status=OrderStatus.CANCELLED).exists()
    assert len(status_updates(ready)) == updates_before
    received.refresh_from_db()
    assert received.status == OrderStatus.CANCELLED


def test_mark_completed_action_completes_a_ready_order_and_refuses_a_received_one():
    ready, received = ready_order(), make_order()
    client = logged_in(MANAGER, "maria")

    response = run_action(client, "mark_completed", ready, received)

    assert messages_of(response) == [
        ("error", f"{received.number} not completed: cannot go from received to completed."),
        ("success", f"Completed: {ready.number}."),
    ]
    ready.refresh_from_db()
    assert ready.status == OrderStatus.COMPLETED
    assert OrderStatusLog.objects.get(order=ready, status=OrderStatus.COMPLETED).changed_by == "maria"
    assert status_updates(ready)[-1]["new_status"] == "completed"
    received.refresh_from_db()
    assert received.status == OrderStatus.RECEIVED


def test_an_action_on_an_order_already_in_that_status_changes_nothing():
    order = make_order()
    client = logged_in(MANAGER, "maria")
    run_action(client, "cancel", order)
    client.get(ORDERS)  # shows (and so clears) the first action's messages

    response = run_action(client, "cancel", order)

    assert messages_of(response) == [("warning", f"Already cancelled: {order.number}.")]
    assert OrderStatusLog.objects.filter(order=order, status=OrderStatus.CANCELLED).count() == 1
    assert len(status_updates(order)) == 1


# --- staff order entry --------------------------------------------------------------------------


def test_staff_order_entry_rejects_a_bad_quantity_naming_the_field():
    client = logged_in(FRONT_OF_HOUSE, "frank")

    response = client.post(ADD_ORDER, entry_form([("Margherita Pizza", "1", "15.99"), ("Cola", "11", "2.50")]))

    assert response.status_code == 200
    assert response.context["errors"] == [("items[1].quantity (row 2)", ["must be between 1 and 10"])]
    assert response.context["items"].forms[1].errors == {"quantity": ["must be between 1 and 10"]}
    assert "items[1].quantity" in response.text and "must be between 1 and 10" in response.text
    assert not Order.objects.exists() and not OutboxMessage.objects.exists()


def test_staff_order_entry_applies_the_api_rules_to_every_field():
    client = logged_in(FRONT_OF_HOUSE)

    response = client.post(
        ADD_ORDER,
        entry_form([("", "", ""), ("Soup", "2.5", "abc")], customer_name="R2-D2", order_type="dine_in"),
    )

    errors = dict(response.context["errors"])
    assert errors == {
        "customer_name": ["may contain only letters, spaces, hyphens and apostrophes"],
        "items[0].quantity (row 2)": ["must be an integer"],
        "items[0].price (row 2)": ["must be a number"],
        "table_number": ["is required for dine_in orders"],
    }
    assert response.context["form"].errors["table_number"] == ["is required for dine_in orders"]
    assert not Order.objects.exists()


def test_staff_order_entry_creates_the_order_as_post_orders_does():
    client = logged_in(FRONT_OF_HOUSE, "frank")

    response = client.post(
        ADD_ORDER,
        entry_form(
            [("Margherita Pizza", "2", "15.99"), ("Tiramisu", "1", "6.50")], order_type="dine_in", table_number="7"
        ),
    )

    order = Order.objects.get()
    assert response.status_code == 302 and response["Location"] == change_url(order)
    assert re.fullmatch(r"ORD_\d{8}_\d{3}", order.number)
    assert (order.status, order.table_number, str(order.total_amount), order.priority) == ("received", 7, "38.48", 1)
    assert [(i.name, i.quantity, str(i.price)) for i in order.items.order_by("id")] == [
        ("Margherita Pizza", 2, "15.99"),
        ("Tiramisu", 1, "6.50"),
    ]
    [log] = OrderStatusLog.objects.filter(order=order)
    assert (log.status, log.changed_by) == ("received", "frank")
    [message] = OutboxMessage.objects.filter(exchange=ORDERS_EXCHANGE)
    assert message.routing_key == "kitchen.dine_in.1"
    assert json.loads(message.body)["order_number"] == order.number
    assert messages_of(response) == [("success", f"Order {order.number} received: total 38.48, priority 1.")]


def test_staff_order_entry_takes_menu_lines_from_the_picker_priced_by_the_server():
    load_test_menu()
    client = logged_in(FRONT_OF_HOUSE, "frank")
    picked = [{"sku": "margherita", "quantity": 2, "modifiers": ["large", "olives"], "notes": "well done"}]

    response = client.post(ADD_ORDER, entry_form([("Candle", "1", "0.50")], menu_lines=json.dumps(picked)))

    order = Order.objects.get()
    assert response.status_code == 302
    assert order.total_amount == Decimal("33.50")  # (12.50 + 3.00 + 1.00) × 2 + 0.50
    rows = [(i.sku, i.name, str(i.price), i.notes) for i in order.items.order_by("id")]
    assert rows == [("margherita", "Margherita Pizza", "16.50", "well done"), (None, "Candle", "0.50", "")]


def test_staff_order_entry_names_a_bad_menu_line_keeps_the_picked_lines_and_trusts_no_client_price():
    load_test_menu()
    client = logged_in(FRONT_OF_HOUSE, "frank")
    picked = [
        {"sku": "margherita", "quantity": 1, "modifiers": ["large"], "price": 0.01},
        {"sku": "margherita", "quantity": 1, "modifiers": []},
    ]

    response = client.post(ADD_ORDER, entry_form([], menu_lines=json.dumps(picked)))

    assert response.status_code == 200
    assert dict(response.context["errors"]) == {
        "items[0].price (menu line 1)": ["is 15.50 on the menu (with its modifiers), not 0.01"],
        "items[1].modifiers (menu line 2)": ["Size: choose exactly 1"],
    }
    assert [line["sku"] for line in response.context["picked"]] == ["margherita", "margherita"]
    assert not Order.objects.exists() and not OutboxMessage.objects.exists()


# --- who may do what ----------------------------------------------------------------------------


def test_a_kitchen_account_gets_no_back_office_even_when_staff():
    make_order()
    user = staff_user(KITCHEN, "kit")
    user.set_password("kitchen-pass")
    user.save()
    client = logged_in(KITCHEN, "kit2")

    for url in (reverse("admin:index"), ORDERS, ADD_ORDER, reverse("admin:kitchen_worker_changelist")):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith(reverse("admin:login")), url
    # Logging in through the admin's own form ends on the login page, refused.
    anonymous = Client()
    login = anonymous.post(
        reverse("admin:login"), {"username": "kit", "password": "kitchen-pass", "next": ORDERS}, follow=True
    )
    assert login.request["PATH_INFO"] == reverse("admin:login")
    assert "not authorized to access this page" in login.text
    # The same login form still signs them in for the kitchen display, which sends them there.
    to_display = Client().post(
        reverse("admin:login"), {"username": "kit", "password": "kitchen-pass", "next": "/kitchen/"}
    )
    assert to_display.status_code == 302 and to_display["Location"] == "/kitchen/"


def test_front_of_house_takes_and_cancels_orders_but_cannot_change_workers_or_see_operations():
    worker = worker_register(name="chef_anna", order_types=None, heartbeat_interval=30, instance_id="t")
    order = make_order()
    client = logged_in(FRONT_OF_HOUSE, "frank")

    assert client.get(ADD_ORDER).status_code == 200
    assert messages_of(run_action(client, "cancel", order)) == [("success", f"Cancelled: {order.number}.")]
    workers = client.get(reverse("admin:kitchen_worker_changelist"))
    assert workers.status_code == 200 and "chef_anna" in workers.text
    change_worker = client.post(
        reverse("admin:kitchen_worker_change", args=[worker.pk]), {"name": "x", "orders_processed": "99"}
    )
    assert change_worker.status_code == 403
    worker.refresh_from_db()
    assert (worker.name, worker.orders_processed) == ("chef_anna", 0)
    assert client.get(reverse("admin:restaurant_outboxmessage_changelist")).status_code == 403
    assert client.get(reverse("admin:dead_letters")).status_code == 403
    index = client.get(reverse("admin:index")).text
    assert "Dead letters" not in index and "Outbox" not in index


def test_roles_grant_what_each_does():
    user = {role: staff_user(role) for role in (KITCHEN, FRONT_OF_HOUSE, MANAGER)}

    assert Group.objects.get(name=FRONT_OF_HOUSE).permissions.count() == len(ROLE_PERMISSIONS[FRONT_OF_HOUSE])
    assert user[FRONT_OF_HOUSE].has_perms(["orders.add_order", "orders.cancel_order", "orders.view_order"])
    assert not user[FRONT_OF_HOUSE].has_perm("kitchen.change_worker")
    assert not user[FRONT_OF_HOUSE].has_perm("kitchen.manage_dead_letters")
    assert user[KITCHEN].has_perm("orders.complete_order")
    assert not user[KITCHEN].has_perm("orders.view_order")
    assert user[MANAGER].has_perms(
        ["orders.change_order", "orders.cancel_order", "kitchen.manage_dead_letters", "restaurant.view_outboxmessage"]
    )


# --- create_demo_staff --------------------------------------------------------------------------


def test_create_demo_staff_prints_a_fresh_login_once_and_leaves_it_alone_after():
    with pytest.raises(CommandError, match="DEBUG is off"):
        call_command("create_demo_staff")
    assert not get_user_model().objects.exists()

    first, second = StringIO(), StringIO()
    call_command("create_demo_staff", "--force", stdout=first)
    call_command("create_demo_staff", "--force", stdout=second)

    match = re.search(r"username (\S+)\s+password (\S+)", first.getvalue())
    assert match, first.getvalue()
    username, password = match.groups()
    login = RequestFactory().post("/admin/login/")  # axes' backend asks for the request a login comes with
    user = authenticate(login, username=username, password=password)
    assert user is not None and user.is_staff and not user.is_superuser
    assert list(user.groups.values_list("name", flat=True)) == [MANAGER]
    assert "already exists" in second.getvalue() and password not in second.getvalue()
    assert authenticate(login, username=username, password=password) is not None  # not reset
    assert get_user_model().objects.count() == 1
    client = Client()
    client.force_login(user)
    assert client.get(ORDERS).status_code == 200

    other = StringIO()
    call_command("create_demo_staff", "--force", "--username", "demo2", stdout=other)
    assert f"password {password}" not in other.getvalue()  # generated, not a fixed one


def test_the_order_page_shows_each_items_sku_options_and_notes_and_the_orders_notes():
    load_test_menu()
    client = logged_in(MANAGER)
    picked = [{"sku": "margherita", "quantity": 1, "modifiers": ["large", "olives"], "notes": "cut in 8"}]
    client.post(ADD_ORDER, entry_form([], menu_lines=json.dumps(picked), notes="ring twice"))
    order = Order.objects.get()

    page = client.get(change_url(order)).text

    for shown in ("margherita", "oven", "Large (+3.00), Olives (+1.00)", "cut in 8", "ring twice"):
        assert shown in page, shown


@pytest.mark.parametrize(
    "menu_lines",
    [
        "[" * 10_000,  # deeper than the JSON reader goes (RecursionError)
        json.dumps([{"sku": "margherita", "quantity": 1, "modifiers": ["large"], "notes": "x"}])[:-1]
        + ","
        + "[" * 900
        + "]" * 900
        + "]",  # nested just within it: a line that is not an object
        json.dumps([{"sku": "margherita", "quantity": 1, "modifiers": [[[["large"]]]]}]),
    ],
    ids=["too-deep", "deep-line", "nested-modifiers"],
)
def test_staff_order_entry_with_deeply_nested_lines_is_refused_not_a_500(menu_lines):
    load_test_menu()
    client = logged_in(FRONT_OF_HOUSE, "frank")

    response = client.post(ADD_ORDER, entry_form([], menu_lines=menu_lines))

    assert response.status_code == 200  # the form again, with its errors
    assert response.context["errors"]
    assert not Order.objects.exists() and not OutboxMessage.objects.exists()
