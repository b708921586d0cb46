"""Checks a new order against the rules of SPEC §3 (the table of orders/rules.py) and prices its menu
items (menu/pricing.py).

`validate_order(data)` returns a clean `OrderInput` or raises `OrderInvalid` naming every
offending field (`items[0].quantity`); `validate_cancel(data)` does the same for a staff cancel's
reason. Types are strict: JSON `"2"`, `true` and `2.5` are not quantities. Prices must arrive as
`Decimal` or `int` (the JSON parser reads floats as Decimal).
"""

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.conf import settings

from menu.pricing import PricedItem, Problem, price_menu_items
from orders.contact import phone_e164
from orders.models import OrderType
from orders.rules import (
    CANCEL_RULES,
    CENT,
    ITEM_RULES,
    MENU_ITEM_RULES,
    ORDER_RULES,
    FieldRule,
    Kind,
    clean_text,
    requested_time,
)
from orders.selectors import table_key_matches
from restaurant.api import ApplicationError


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class OrderInvalid(ApplicationError):
    """`code` is validation_failed, or sold_out / price_mismatch when every error is of that kind."""

    def __init__(self, errors: dict[str, list[str]], code: str = "validation_failed") -> None:
        super().__init__(code=code, errors=errors)


@dataclass(frozen=True)
class ChosenModifier:
    code: str
    name: str
    price_delta: Decimal


@dataclass(frozen=True)
class ItemInput:
    name: str
    quantity: int
    price: Decimal  # the unit price: a menu item's with its modifiers' deltas
    sku: str | None = None  # None: a free item
    station: str = ""
    modifiers: tuple[ChosenModifier, ...] = ()
    notes: str = ""
    load: int = 1  # units on its station's capacity per slot (menu items; orders/capacity.py)
    station_prep_seconds: int | None = None
    station_capacity: int | None = None


@dataclass(frozen=True)
class OrderInput:
    customer_name: str
    order_type: str
    items: tuple[ItemInput, ...]
    table_number: int | None = None
    delivery_address: str | None = None
    notes: str = ""
    contact_phone: str = ""  # E.164
    contact_email: str = ""
    ready_at: datetime | None = None  # None: as soon as possible

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
        length = len(clean_text(value))
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
    elif rule.kind is Kind.OBJECT:
        if not isinstance(value, dict):
            return "must be an object"
    elif rule.kind is Kind.CODES:
        if not isinstance(value, list) or not all(isinstance(code, str) and code for code in value):
            return "must be an array of option codes"
        if not rule.min <= len(value) <= rule.max:
            return rule.out_of_range
        if twice := sorted({code for code in value if value.count(code) > 1}):
            return f"{', '.join(twice)} chosen more than once"
    return rule.check(value) if rule.check else None


def _check_fields(
    rules: Mapping[str, FieldRule], data: dict, errors: dict[str, list[str]], prefix: str = "", order_type: Any = None
) -> None:
    """Adds to `errors` what is wrong with `data`, field by field in the table's order."""
    for key in sorted(set(data) - set(rules)):
        errors[f"{prefix}{key}"] = ["unknown field"]
    for rule in rules.values():
        name, value = f"{prefix}{rule.name}", data.get(rule.name)
        if rule.optional and value is None:
            continue
        if rule.only_for is not None and order_type != rule.only_for:
            if value is not None:
                errors[name] = [f"is allowed only for {rule.only_for} orders"]
        elif rule.name not in data or (rule.only_for is not None and value is None):
            errors[name] = [f"is required for {rule.only_for} orders" if rule.only_for else "is required"]
        elif rule.kind is Kind.OBJECT and isinstance(value, dict):
            # Its fields first (`contact.phone`), then the object's own rule.
            before = len(errors)
            _check_fields(rule.fields, value, errors, f"{name}.")
            if len(errors) == before and rule.check and (message := rule.check(value)):
                errors[name] = [message]
        elif message := _value_error(rule, value):
            errors[name] = [message]
        elif rule.kind is Kind.LIST:
            for index, item in enumerate(value):
                if isinstance(item, dict) and "sku" in item:
                    _check_fields(MENU_ITEM_RULES, item, errors, f"{name}[{index}].")
                elif isinstance(item, dict) and settings.MENU_MODE == "strict":
                    errors[f"{name}[{index}].sku"] = ["is required: this restaurant takes menu items only"]
                elif isinstance(item, dict):
                    _check_fields(ITEM_RULES, item, errors, f"{name}[{index}].")
                else:
                    errors[f"{name}[{index}]"] = [f"must be an object with {_listed(ITEM_RULES)}"]


