"""The rules of SPEC §3 for a new order, as plain code shared by the API and the back office.

`validate_order(data)` returns a clean `OrderInput` or raises `OrderInvalid` naming every
offending field (`items[0].quantity`). Types are strict: JSON `"2"`, `true` and `2.5` are not
quantities. Prices must arrive as `Decimal` or `int` (the JSON parser reads floats as Decimal).
"""

import unicodedata
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from orders.models import OrderType
from restaurant.api import ApplicationError

ORDER_FIELDS = {"customer_name", "order_type", "items", "table_number", "delivery_address"}
ITEM_FIELDS = {"name", "quantity", "price"}
NAME_MAX = 100
ITEMS_MAX = 20
ITEM_NAME_MAX = 50
QUANTITY_MIN, QUANTITY_MAX = 1, 10
PRICE_MIN, PRICE_MAX = Decimal("0.01"), Decimal("999.99")
TABLE_MIN, TABLE_MAX = 1, 100
ADDRESS_MIN, ADDRESS_MAX = 10, 500
NAME_PUNCTUATION = {" ", "-", "'", "\u2019"}  # space, hyphen, apostrophe, typographic apostrophe


class OrderInvalid(ApplicationError):
    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__(code="validation_failed", errors=errors)


@dataclass(frozen=True)
class ItemInput:
    name: str
    quantity: int
    price: Decimal


@dataclass(frozen=True)
class OrderInput:
    customer_name: str
    order_type: str
    items: tuple[ItemInput, ...]
    table_number: int | None = None
    delivery_address: str | None = None

    @property
    def total_amount(self) -> Decimal:
        return sum((item.price * item.quantity for item in self.items), Decimal("0.00"))

    @property
    def priority(self) -> int:
        return order_priority(self.total_amount)


def order_priority(total: Decimal) -> int:
    if total > 100:
        return 10
    if total >= 50:
        return 5
    return 1


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _clean_text(value: str) -> str:
    return unicodedata.normalize("NFC", value).strip()


def _customer_name_error(value: Any) -> str | None:
    if not isinstance(value, str):
        return "must be a string"
    name = _clean_text(value)
    if not name:
        return "must not be empty"
    if len(name) > NAME_MAX:
        return f"must be at most {NAME_MAX} characters"
    previous = ""
    for char in name:
        category = unicodedata.category(char)
        # Letters of any alphabet; combining marks only right after a letter or mark (José as e + ◌́).
        ok = category.startswith("L") or char in NAME_PUNCTUATION or (category.startswith("M") and previous.isalpha())
        if not ok:
            return "may contain only letters, spaces, hyphens and apostrophes"
        if not category.startswith("M"):
            previous = char
    if not any(char.isalpha() for char in name):
        return "must contain a letter"
    return None


def _price_error(value: Any) -> str | None:
    if not (_is_int(value) or isinstance(value, Decimal)):
        return "must be a number"
    price = Decimal(value)
    if not price.is_finite() or not PRICE_MIN <= price <= PRICE_MAX:
        return f"must be between {PRICE_MIN} and {PRICE_MAX}"
    if price != price.quantize(Decimal("0.01")):
        return "must have at most 2 decimal places"
    return None


def _validate_item(item: Any, prefix: str, errors: dict[str, list[str]]) -> ItemInput | None:
    if not isinstance(item, dict):
        errors[prefix] = ["must be an object with name, quantity and price"]
        return None
    for key in sorted(set(item) - ITEM_FIELDS):
        errors[f"{prefix}.{key}"] = ["unknown field"]
    before = len(errors)
    name, quantity, price = item.get("name"), item.get("quantity"), item.get("price")
    if "name" not in item:
        errors[f"{prefix}.name"] = ["is required"]
    elif not isinstance(name, str):
        errors[f"{prefix}.name"] = ["must be a string"]
    elif not 1 <= len(_clean_text(name)) <= ITEM_NAME_MAX:
        errors[f"{prefix}.name"] = [f"must be 1 to {ITEM_NAME_MAX} characters"]
    elif any(unicodedata.category(c) == "Cc" for c in name):
        errors[f"{prefix}.name"] = ["must not contain control characters"]
    if "quantity" not in item:
        errors[f"{prefix}.quantity"] = ["is required"]
    elif not _is_int(quantity):
        errors[f"{prefix}.quantity"] = ["must be an integer"]
    elif not QUANTITY_MIN <= quantity <= QUANTITY_MAX:
        errors[f"{prefix}.quantity"] = [f"must be between {QUANTITY_MIN} and {QUANTITY_MAX}"]
    if "price" not in item:
        errors[f"{prefix}.price"] = ["is required"]
    elif message := _price_error(price):
        errors[f"{prefix}.price"] = [message]
    if len(errors) > before:
        return None
    return ItemInput(name=_clean_text(name), quantity=quantity, price=Decimal(price).quantize(Decimal("0.01")))


def validate_order(data: Any) -> OrderInput:
    if not isinstance(data, dict):
        raise OrderInvalid({"body": ["must be a JSON object"]})
    errors: dict[str, list[str]] = {}
    for key in sorted(set(data) - ORDER_FIELDS):
        errors[key] = ["unknown field"]

    if "customer_name" not in data:
        errors["customer_name"] = ["is required"]
    elif message := _customer_name_error(data["customer_name"]):
        errors["customer_name"] = [message]

    order_type = data.get("order_type")
    if "order_type" not in data:
        errors["order_type"] = ["is required"]
    elif order_type not in OrderType.values:
        errors["order_type"] = [f"must be one of {', '.join(OrderType.values)}"]

    items: list[ItemInput] = []
    raw_items = data.get("items")
    if "items" not in data:
        errors["items"] = ["is required"]
    elif not isinstance(raw_items, list):
        errors["items"] = ["must be an array"]
    elif not 1 <= len(raw_items) <= ITEMS_MAX:
        errors["items"] = [f"must hold 1 to {ITEMS_MAX} items"]
    else:
        for index, raw in enumerate(raw_items):
            if item := _validate_item(raw, f"items[{index}]", errors):
                items.append(item)

    table = data.get("table_number")
    if order_type == OrderType.DINE_IN:
        if table is None:
            errors["table_number"] = ["is required for dine_in orders"]
        elif not _is_int(table):
            errors["table_number"] = ["must be an integer"]
        elif not TABLE_MIN <= table <= TABLE_MAX:
            errors["table_number"] = [f"must be between {TABLE_MIN} and {TABLE_MAX}"]
    elif table is not None:
        errors["table_number"] = ["is allowed only for dine_in orders"]

    address = data.get("delivery_address")
    if order_type == OrderType.DELIVERY:
        if address is None:
            errors["delivery_address"] = ["is required for delivery orders"]
        elif not isinstance(address, str):
            errors["delivery_address"] = ["must be a string"]
        elif not ADDRESS_MIN <= len(_clean_text(address)) <= ADDRESS_MAX:
            errors["delivery_address"] = [f"must be {ADDRESS_MIN} to {ADDRESS_MAX} characters"]
        elif "\x00" in address:  # PostgreSQL text cannot hold NUL
            errors["delivery_address"] = ["must not contain NUL characters"]
    elif address is not None:
        errors["delivery_address"] = ["is allowed only for delivery orders"]

    if errors:
        raise OrderInvalid(errors)
    return OrderInput(
        customer_name=_clean_text(data["customer_name"]),
        order_type=order_type,
        items=tuple(items),
        table_number=table if order_type == OrderType.DINE_IN else None,
        delivery_address=_clean_text(address) if order_type == OrderType.DELIVERY else None,
    )
