"""The rules of SPEC §3 for a new order: the one description of the order contract.

`ORDER_RULES` and `ITEM_RULES` are a table of the fields: kind, limits, choices, the order type a field
belongs to, messages and help text. `validate_order` checks a body against them, and the same table
builds the OpenAPI request schema (orders/openapi.py) and the staff order form (orders/forms.py), so a
rule changed here changes in the API, the schema and the back office at once.

`validate_order(data)` returns a clean `OrderInput` or raises `OrderInvalid` naming every
offending field (`items[0].quantity`). Types are strict: JSON `"2"`, `true` and `2.5` are not
quantities. Prices must arrive as `Decimal` or `int` (the JSON parser reads floats as Decimal).
"""

import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

from orders.models import OrderType
from restaurant.api import ApplicationError

CENT = Decimal("0.01")  # prices have at most 2 decimal places
NAME_PUNCTUATION = {" ", "-", "'", "\u2019"}  # space, hyphen, apostrophe, typographic apostrophe


class Kind(StrEnum):
    TEXT = "text"  # a string, its length counted after trimming
    CHOICE = "choice"
    LIST = "list"  # the order's items, each checked against ITEM_RULES
    INTEGER = "integer"  # a JSON integer: not 2.5, not "2", not true
    PRICE = "price"  # an exact decimal (int or Decimal) with at most 2 places


@dataclass(frozen=True)
class FieldRule:
    """One field of the contract. `message` (said when the value is outside min..max, or not one of
    the choices) and `help_text` are templates that may name {min}, {max}, {choices} and {only_for}."""

    name: str
    kind: Kind
    min: Any = None
    max: Any = None
    choices: tuple[tuple[str, str], ...] = ()
    message: str = ""
    help_text: str = ""
    empty_message: str | None = None  # TEXT: said for an empty text in place of `message`
    only_for: OrderType | None = None  # required for orders of this type, refused for the others
    check: Callable[[Any], str | None] | None = None  # a further rule, once the ones above hold

    def _format(self, template: str) -> str:
        choices = ", ".join(self.values)
        return template.format(min=self.min, max=self.max, choices=choices, only_for=self.only_for)

    @property
    def values(self) -> tuple[str, ...]:
        return tuple(value for value, _ in self.choices)

    @property
    def required(self) -> bool:
        return self.only_for is None

    @property
    def out_of_range(self) -> str:
        return self._format(self.message)

    @property
    def help(self) -> str:
        return self._format(self.help_text)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _clean_text(value: str) -> str:
    return unicodedata.normalize("NFC", value).strip()


def _name_characters_error(value: str) -> str | None:
    previous = ""
    name = _clean_text(value)
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


def _control_characters_error(value: str) -> str | None:
    return "must not contain control characters" if any(unicodedata.category(c) == "Cc" for c in value) else None


def _nul_error(value: str) -> str | None:
    return "must not contain NUL characters" if "\x00" in value else None  # PostgreSQL text cannot hold NUL


def _rules(*rules: FieldRule) -> dict[str, FieldRule]:
    return {rule.name: rule for rule in rules}


ORDER_RULES = _rules(
    FieldRule(
        "customer_name",
        Kind.TEXT,
        min=1,
        max=100,
        empty_message="must not be empty",
        message="must be at most {max} characters",
        help_text="{min}–{max} characters after trimming: letters (any alphabet), spaces, hyphens and apostrophes only",
        check=_name_characters_error,
    ),
    FieldRule("order_type", Kind.CHOICE, choices=tuple(OrderType.choices), message="must be one of {choices}"),
    FieldRule(
        "items", Kind.LIST, min=1, max=20, message="must hold {min} to {max} items", help_text="{min}–{max} items"
    ),
    FieldRule(
        "table_number",
        Kind.INTEGER,
        min=1,
        max=100,
        only_for=OrderType.DINE_IN,
        message="must be between {min} and {max}",
        help_text="{min}–{max}; required for {only_for} orders, left out for the others",
    ),
    FieldRule(
        "delivery_address",
        Kind.TEXT,
        min=10,
        max=500,
        only_for=OrderType.DELIVERY,
        message="must be {min} to {max} characters",
        help_text="{min}–{max} characters; required for {only_for} orders, left out for the others",
        check=_nul_error,
    ),
)
ITEM_RULES = _rules(
    FieldRule(
        "name",
        Kind.TEXT,
        min=1,
        max=50,
        message="must be {min} to {max} characters",
        help_text="{min}–{max} characters after trimming",
        check=_control_characters_error,
    ),
    FieldRule(
        "quantity",
        Kind.INTEGER,
        min=1,
        max=10,
        message="must be between {min} and {max}",
        help_text="a whole number from {min} to {max}",
    ),
    FieldRule(
        "price",
        Kind.PRICE,
        min=Decimal("0.01"),
        max=Decimal("999.99"),
        message="must be between {min} and {max}",
        help_text="{min}–{max} with at most 2 decimal places, read as an exact decimal",
    ),
)


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