def _listed(rules: Mapping[str, FieldRule]) -> str:
    *first, last = rules
    return f"{', '.join(first)} and {last}"


def validate_order(data: Any) -> OrderInput:
    """The order of a POST /orders body: every rule of the table, then each menu item priced from
    the menu (its modifiers checked against its groups); OrderInvalid naming every bad field."""
    if not isinstance(data, dict):
        raise OrderInvalid({"body": ["must be a JSON object"]})
    errors: dict[str, list[str]] = {}
    order_type = data.get("order_type")
    _check_fields(ORDER_RULES, data, errors, order_type=order_type)
    if errors:
        raise OrderInvalid(errors)
    if data.get("table_key") is not None and not table_key_matches(data["table_number"], data["table_key"]):
        raise OrderInvalid({"table_key": ["is not this table's current code: scan the QR code on the table again"]})
    items = _priced_items(data["items"])
    contact = data.get("contact") or {}
    return OrderInput(
        customer_name=clean_text(data["customer_name"]),
        order_type=order_type,
        items=items,
        table_number=data["table_number"] if order_type == OrderType.DINE_IN else None,
        delivery_address=clean_text(data["delivery_address"]) if order_type == OrderType.DELIVERY else None,
        notes=clean_text(data.get("notes") or ""),
        contact_phone=phone_e164(contact["phone"]) if contact.get("phone") else "",
        contact_email=clean_text(contact.get("email") or ""),
        ready_at=requested_time(data["ready_at"]) if data.get("ready_at") else None,
    )


def validate_cancel(data: Any) -> str:
    """The reason of a staff cancel (POST /orders/{number}/cancel's optional body, CANCEL_RULES),
    cleaned; empty when none is given. OrderInvalid naming the field otherwise."""
    if not isinstance(data, dict):
        raise OrderInvalid({"body": ["must be a JSON object"]})
    errors: dict[str, list[str]] = {}
    _check_fields(CANCEL_RULES, data, errors)
    if errors:
        raise OrderInvalid(errors)
    return clean_text(data.get("reason") or "")


class _MenuErrors:
    """Errors found against the menu, each of a kind; the error code is the kind when all agree."""

    def __init__(self) -> None:
        self.errors: dict[str, list[str]] = {}
        self.kinds: set[str] = set()

    def add(self, field: str, message: str, kind: str = "validation_failed") -> None:
        self.errors.setdefault(field, []).append(message)
        self.kinds.add(kind)

    def raise_any(self) -> None:
        if self.errors:
            raise OrderInvalid(self.errors, code=self.kinds.pop() if len(self.kinds) == 1 else "validation_failed")


def _priced_items(raw_items: list[dict]) -> tuple[ItemInput, ...]:
    priced = iter(price_menu_items([(raw["sku"], raw.get("modifiers") or []) for raw in raw_items if "sku" in raw]))
    problems, items = _MenuErrors(), []
    for index, raw in enumerate(raw_items):
        notes = clean_text(raw.get("notes") or "")
        if "sku" not in raw:
            price = Decimal(raw["price"]).quantize(CENT)
            items.append(ItemInput(name=clean_text(raw["name"]), quantity=raw["quantity"], price=price, notes=notes))
        elif item := _menu_item(raw, f"items[{index}]", next(priced), problems):
            items.append(replace(item, notes=notes))
    problems.raise_any()
    return tuple(items)


def _menu_item(raw: dict, path: str, priced: PricedItem | list[Problem], problems: _MenuErrors) -> ItemInput | None:
    """One menu item of the order, as priced by the menu; None (with its errors added) when it cannot
    be ordered at that price."""
    if isinstance(priced, list):
        for problem in priced:
            problems.add(f"{path}.{problem.field}", problem.message, problem.kind)
        return None
    price, limits = priced.price, ITEM_RULES["price"]
    if not limits.min <= price <= limits.max:
        problems.add(f"{path}.modifiers", f"make a unit price of {price}, outside {limits.min}–{limits.max}")
        return None
    if "price" in raw and raw["price"] is not None and Decimal(raw["price"]) != price:
        problems.add(
            f"{path}.price",
            f"is {price} on the menu (with its modifiers), not {Decimal(raw['price']).quantize(CENT)}",
            "price_mismatch",
        )
        return None
    modifiers = tuple(ChosenModifier(option.code, option.name, option.price_delta) for option in priced.options)
    return ItemInput(
        name=priced.name,
        quantity=raw["quantity"],
        price=price,
        sku=priced.sku,
        station=priced.station,
        modifiers=modifiers,
        load=priced.load,
        station_prep_seconds=priced.station_prep_seconds,
        station_capacity=priced.station_capacity,
    )
