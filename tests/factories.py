"""Test data built the way the product builds it: orders through the intake service (or POST /orders),
moved on through the status service functions, and the back-office personas (the role groups of
restaurant/roles.py). Every test module builds its orders and its staff accounts here, and reads an
order's rows back with the helpers below them.

For the catalog: the one test menu (`TEST_MENU`, loaded by `load_test_menu`) and the catalog's state."""

import copy
import json
from decimal import Decimal
from typing import Any

import requests
from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.messages import get_messages
from django.db.models import Max
from django.test import Client

from kitchen.services import worker_finish_order
from menu.models import Category, MenuItem, ModifierGroup, ModifierOption, Station
from menu.selectors import menu_version
from menu.services import menu_load, parse_menu
from orders.models import DailyOrderCounter, Order, OrderItem, OrderStatus, OrderStatusLog
from orders.services import order_cancel, order_create, order_mark_completed, order_start_cooking
from orders.validation import ItemInput, OrderInput, validate_order
from restaurant.logging import request_id_var
from restaurant.models import OutboxMessage
from restaurant.roles import FRONT_OF_HOUSE, KITCHEN, MANAGER, ensure_roles
from tests.support import BROWSER_PASSWORD, order_payload

__all__ = [
    "FRONT_OF_HOUSE",
    "KITCHEN",
    "MANAGER",
    "TEST_MENU",
    "as_api_reads",
    "catalog_state",
    "create_order",
    "get_json",
    "last_log_id",
    "load_test_menu",
    "logged",
    "logged_in",
    "logged_statuses",
    "make_order",
    "menu_copy",
    "messages_of",
    "order_input",
    "order_payload",
    "place_order",
    "post",
    "post_order",
    "posted_back",
    "staff_user",
    "stored_rows",
]


# --- orders -------------------------------------------------------------------------------------


