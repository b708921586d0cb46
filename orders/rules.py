"""The rules of SPEC §3 for a new order: the one description of the order contract.

`ORDER_RULES` and `ITEM_RULES` (a free item) and `MENU_ITEM_RULES` (a menu item) are a table of the
fields: kind, limits, choices, the order type a field belongs to, messages and help text.
`orders/validation.py` checks a body against them, and the same table builds the OpenAPI request
schema (orders/openapi.py) and the staff order form (orders/forms.py), so a rule changed here changes
in the API, the schema and the back office at once.

`CANCEL_RULES` is the same for the staff API's cancel body (its `reason`).
"""

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from orders.contact import email_error, phone_error
from orders.models import TABLE_NUMBERS, OrderType
from restaurant.text import clean_text, hidden_character_error

CENT = Decimal("0.01")  # prices have at most 2 decimal places
NAME_PUNCTUATION = {" ", "-", "'", "\u2019"}  # space, hyphen, apostrophe, typographic apostrophe


class Kind(StrEnum):
    TEXT = "text"  # a string, its length counted after trimming
    CHOICE = "choice"
    LIST = "list"  # the order's items, each checked against ITEM_RULES or MENU_ITEM_RULES
    CODES = "codes"  # an array of distinct codes (a menu item's chosen options)
    OBJECT = "object"  # an object of the fields of `FieldRule.fields` (the guest's contact)
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
    fields: "dict[str, FieldRule] | None" = None  # OBJECT: its fields' rules

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


def _name_characters_error(value: str) -> str | None:
    previous = ""
    name = clean_text(value)
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
    if any(unicodedata.category(c) == "Cc" for c in value):
        return "must not contain control characters"
    return hidden_character_error(value)


def _notes_error(value: str) -> str | None:
    # Printable text on one line: no control characters, line or paragraph separators, surrogates or
    # unassigned code points; no invisible format characters but an emoji's zero-width joiner.
    if any(unicodedata.category(c) in ("Cc", "Zl", "Zp", "Cs", "Cn") for c in value):
        return "must be printable text on one line, without control characters"
    return hidden_character_error(value)


def _address_error(value: str) -> str | None:
    if "\x00" in value:
        return "must not contain NUL characters"  # PostgreSQL text cannot hold NUL
    return hidden_character_error(value, allowed="\r\n")  # an address may take several lines


def _rules(*rules: FieldRule) -> dict[str, FieldRule]:
    return {rule.name: rule for rule in rules}


def requested_time(value: str) -> datetime | None:
    """A `ready_at` as the time it asks for; None for "asap"."""
    if value.strip().lower() == "asap":
        return None
    return datetime.fromisoformat(value.strip())


def _ready_at_error(value: str) -> str | None:
    try:
        moment = requested_time(value)
    except ValueError:
        return 'must be "asap" or an ISO 8601 time with an offset, e.g. 2026-12-06T19:30:00+01:00'
    if moment is not None and moment.tzinfo is None:
        return "must give its offset from UTC (+01:00, or Z)"
    return None


def _contact_error(value: dict) -> str | None:
    return None if value.get("phone") or value.get("email") else "must hold a phone, an email or both"


# How to reach the guest when the order is ready (orders/contact.py); never shown on a public surface.
CONTACT_RULES = _rules(
    FieldRule(
        "phone",
        Kind.TEXT,
        min=1,
        max=32,
        optional=True,
        message="must be at most {max} characters",
        help_text="international format (+15555550123); kept in E.164; texted when the order is received and ready",
        check=phone_error,
    ),
    FieldRule(
        "email",
        Kind.TEXT,
        min=3,
        max=254,
        optional=True,
        message="must be {min} to {max} characters",
        help_text="emailed when the order is received and ready",
        check=email_error,
    ),
)


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
        min=TABLE_NUMBERS[0],
        max=TABLE_NUMBERS[1],
        only_for=OrderType.DINE_IN,
        message="must be between {min} and {max}",
        help_text="{min}–{max}; required for {only_for} orders, left out for the others",
    ),
    FieldRule(
        "table_key",
        Kind.TEXT,
        min=1,
        max=32,
        only_for=OrderType.DINE_IN,
        optional=True,
        message="must be {min} to {max} characters",
        help_text=(
            "the key of the table's QR code (`/order/?table=<n>&key=<key>`), sent by the ordering page: the order "
            "is refused unless it is the table's current key; staff and API clients leave it out"
        ),
    ),
    FieldRule(
        "delivery_address",
        Kind.TEXT,
        min=10,
        max=500,
        only_for=OrderType.DELIVERY,
        message="must be {min} to {max} characters",
        help_text="{min}–{max} characters; required for {only_for} orders, left out for the others",
        check=_address_error,
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
    FieldRule(
        "ready_at",
        Kind.TEXT,
        min=1,
        max=40,
        optional=True,
        message="must be at most {max} characters",
        help_text=(
            "asap (the default) or when the guest wants it, ISO 8601 with an offset (2026-12-06T19:30:00+01:00): "
            "the slot of the kitchen holding that time, if it has room"
        ),
        check=_ready_at_error,
    ),
    FieldRule(
        "contact",
        Kind.OBJECT,
        optional=True,
        fields=CONTACT_RULES,
        help_text="the guest's phone and/or email, to be told when the order is received, ready or cancelled",
        check=_contact_error,
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
# The optional body of POST /orders/{number}/cancel (the staff order API): why, kept as the log row's notes.
CANCEL_RULES = _rules(
    FieldRule(
        "reason",
        Kind.TEXT,
        min=0,
        max=200,
        optional=True,
        message="must be at most {max} characters",
        help_text="why it is cancelled (guest left, out of dough), at most {max} characters on one line",
        check=_notes_error,
    ),
)
