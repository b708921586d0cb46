"""Every rule of SPEC §3, both sides of every boundary, through `POST /orders`."""

import json
from decimal import Decimal
from typing import Any

import pytest

from orders.models import Order
from tests.factories import post, stored_rows
from tests.support import order_payload

ADDRESS = "221B Baker Street, London"
CJK_NAME = "山田太郎"
DECOMPOSED_JOSE = "Jose\u0301"  # "e" followed by a combining acute accent


def item(**overrides: Any) -> dict[str, Any]:
    return {"name": "Margherita Pizza", "quantity": 1, "price": 15.99, **overrides}


def with_item(**overrides: Any) -> dict[str, Any]:
    """A valid takeout order whose single item has `overrides`."""
    return order_payload(items=[item(**overrides)])


def dine_in(**overrides: Any) -> dict[str, Any]:
    return order_payload(**{"order_type": "dine_in", "table_number": 5, **overrides})


def delivery(**overrides: Any) -> dict[str, Any]:
    return order_payload(**{"order_type": "delivery", "delivery_address": ADDRESS, **overrides})


def without(payload: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in payload.items() if k != key}


def priced(literal: str) -> str:
    """Raw JSON of a takeout order whose item price is written exactly as `literal` (e.g. `1.10`)."""
    return (
        '{"customer_name": "Jane Doe", "order_type": "takeout", '
        f'"items": [{{"name": "Margherita Pizza", "quantity": 1, "price": {literal}}}]}}'
    )


NOTHING_STORED = {"orders": 0, "order_items": 0, "order_status_log": 0, "outbox": 0, "daily_counter": 0}


def assert_rejected(response, status: int, fields: set[str]) -> None:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"code", "errors"}
    assert isinstance(body["code"], str) and body["code"]
    assert set(body["errors"]) == fields
    for messages in body["errors"].values():
        assert messages and all(isinstance(message, str) and message for message in messages)
    assert stored_rows() == NOTHING_STORED


# --- accepted orders -------------------------------------------------------------------------
# Each case: the request body, and the values the stored order must hold. `items` lists
# (name, quantity, price) of the stored items.

ACCEPTED = [
    pytest.param(order_payload(customer_name="A" * 100), {"customer_name": "A" * 100}, id="name-100-chars"),
    pytest.param(
        order_payload(customer_name="  " + "A" * 100 + "  "), {"customer_name": "A" * 100}, id="name-100-chars-trimmed"
    ),
    pytest.param(order_payload(customer_name="J"), {"customer_name": "J"}, id="name-1-char"),
    pytest.param(
        order_payload(customer_name="José O'Brien-Smith"),
        {"customer_name": "José O'Brien-Smith"},
        id="name-accents-apostrophe-hyphen",
    ),
    pytest.param(order_payload(customer_name="Алия"), {"customer_name": "Алия"}, id="name-cyrillic"),
    pytest.param(order_payload(customer_name=CJK_NAME), {"customer_name": CJK_NAME}, id="name-cjk"),
    pytest.param(order_payload(customer_name="فاطمة"), {"customer_name": "فاطمة"}, id="name-arabic"),
    # Devanagari writes vowels as combining marks after a letter.
    pytest.param(order_payload(customer_name="प्रिया"), {"customer_name": "प्रिया"}, id="name-devanagari"),
    # Stored in composed form, so the same name always compares equal.
    pytest.param(order_payload(customer_name=DECOMPOSED_JOSE), {"customer_name": "José"}, id="name-combining-accent"),
    pytest.param(with_item(quantity=1), {"items": [("Margherita Pizza", 1, Decimal("15.99"))]}, id="quantity-1"),
    pytest.param(
        with_item(quantity=10),
        {"items": [("Margherita Pizza", 10, Decimal("15.99"))], "total_amount": Decimal("159.90")},
        id="quantity-10",
    ),
    pytest.param(
        priced("0.01"),
        {"items": [("Margherita Pizza", 1, Decimal("0.01"))], "total_amount": Decimal("0.01")},
        id="price-0.01",
    ),
    pytest.param(
        priced("999.99"),
        {"items": [("Margherita Pizza", 1, Decimal("999.99"))], "total_amount": Decimal("999.99")},
        id="price-999.99",
    ),
    pytest.param(
        priced("1.10"),
        {"items": [("Margherita Pizza", 1, Decimal("1.10"))], "total_amount": Decimal("1.10")},
        id="price-1.10",
    ),
    pytest.param(
        priced("5"),
        {"items": [("Margherita Pizza", 1, Decimal("5.00"))], "total_amount": Decimal("5.00")},
        id="price-integer-5",
    ),
    pytest.param(
        order_payload(items=[item(name="Tea", price=2.5)]), {"items": [("Tea", 1, Decimal("2.50"))]}, id="items-1"
    ),
    pytest.param(
        order_payload(items=[item(name=f"Dish {n}", price=1) for n in range(20)]),
        {"items": [(f"Dish {n}", 1, Decimal("1.00")) for n in range(20)], "total_amount": Decimal("20.00")},
        id="items-20",
    ),
    pytest.param(with_item(name="N" * 50), {"items": [("N" * 50, 1, Decimal("15.99"))]}, id="item-name-50-chars"),
    pytest.param(
        json.dumps(with_item(name="Pizza \U0001f355")),  # sent as the escaped pair \ud83c\udf55
        {"items": [("Pizza \U0001f355", 1, Decimal("15.99"))]},
        id="item-name-escaped-surrogate-pair",
    ),
    pytest.param(dine_in(table_number=1), {"order_type": "dine_in", "table_number": 1}, id="table-1"),
    pytest.param(dine_in(table_number=100), {"order_type": "dine_in", "table_number": 100}, id="table-100"),
    pytest.param(
        order_payload(order_type="takeout"),
        {"order_type": "takeout", "table_number": None, "delivery_address": None},
        id="takeout-without-table",
    ),
    pytest.param(
        delivery(delivery_address="1 Main St."),
        {"order_type": "delivery", "delivery_address": "1 Main St.", "table_number": None},
        id="address-10-chars",
    ),
]