def _value_error(rule: FieldRule, value: Any) -> str | None:
    """What is wrong with a value given for `rule`'s field, if anything."""
    if rule.kind is Kind.TEXT:
        if not isinstance(value, str):
            return "must be a string"
        length = len(_clean_text(value))
        if not length and rule.empty_message:
            return rule.empty_message
        if not rule.min <= length <= rule.max:
            return rule.out_of_range
    elif rule.kind is Kind.INTEGER:
        if not _is_int(value):
            return "must be an integer"
        if not rule.min <= value <= rule.max:
            return rule.out_of_range
    elif rule.kind is Kind.PRICE:
        if not (_is_int(value) or isinstance(value, Decimal)):
            return "must be a number"
        price = Decimal(value)
        if not price.is_finite() or not rule.min <= price <= rule.max:
            return rule.out_of_range
        if price != price.quantize(CENT):
            return "must have at most 2 decimal places"
    elif rule.kind is Kind.CHOICE:
        if value not in rule.values:
            return rule.out_of_range
    elif rule.kind is Kind.LIST:
        if not isinstance(value, list):
            return "must be an array"
        if not rule.min <= len(value) <= rule.max:
            return rule.out_of_range
    return rule.check(value) if rule.check else None


def _check_fields(
    rules: Mapping[str, FieldRule], data: dict, errors: dict[str, list[str]], prefix: str = "", order_type: Any = None
) -> None:
    """Adds to `errors` what is wrong with `data`, field by field in the table's order."""
    for key in sorted(set(data) - set(rules)):
        errors[f"{prefix}{key}"] = ["unknown field"]
    for rule in rules.values():
        name, value = f"{prefix}{rule.name}", data.get(rule.name)
        if rule.only_for is not None and order_type != rule.only_for:
            if value is not None:
                errors[name] = [f"is allowed only for {rule.only_for} orders"]
        elif rule.name not in data or (rule.only_for is not None and value is None):
            errors[name] = [f"is required for {rule.only_for} orders" if rule.only_for else "is required"]
        elif message := _value_error(rule, value):
            errors[name] = [message]
        elif rule.kind is Kind.LIST:
            for index, item in enumerate(value):
                if isinstance(item, dict):
                    _check_fields(ITEM_RULES, item, errors, f"{name}[{index}].")
                else:
                    errors[f"{name}[{index}]"] = [f"must be an object with {_listed(ITEM_RULES)}"]


def _listed(rules: Mapping[str, FieldRule]) -> str:
    *first, last = rules
    return f"{', '.join(first)} and {last}"


def validate_order(data: Any) -> OrderInput:
    if not isinstance(data, dict):
        raise OrderInvalid({"body": ["must be a JSON object"]})
    errors: dict[str, list[str]] = {}
    order_type = data.get("order_type")
    _check_fields(ORDER_RULES, data, errors, order_type=order_type)
    if errors:
        raise OrderInvalid(errors)
    items = tuple(
        ItemInput(
            name=_clean_text(item["name"]), quantity=item["quantity"], price=Decimal(item["price"]).quantize(CENT)
        )
        for item in data["items"]
    )
    return OrderInput(
        customer_name=_clean_text(data["customer_name"]),
        order_type=order_type,
        items=items,
        table_number=data["table_number"] if order_type == OrderType.DINE_IN else None,
        delivery_address=_clean_text(data["delivery_address"]) if order_type == OrderType.DELIVERY else None,
    )