def as_api_reads(value: Any) -> Any:
    """`value` as the API's parser reads a JSON body: every float becomes the Decimal of its JSON
    text (what `json.loads(json.dumps(value), parse_float=Decimal)` gives); a Decimal stays as it is."""
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, dict):
        return {key: as_api_reads(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [as_api_reads(item) for item in value]
    return value


def create_order(
    *,
    status: str = OrderStatus.RECEIVED,
    request_id: str | None = None,
    cook: str = "chef_mario",
    changed_by: str = "someone",
    **fields: Any,
) -> Order:
    """An order written through the intake service, as POST /orders writes it: `order_payload(**fields)`
    (a takeout of one Margherita Pizza unless `fields` say otherwise), read as the API reads it,
    under `request_id` as the request it came from (its messages carry it).

    A `status` past `received` is reached through the service functions, as in the kitchen: cooking and
    ready by the worker `cook`, completed or cancelled by the staff member `changed_by`. Returned as
    the database holds it. No relay runs unless the test starts one: the order's messages wait in
    the outbox.
    """
    data = validate_order(as_api_reads(order_payload(**fields)))
    token = request_id_var.set(request_id)
    try:
        order = order_create(data=data)
    finally:
        request_id_var.reset(token)
    if status in (OrderStatus.COOKING, OrderStatus.READY, OrderStatus.COMPLETED):
        order_start_cooking(number=order.number, changed_by=cook)
    if status in (OrderStatus.READY, OrderStatus.COMPLETED):
        worker_finish_order(number=order.number, worker_name=cook)
    if status == OrderStatus.COMPLETED:
        order_mark_completed(number=order.number, changed_by=changed_by)
    if status == OrderStatus.CANCELLED:
        order_cancel(number=order.number, changed_by=changed_by)
    order.refresh_from_db()
    return order


def order_input(*items: tuple[int, str], order_type: str = "takeout", **fields: Any) -> OrderInput:
    """A validated order of free items given as `(quantity, "price")`, e.g. `order_input((3, "0.10"))`,
    for the intake service itself (one item at 15.99 when none is given)."""
    lines = items or ((1, "15.99"),)
    return OrderInput(
        customer_name=fields.pop("customer_name", "Jane Doe"),
        order_type=order_type,
        items=tuple(
            ItemInput(name=f"Dish {n}", quantity=quantity, price=Decimal(price))
            for n, (quantity, price) in enumerate(lines)
        ),
        **fields,
    )


def make_order(price: str = "15.99", quantity: int = 1, **overrides: Any) -> Order:
    """`create_order` of one Margherita Pizza: `quantity` of it at `price` (the admin tests' shorthand)."""
    items = [{"name": "Margherita Pizza", "quantity": quantity, "price": Decimal(price)}]
    return create_order(items=items, **overrides)


def post_order(
    base_url: str,
    payload: dict[str, Any] | None = None,
    *,
    expect: int | None = None,
    session: requests.Session | None = None,
    timeout: float = 10,
    **headers: str,
) -> requests.Response:
    """POST /orders of `payload` (`order_payload()` when None) to a live web process, with `headers`;
    with `expect`, the response must have that status."""
    body = order_payload() if payload is None else payload
    response = (session or requests).post(f"{base_url}/orders", json=body, headers=headers, timeout=timeout)
    if expect is not None:
        assert response.status_code == expect, response.text
    return response


def place_order(base_url: str, **fields: Any) -> str:
    """`post_order` of `order_payload(**fields)`, which must be taken (201): the new order's number."""
    return post_order(base_url, order_payload(**fields), expect=201).json()["order_number"]


def post(
    client: Client, body: dict | list | str | bytes, content_type: str = "application/json", path: str = "/orders"
):
    """POST `body` to `path` through Django's test client, JSON-encoded unless it is text or bytes already.
    Sent with its Content-Type even when empty, as a client sends it (the test client leaves it out then)."""
    data = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return client.post(path, data=data, content_type=content_type, CONTENT_TYPE=content_type)


def get_json(client: Client, path: str, expected_status: int = 200, **params: Any) -> Any:
    """GET `path` (with `params` as its query) through Django's test client: the JSON body of a
    response that has `expected_status` and says it is JSON."""
    response = client.get(path, params)
    assert response.status_code == expected_status, response.content
    assert response["Content-Type"] == "application/json"
    return response.json()


# --- an order's rows, read back -----------------------------------------------------------------


def logged(order: Order) -> list[tuple[str, str]]:
    """The order's status rows as (status, changed_by), oldest first."""
    rows = OrderStatusLog.objects.filter(order=order).order_by("changed_at", "id")
    return list(rows.values_list("status", "changed_by"))


def logged_statuses(order: Order) -> list[str]:
    """The statuses of the order's status rows, sorted by name: which rows exist, whoever wrote them."""
    return sorted(status for status, _ in logged(order))


def last_log_id(order: Order | None = None) -> int:
    """The newest status row's id (of `order`'s rows, or of all): the version a screen's update carries."""
    rows = OrderStatusLog.objects.filter(order=order) if order else OrderStatusLog.objects.all()
    return rows.aggregate(top=Max("id"))["top"]


def stored_rows() -> dict[str, int]:
    """Rows in every table an order writes: what a refused order must leave as it was."""
    return {
        "orders": Order.objects.count(),
        "order_items": OrderItem.objects.count(),
        "order_status_log": OrderStatusLog.objects.count(),
        "outbox": OutboxMessage.objects.count(),
        "daily_counter": DailyOrderCounter.objects.count(),
    }


# --- staff --------------------------------------------------------------------------------------


def staff_user(
    role: str | None,
    username: str | None = None,
    *,
    is_staff: bool = True,
    superuser: bool = False,
):
    """A staff account in `role`'s group (in no group when `role` is None).

    The groups come from a data migration, but a transactional test empties every table when it ends,
    so they are made again here (ensure_roles only adds). An account in no group leaves the groups as
    they are: a test may have deleted them on purpose. A superuser is staff too.
    """
    if role:
        ensure_roles()
    name = username or (role or "nobody").lower().replace(" ", "_")
    user = get_user_model().objects.create_user(
        username=name, password="not-used", is_staff=is_staff or superuser, is_superuser=superuser
    )
    if role:
        user.groups.add(Group.objects.get(name=role))
    return user


def staff_with_password(role: str, username: str, password: str = BROWSER_PASSWORD):
    """A staff account in `role` that logs in through the login form with `password` (a browser test's)."""
    user = staff_user(role, username)
    user.set_password(password)
    user.save()
    return user


def logged_in(role: str | None, username: str | None = None) -> Client:
    client = Client()
    client.force_login(staff_user(role, username))
    return client


def messages_of(response) -> list[tuple[str, str]]:
    """The (level, text) of the messages a response left for the next page."""
    return [(message.level_tag, str(message)) for message in get_messages(response.wsgi_request)]


def posted_back(page, **changes: Any) -> dict[str, Any]:
    """What a browser posts back of an admin change page (its form and every inline, as rendered),
    with `changes` ("price", "options-0-code", ...) applied."""
    data: dict[str, Any] = {}
    rendered = [page.context["adminform"].form]
    for inline in page.context["inline_admin_formsets"]:
        management = inline.formset.management_form
        data.update({management.add_prefix(name): value for name, value in management.initial.items()})
        rendered.extend(inline.formset.forms)
    for form in rendered:
        for name, field in form.fields.items():
            value = form[name].value()
            if isinstance(field, forms.BooleanField):
                if value:
                    data[form.add_prefix(name)] = "on"
            elif value is not None:
                data[form.add_prefix(name)] = value
    data.update(changes)
    return {name: value for name, value in data.items() if value is not None}


# --- the test menu -----------------------------------------------------------------------------

# The one test menu, of the intake tests and the menu's own: a pizza with an exactly-one size (one
# option taking 2.00 off), up to three extras (one sold out) and free removals; a "deltas" item whose
# modifiers a float sum gets wrong; a drink (its price a Decimal, as a file's number is read); a
# sold-out dessert. Two stations, two categories.
TEST_MENU: dict[str, Any] = {
    "stations": [{"code": "oven", "name": "Pizza oven"}, {"code": "bar", "name": "Bar"}],
    "categories": [
        {
            "code": "pizza",
            "name": "Pizza",
            "items": [
                {
                    "sku": "margherita",
                    "name": "Margherita Pizza",
                    "description": "Tomato, mozzarella, basil",
                    "price": "12.50",
                    "station": "oven",
                    "modifier_groups": [
                        {
                            "code": "size",
                            "name": "Size",
                            "min": 1,
                            "max": 1,
                            "options": [
                                {"code": "medium", "name": "Medium"},
                                {"code": "large", "name": "Large", "price_delta": "3.00"},
                                {"code": "small", "name": "Small", "price_delta": "-2.00"},
                            ],
                        },
                        {
                            "code": "extras",
                            "name": "Extras",
                            "min": 0,
                            "max": 3,
                            "options": [
                                {"code": "extra_cheese", "name": "Extra cheese", "price_delta": "1.50"},
                                {"code": "mushrooms", "name": "Mushrooms", "price_delta": "1.20"},
                                {"code": "olives", "name": "Olives", "price_delta": "1.00"},
                                {"code": "basil", "name": "Basil", "price_delta": "0.50"},
                                {"code": "chili", "name": "Fresh chili", "price_delta": "0.80", "available": False},
                            ],
                        },
                        {"code": "remove", "name": "Remove", "options": [{"code": "no_onions", "name": "No onions"}]},
                    ],
                },
                {
                    "sku": "deltas",
                    "name": "Pizza bianca",
                    "price": "0.10",
                    "station": "oven",
                    "modifier_groups": [
                        {
                            "code": "toppings",
                            "name": "Toppings",
                            "max": 2,
                            "options": [
                                {"code": "salt", "name": "Sea salt", "price_delta": "0.20"},
                                {"code": "rosemary", "name": "Rosemary", "price_delta": "0.10"},
                            ],
                        }
                    ],
                },
            ],
        },
        {
            "code": "drinks",
            "name": "Drinks",
            "items": [
                {
                    "sku": "cola",
                    "name": "Cola",
                    "price": Decimal("3.00"),
                    "station": "bar",
                    "modifier_groups": [
                        {"code": "ice", "name": "Ice", "max": 1, "options": [{"code": "no_ice", "name": "No ice"}]}
                    ],
                },
                {"sku": "tiramisu", "name": "Tiramisu", "price": "6.50", "station": "bar", "available": False},
            ],
        },
    ],
}


def menu_copy() -> dict[str, Any]:
    """A copy of `TEST_MENU` for a test to change."""
    return copy.deepcopy(TEST_MENU)


def load_test_menu(menu: dict[str, Any] | None = None) -> None:
    """`TEST_MENU` (or `menu`) in the catalog, through load_menu's own code."""
    menu_load(parse_menu(as_api_reads(menu or TEST_MENU)))


def catalog_state() -> dict[str, int]:
    """Row counts of every menu table, and the menu version: what a refused load must leave as it was."""
    models = (Station, Category, MenuItem, ModifierGroup, ModifierOption)
    return {**{model.__name__: model.objects.count() for model in models}, "version": menu_version()}