@pytest.mark.parametrize(("body", "expected"), ACCEPTED)
def test_valid_order_is_accepted_and_stored(client, db, body, expected):
    response = post(client, body)

    assert response.status_code == 201, response.content
    order = Order.objects.get()
    assert response.json()["order_number"] == order.number
    assert response.json()["status"] == "received"
    for field, value in expected.items():
        if field == "items":
            stored = [(i.name, i.quantity, i.price) for i in order.items.order_by("id")]
            assert stored == value
        else:
            assert getattr(order, field) == value, field
    assert json.loads(response.content, parse_float=Decimal)["total_amount"] == order.total_amount


@pytest.mark.parametrize("path", ["/orders", "/api/orders"])
def test_order_intake_answers_on_both_paths(client, db, path):
    response = post(client, order_payload(), path=path)

    assert response.status_code == 201, response.content
    assert Order.objects.filter(number=response.json()["order_number"]).exists()


# --- rejected orders -------------------------------------------------------------------------
# Each case: the request body and the field keys its 400 must name, exactly.

REJECTED = [
    pytest.param(order_payload(customer_name="A" * 101), {"customer_name"}, id="name-101-chars"),
    pytest.param(order_payload(customer_name="  " + "A" * 101 + "  "), {"customer_name"}, id="name-101-chars-trimmed"),
    pytest.param(order_payload(customer_name=""), {"customer_name"}, id="name-empty"),
    pytest.param(order_payload(customer_name="   "), {"customer_name"}, id="name-whitespace-only"),
    pytest.param(order_payload(customer_name="Jane Doe 2"), {"customer_name"}, id="name-with-digit"),
    pytest.param(order_payload(customer_name="Jane!"), {"customer_name"}, id="name-with-exclamation"),
    pytest.param(order_payload(customer_name="Jane \u0663"), {"customer_name"}, id="name-with-arabic-indic-digit"),
    pytest.param(order_payload(customer_name="Jane_Doe"), {"customer_name"}, id="name-with-underscore"),
    pytest.param(order_payload(customer_name="<script>"), {"customer_name"}, id="name-with-angle-brackets"),
    pytest.param(order_payload(customer_name=42), {"customer_name"}, id="name-as-number"),
    pytest.param(without(order_payload(), "customer_name"), {"customer_name"}, id="name-missing"),
    pytest.param(order_payload(order_type="pickup"), {"order_type"}, id="order-type-unknown"),
    pytest.param(order_payload(order_type="DINE_IN"), {"order_type"}, id="order-type-wrong-case"),
    pytest.param(without(order_payload(), "order_type"), {"order_type"}, id="order-type-missing"),
    pytest.param(order_payload(items=[]), {"items"}, id="items-0"),
    pytest.param(order_payload(items=[item(name=f"Dish {n}") for n in range(21)]), {"items"}, id="items-21"),
    pytest.param(order_payload(items=item()), {"items"}, id="items-as-object"),
    pytest.param(without(order_payload(), "items"), {"items"}, id="items-missing"),
    pytest.param(order_payload(items=["Pizza"]), {"items[0]"}, id="item-as-string"),
    pytest.param(with_item(name="N" * 51), {"items[0].name"}, id="item-name-51-chars"),
    pytest.param(with_item(name=""), {"items[0].name"}, id="item-name-empty"),
    pytest.param(with_item(name=7), {"items[0].name"}, id="item-name-as-number"),
    pytest.param(with_item(quantity=0), {"items[0].quantity"}, id="quantity-0"),
    pytest.param(with_item(quantity=11), {"items[0].quantity"}, id="quantity-11"),
    pytest.param(with_item(quantity=-1), {"items[0].quantity"}, id="quantity-negative"),
    pytest.param(with_item(quantity="2"), {"items[0].quantity"}, id="quantity-as-string"),
    pytest.param(with_item(quantity=True), {"items[0].quantity"}, id="quantity-as-true"),
    pytest.param(with_item(quantity=2.5), {"items[0].quantity"}, id="quantity-2.5"),
    pytest.param(with_item(quantity=None), {"items[0].quantity"}, id="quantity-null"),
    pytest.param(priced("0.00"), {"items[0].price"}, id="price-0.00"),
    pytest.param(priced("1000"), {"items[0].price"}, id="price-1000"),
    pytest.param(priced("1000.00"), {"items[0].price"}, id="price-1000.00"),
    pytest.param(priced("-1.00"), {"items[0].price"}, id="price-negative"),
    pytest.param(priced("1.001"), {"items[0].price"}, id="price-3-decimal-places"),
    pytest.param(with_item(price="15.99"), {"items[0].price"}, id="price-as-string"),
    pytest.param(with_item(price=True), {"items[0].price"}, id="price-as-true"),
    pytest.param(with_item(price=None), {"items[0].price"}, id="price-null"),
    pytest.param(
        order_payload(items=[item(), item(quantity=11)]), {"items[1].quantity"}, id="second-item-named-by-index"
    ),
    pytest.param(
        order_payload(customer_name="R2-D2", items=[item(quantity=0, price=0)]),
        {"customer_name", "items[0].quantity", "items[0].price"},
        id="every-offending-field-named",
    ),
    pytest.param(dine_in(table_number=0), {"table_number"}, id="table-0"),
    pytest.param(dine_in(table_number=101), {"table_number"}, id="table-101"),
    pytest.param(dine_in(table_number="5"), {"table_number"}, id="table-as-string"),
    pytest.param(without(dine_in(), "table_number"), {"table_number"}, id="table-missing-for-dine-in"),
    pytest.param(order_payload(order_type="takeout", table_number=5), {"table_number"}, id="table-for-takeout"),
    pytest.param(delivery(table_number=5), {"table_number"}, id="table-for-delivery"),
    pytest.param(delivery(delivery_address="1 Main St"), {"delivery_address"}, id="address-9-chars"),
    pytest.param(delivery(delivery_address=12345678901), {"delivery_address"}, id="address-as-number"),
    pytest.param(without(delivery(), "delivery_address"), {"delivery_address"}, id="address-missing-for-delivery"),
    pytest.param(dine_in(delivery_address=ADDRESS), {"delivery_address"}, id="address-for-dine-in"),
    pytest.param(order_payload(delivery_address=ADDRESS), {"delivery_address"}, id="address-for-takeout"),
    pytest.param(delivery(delivery_address="1 Main St\x00 Springfield"), {"delivery_address"}, id="address-with-nul"),
    pytest.param(order_payload(coupon="FREE"), {"coupon"}, id="unknown-top-level-field"),
    pytest.param(with_item(colour="red"), {"items[0].colour"}, id="unknown-item-field"),
]


