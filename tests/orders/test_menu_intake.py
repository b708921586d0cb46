"""POST /orders with menu items (issue 9): names and unit prices from the menu, modifier group rules,
sold-out items and options, price_mismatch, notes, MENU_MODE; every refusal writes nothing."""

import json
from decimal import Decimal
from typing import Any

import pytest

from menu.models import MenuItem
from orders.models import Order, OrderItem
from restaurant.models import OutboxMessage
from tests.factories import load_test_menu, post, stored_rows
from tests.support import order_payload

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def menu():
    load_test_menu()


def pizza(*modifiers: str, **fields: Any) -> dict[str, Any]:
    return {"sku": "margherita", "quantity": 1, "modifiers": list(modifiers), **fields}


def ordering(*items: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return order_payload(items=list(items), **fields)


def test_a_menu_item_is_named_and_priced_by_the_menu_and_stored_as_ordered(client):
    body = ordering(pizza("large", "extra_cheese", quantity=2, notes="well done"), notes="Ring twice")

    response = post(client, body)

    assert response.status_code == 201, response.content
    assert response.json()["total_amount"] == 34.00  # (12.50 + 3.00 + 1.50) × 2
    order = Order.objects.get()
    assert (order.total_amount, order.notes) == (Decimal("34.00"), "Ring twice")
    [item] = OrderItem.objects.all()
    assert (item.sku, item.name, item.price, item.quantity, item.station, item.notes) == (
        "margherita",
        "Margherita Pizza",
        Decimal("17.00"),
        2,
        "oven",
        "well done",
    )
    assert item.modifiers == [
        {"code": "large", "name": "Large", "price_delta": "3.00"},
        {"code": "extra_cheese", "name": "Extra cheese", "price_delta": "1.50"},
    ]


def test_the_order_message_carries_sku_station_modifier_names_and_notes(client):
    post(client, ordering(pizza("medium", "no_onions", notes="allergy: onions"), {"sku": "cola", "quantity": 2}))

    message = json.loads(OutboxMessage.objects.get(exchange="orders_topic").body, parse_float=Decimal)
    assert message["items"] == [
        {
            "name": "Margherita Pizza",
            "quantity": 1,
            "price": Decimal("12.50"),
            "sku": "margherita",
            "station": "oven",
            "modifiers": ["Medium", "No onions"],
            "notes": "allergy: onions",
        },
        {
            "name": "Cola",
            "quantity": 2,
            "price": Decimal("3.00"),
            "sku": "cola",
            "station": "bar",
            "modifiers": [],
            "notes": "",
        },
    ]
    assert message["total_amount"] == Decimal("18.50") and message["notes"] == ""


def test_modifier_deltas_are_summed_as_decimals_not_floats(client):
    assert 0.10 + 0.20 != 0.30  # what a float sum of this price and delta gets wrong
    response = post(client, ordering({"sku": "deltas", "quantity": 3, "modifiers": ["salt"]}))

    assert response.status_code == 201, response.content
    assert OrderItem.objects.get().price == Decimal("0.30")
    assert Order.objects.get().total_amount == Decimal("0.90")


def test_open_mode_takes_a_free_item_and_a_menu_item_in_one_order(client):
    free = {"name": "Birthday candle", "quantity": 1, "price": 0.50, "notes": "on the tiramisu"}
    response = post(client, ordering(free, pizza("medium")))

    assert response.status_code == 201, response.content
    rows = list(OrderItem.objects.order_by("id").values_list("sku", "name", "price", "notes"))
    assert rows == [
        (None, "Birthday candle", Decimal("0.50"), "on the tiramisu"),
        ("margherita", "Margherita Pizza", Decimal("12.50"), ""),
    ]


def test_strict_mode_refuses_a_free_item_and_takes_a_menu_item(client, settings):
    settings.MENU_MODE = "strict"
    refused = post(client, ordering({"name": "Anything", "quantity": 1, "price": 1.00}, pizza("medium")))
    accepted = post(client, ordering(pizza("medium")))

    assert refused.status_code == 400
    assert refused.json() == {
        "code": "validation_failed",
        "errors": {"items[0].sku": ["is required: this restaurant takes menu items only"]},
    }
    assert accepted.status_code == 201 and Order.objects.count() == 1


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(ordering(pizza("large", price=15.50)), id="price-equal-to-the-menu"),
        pytest.param(ordering(pizza("medium", "extra_cheese", "mushrooms", "olives")), id="three-extras"),
        pytest.param(ordering(pizza("medium", notes="x" * 140)), id="item-notes-of-140"),
        pytest.param(ordering(pizza("medium"), notes="y" * 280), id="order-notes-of-280"),
        pytest.param(ordering(pizza("medium", notes="pas d'oignons 🧅🚫")), id="notes-with-emoji"),
        pytest.param(ordering({"sku": "cola", "quantity": 10}), id="no-modifiers-where-none-is-required"),
    ],
)
def test_the_edges_that_are_allowed_are_accepted(client, body):
    response = post(client, body)
    assert response.status_code == 201, response.content


