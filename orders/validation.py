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
from dataclasses import dataclass, replace
from decimal import Decimal
from enum import StrEnum
from typing import Any

from django.conf import settings

from menu.selectors import menu_items_by_sku, option_codes_elsewhere
from orders.models import OrderType
from restaurant.api import ApplicationError

CENT = Decimal("0.01")  # prices have at most 2 decimal places
NAME_PUNCTUATION = {" ", "-", "'", "\u2019"}  # space, hyphen, apostrophe, typographic apostrophe


class Kind(StrEnum):
    TEXT = "text"  # a string, its length counted after trimming
    CHOICE = "choice"
    LIST = "list"  # the order's items, each checked against ITEM_RULES or MENU_ITEM_RULES
    CODES = "codes"  # an array of distinct codes (a menu item's chosen options)
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
    optional: bool = False  # may be left out (or null)
    check: Callable[[Any], str | None] | None = None  # a further rule, once the ones above hold

    def _format(self, template: str) -> str:
        choices = ", ".join(self.values)
        return template.format(min=self.min, max=self.max, choices=choices, only_for=self.only_for)

    @property
    def values(self) -> tuple[str, ...]:
        return tuple(value for value, _ in self.choices)

    @property
    def required(self) -> bool:
        return self.only_for is None and not self.optional

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


def _notes_error(value: str) -> str | None:
    # Printable text on one line: no control characters, line or paragraph separators, surrogates or
    # unassigned code points (format characters stay: an emoji's zero-width joiner is one).
    if any(unicodedata.category(c) in ("Cc", "Zl", "Zp", "Cs", "Cn") for c in value):
        return "must be printable text on one line, without control characters"
    return None


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
    FieldRule(
        "notes",
        Kind.TEXT,
        min=0,
        max=280,
        optional=True,
        message="must be at most {max} characters",
        help_text="for the whole order, at most {max} characters on one line",
        check=_notes_error,
    ),
)
ITEM_NOTES = FieldRule(
    "notes",
    Kind.TEXT,
    min=0,
    max=140,
    optional=True,
    message="must be at most {max} characters",
    help_text="for the kitchen (well done, no onions: allergy), at most {max} characters on one line",
    check=_notes_error,
)
# A free item (the seed's {name, quantity, price}: MENU_MODE=open only).
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
    ITEM_NOTES,
)
# A menu item: name and unit price come from the menu (GET /menu).
MENU_ITEM_RULES = _rules(
    FieldRule(
        "sku", Kind.TEXT, min=1, max=50, message="must be {min} to {max} characters", help_text="a menu item's sku"
    ),
    ITEM_RULES["quantity"],
    FieldRule(
        "modifiers",
        Kind.CODES,
        min=0,
        max=20,
        optional=True,
        message="must hold at most {max} option codes",
        help_text="the codes of the chosen options, as GET /menu lists them for the item",
    ),
    ITEM_NOTES,
    replace(
        ITEM_RULES["price"],
        optional=True,
        help_text=(
            "optional: the unit price the client shows (item price + its modifiers' deltas); refused with "
            "`price_mismatch` when the menu's differs"
        ),
    ),
)


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


@dataclass(frozen=True)
class OrderInput:
    customer_name: str
    order_type: str
    items: tuple[ItemInput, ...]
    table_number: int | None = None
    delivery_address: str | None = None
    notes: str = ""

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
    items = _priced_items(data["items"])
    return OrderInput(
        customer_name=_clean_text(data["customer_name"]),
        order_type=order_type,
        items=items,
        table_number=data["table_number"] if order_type == OrderType.DINE_IN else None,
        delivery_address=_clean_text(data["delivery_address"]) if order_type == OrderType.DELIVERY else None,
        notes=_clean_text(data.get("notes") or ""),
    )


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
    skus = {item["sku"] for item in raw_items if "sku" in item}
    menu = menu_items_by_sku(skus) if skus else {}
    # Only an order that names an option its item lacks costs a query for whose option it is.
    unknown = {
        code
        for raw in raw_items
        if raw.get("sku") in menu
        for code in raw.get("modifiers") or ()
        if code not in _options(menu[raw["sku"]])
    }
    elsewhere = option_codes_elsewhere(unknown) if unknown else {}
    problems, items = _MenuErrors(), []
    for index, raw in enumerate(raw_items):
        notes = _clean_text(raw.get("notes") or "")
        if "sku" not in raw:
            price = Decimal(raw["price"]).quantize(CENT)
            items.append(ItemInput(name=_clean_text(raw["name"]), quantity=raw["quantity"], price=price, notes=notes))
        elif item := _menu_item(raw, f"items[{index}]", menu, elsewhere, problems):
            items.append(replace(item, notes=notes))
    problems.raise_any()
    return tuple(items)


def _options(item) -> dict[str, tuple]:
    """An item's options by code, each with its group (prefetched by menu_items_by_sku)."""
    return {option.code: (group, option) for group in item.modifier_groups.all() for option in group.options.all()}


def _menu_item(raw: dict, path: str, menu: dict, elsewhere: dict[str, str], problems: _MenuErrors) -> ItemInput | None:
    """One menu item of the order, priced; None (with its errors added) when it cannot be ordered."""
    item = menu.get(raw["sku"])
    if item is None:
        problems.add(f"{path}.sku", f"no menu item {raw['sku']}")
        return None
    if not item.available:
        problems.add(f"{path}.sku", f"{item.name} is sold out", "sold_out")
    codes = raw.get("modifiers") or []
    options = _options(item)
    for code in codes:
        if code not in options:
            owner = elsewhere.get(code)
            reason = f"{code} is an option of {owner}, not of {item.sku}" if owner else f"no option {code}"
            problems.add(f"{path}.modifiers", reason)
        elif not options[code][1].available:
            problems.add(f"{path}.modifiers", f"{options[code][1].name} is sold out", "sold_out")
    for group in item.modifier_groups.all():
        picked = sum(1 for code in codes if code in options and options[code][0] == group)
        if message := _group_error(group, picked):
            problems.add(f"{path}.modifiers", message)
    if f"{path}.sku" in problems.errors or f"{path}.modifiers" in problems.errors:
        return None
    modifiers = tuple(ChosenModifier(code, options[code][1].name, options[code][1].price_delta) for code in codes)
    price = item.price + sum((modifier.price_delta for modifier in modifiers), Decimal("0.00"))
    limits = ITEM_RULES["price"]
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
    return ItemInput(
        name=item.name,
        quantity=raw["quantity"],
        price=price,
        sku=item.sku,
        station=item.station.code,
        modifiers=modifiers,
    )


def _group_error(group, picked: int) -> str | None:
    low, high = group.min_choices, group.max_choices
    if low == high and picked != low:
        return f"{group.name}: choose exactly {low}"
    if picked < low:
        return f"{group.name}: choose at least {low}"
    if high is not None and picked > high:
        return f"{group.name}: choose at most {high}"
    return None