@pytest.mark.parametrize(("body", "fields"), REJECTED)
def test_invalid_order_is_rejected_naming_fields_and_stores_nothing(client, db, body, fields):
    assert_rejected(post(client, body), 400, fields)


# --- bodies that are not an order at all -----------------------------------------------------

ORDER_JSON = json.dumps(order_payload())

BAD_BODIES = [
    pytest.param('{"customer_name": "Jos\xe9", "order_type": "takeout"}'.encode("latin-1"), 400, id="not-utf8"),
    pytest.param(b"customer_name=Jane", 400, id="not-json-text"),
    pytest.param(b'{"customer_name": "Jane Doe",', 400, id="truncated-json"),
    pytest.param(json.dumps([order_payload()]).encode(), 400, id="json-array"),
    pytest.param(b'"an order"', 400, id="json-string"),
    pytest.param(b"", 400, id="empty-body"),
    pytest.param(b"null", 400, id="json-null"),
    pytest.param(b"NaN", 400, id="nan-literal"),
    pytest.param(priced("NaN").encode(), 400, id="nan-price"),
    pytest.param(priced("Infinity").encode(), 400, id="infinity-price"),
    # JSON can escape half of a UTF-16 pair; that is not text, whatever field it is in.
    pytest.param(json.dumps(with_item(name="Pi\ud800zza")).encode(), 400, id="lone-surrogate-in-value"),
    pytest.param(json.dumps(order_payload(**{"\udfff": 1})).encode(), 400, id="lone-surrogate-in-key"),
    pytest.param(json.dumps(order_payload(customer_name="A" * 100 * 1024)).encode(), 413, id="body-100KB"),
]