INVALID = [
    ("unknown-sku", [{"sku": "calzone", "quantity": 1}], "validation_failed", "items[0].sku", "no menu item calzone"),
    ("sold-out-item", [{"sku": "tiramisu", "quantity": 1}], "sold_out", "items[0].sku", "Tiramisu is sold out"),
    ("sold-out-option", [pizza("medium", "chili")], "sold_out", "items[0].modifiers", "Fresh chili is sold out"),
    (
        "option-of-another-item",
        [pizza("medium", "no_ice")],
        "validation_failed",
        "items[0].modifiers",
        "no_ice is an option of cola, not of margherita",
    ),
    (
        "unknown-option",
        [pizza("medium", "pineapple")],
        "validation_failed",
        "items[0].modifiers",
        "no option pineapple",
    ),
    ("too-few-in-a-group", [pizza()], "validation_failed", "items[0].modifiers", "Size: choose exactly 1"),
    (
        "too-many-of-exactly-one",
        [pizza("medium", "large")],
        "validation_failed",
        "items[0].modifiers",
        "Size: choose exactly 1",
    ),
    (
        "four-extras",
        [pizza("medium", "extra_cheese", "mushrooms", "olives", "basil")],
        "validation_failed",
        "items[0].modifiers",
        "Extras: choose at most 3",
    ),
    (
        "an-option-twice",
        [pizza("medium", "olives", "olives")],
        "validation_failed",
        "items[0].modifiers",
        "olives chosen more than once",
    ),
    (
        "price-mismatch",
        [pizza("large", price=12.50)],
        "price_mismatch",
        "items[0].price",
        "is 15.50 on the menu (with its modifiers), not 12.50",
    ),
    (
        "item-notes-of-141",
        [pizza("medium", notes="x" * 141)],
        "validation_failed",
        "items[0].notes",
        "must be at most 140 characters",
    ),
    *(
        (
            f"notes-with-{name}",
            [pizza("medium", notes=f"no{char}onions")],
            "validation_failed",
            "items[0].notes",
            "must be printable text on one line, without control characters",
        )
        for name, char in (("newline", "\n"), ("tab", "\t"), ("bell", "\x07"), ("line-separator", "\u2028"))
    ),
    ("notes-not-text", [pizza("medium", notes=5)], "validation_failed", "items[0].notes", "must be a string"),
    (
        "modifiers-not-codes",
        [pizza(modifiers="large")],
        "validation_failed",
        "items[0].modifiers",
        "must be an array of option codes",
    ),
    ("name-next-to-sku", [pizza("medium", name="Cheap pizza")], "validation_failed", "items[0].name", "unknown field"),
    (
        "quantity-of-a-menu-item",
        [pizza("medium", quantity=11)],
        "validation_failed",
        "items[0].quantity",
        "must be between 1 and 10",
    ),
]


@pytest.mark.parametrize(
    ("items", "code", "field", "message"),
    [pytest.param(items, code, field, message, id=name) for name, items, code, field, message in INVALID],
)
def test_a_bad_menu_item_is_refused_naming_it_and_nothing_is_written(client, items, code, field, message):
    before = stored_rows()
    response = post(
        client, ordering(pizza("medium"), *items) if field.startswith("items[0]") is False else ordering(*items)
    )

    assert response.status_code == 400, response.content
    assert response.json() == {"code": code, "errors": {field: [message]}}
    assert stored_rows() == before


def test_order_notes_over_280_characters_are_refused(client):
    response = post(client, ordering(pizza("medium"), notes="y" * 281))
    assert response.status_code == 400
    assert response.json()["errors"] == {"notes": ["must be at most 280 characters"]}
    assert Order.objects.count() == 0


def test_every_bad_line_is_named_at_once_and_mixed_kinds_are_a_validation_failure(client):
    response = post(client, ordering({"sku": "tiramisu", "quantity": 1}, pizza("large", price=1.00), pizza()))

    assert response.status_code == 400
    assert response.json() == {
        "code": "validation_failed",
        "errors": {
            "items[0].sku": ["Tiramisu is sold out"],
            "items[1].price": ["is 15.50 on the menu (with its modifiers), not 1.00"],
            "items[2].modifiers": ["Size: choose exactly 1"],
        },
    }


def test_an_order_keeps_its_prices_names_modifiers_and_notes_after_the_menu_changes(client):
    post(client, ordering(pizza("large", "olives", notes="cut in 8")))
    item = MenuItem.objects.get(sku="margherita")
    item.name, item.price = "Pizza Regina", Decimal("19.00")
    item.save()
    item.modifier_groups.get(code="size").options.filter(code="large").update(name="XL", price_delta=Decimal("9.00"))
    MenuItem.objects.filter(sku="margherita").delete()

    [line] = OrderItem.objects.all()
    assert (line.sku, line.name, line.price, line.notes) == (
        "margherita",
        "Margherita Pizza",
        Decimal("16.50"),
        "cut in 8",
    )
    assert [m["name"] for m in line.modifiers] == ["Large", "Olives"]
    assert Order.objects.get().total_amount == Decimal("16.50")