@pytest.mark.parametrize(("raw", "status"), BAD_BODIES)
def test_body_that_is_not_a_json_object_is_rejected_and_stores_nothing(client, db, raw, status):
    assert_rejected(post(client, raw), status, {"body"})


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml"])
def test_body_sent_with_another_content_type_is_rejected_with_415(client, db, content_type):
    assert_rejected(post(client, ORDER_JSON, content_type=content_type), 415, {"body"})


def test_json_with_charset_parameter_is_accepted(client, db):
    response = post(client, ORDER_JSON, content_type="application/json; charset=utf-8")

    assert response.status_code == 201, response.content
    assert Order.objects.count() == 1


def test_body_of_exactly_64_kib_is_read_and_one_byte_more_is_413(client, db):
    at_limit = ORDER_JSON + " " * (64 * 1024 - len(ORDER_JSON))
    assert len(at_limit.encode()) == 64 * 1024

    assert_rejected(post(client, at_limit + " "), 413, {"body"})
    response = post(client, at_limit)
    assert response.status_code == 201, response.content
    assert Order.objects.count() == 1


# --- text that fools the kitchen: invisible and direction characters, one normal form ----------
# `n\u200buts` shows as "nuts" on a ticket but dodges the allergy highlight; U+202E shows text backwards.

HIDDEN = {
    "zero-width-space": "\u200b",
    "right-to-left-override": "\u202e",
    "left-to-right-isolate": "\u2066",
    "byte-order-mark": "\ufeff",
    "soft-hyphen": "\u00ad",
    "joiner-inside-a-word": "\u200d",
}
TEXT_FIELDS = {
    "customer_name": lambda text: order_payload(customer_name=f"Jane{text}Doe"),
    "notes": lambda text: order_payload(notes=f"no n{text}uts please"),
    "delivery_address": lambda text: delivery(delivery_address=f"221B Baker{text} Street, London"),
    "items[0].name": lambda text: with_item(name=f"Margherita{text} Pizza"),
    "items[0].notes": lambda text: with_item(notes=f"n{text}uts allergy"),
}


@pytest.mark.parametrize("char", HIDDEN.values(), ids=HIDDEN)
@pytest.mark.parametrize("field", TEXT_FIELDS)
def test_invisible_and_direction_characters_are_refused_naming_the_field(client, db, field, char):
    response = post(client, TEXT_FIELDS[field](char))

    assert_rejected(response, 400, {field})
    if field != "customer_name":  # a name takes letters only, and says so
        assert f"U+{ord(char):04X}" in response.json()["errors"][field][0]


@pytest.mark.parametrize(
    ("field", "body"),
    [
        ("delivery_address", delivery(delivery_address="221B Baker Street, London\x1b[2J")),
        ("delivery_address", delivery(delivery_address="221B Baker Street,\tLondon")),
        ("items[0].name", with_item(name="Margherita\x7fPizza")),
    ],
    ids=["address-escape", "address-tab", "name-delete"],
)
def test_control_characters_a_field_does_not_allow_are_refused(client, db, field, body):
    assert_rejected(post(client, body), 400, {field})


def test_text_a_person_would_type_is_kept_in_its_one_normal_form(client, db):
    body = delivery(
        customer_name="Zoë",
        delivery_address="221B Baker Street\r\nLondon NW1 6XE",  # lines, as a form's text area sends them
        notes="Jose\u0301 at the door 👩\u200d🍳",  # decomposed é; an emoji joined by U+200D
        items=[item(name="Cafe\u0301 Crème", notes="no nuts 🏳️\u200d🌈")],
    )

    response = post(client, body)

    assert response.status_code == 201, response.content
    order = Order.objects.get()
    assert order.delivery_address == "221B Baker Street\r\nLondon NW1 6XE"
    assert order.notes == "José at the door 👩\u200d🍳"
    [line] = order.items.all()
    assert (line.name, line.notes) == ("Café Crème", "no nuts 🏳️\u200d🌈")
