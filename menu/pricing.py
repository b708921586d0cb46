"""Menu pricing: what a menu item costs with the options chosen for it, read from the catalog, or why
it cannot be sold as asked (no such item, sold out, an option it lacks, too few or too many options
of a group).

The order intake (orders/validation.py) prices an order's menu items here: three queries for all of
them, and one more only when an order names an option of another item (to say whose it is).
"""

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from menu.models import MenuItem, ModifierGroup
from menu.selectors import menu_items_by_sku, option_codes_elsewhere

# The kinds of problem, named as the API's error codes (a refusal all of one kind answers with it).
SOLD_OUT = "sold_out"
INVALID = "validation_failed"


@dataclass(frozen=True)
class PricedOption:
    code: str
    name: str
    price_delta: Decimal


@dataclass(frozen=True)
class PricedItem:
    """A menu item as ordered: `price` is the unit price, the item's with its options' deltas."""

    sku: str
    name: str
    station: str
    price: Decimal
    options: tuple[PricedOption, ...]
    # What it asks of the kitchen (orders/capacity.py): its load, and its station's prep time and capacity.
    load: int = 1
    station_prep_seconds: int | None = None
    station_capacity: int | None = None


@dataclass(frozen=True)
class Problem:
    """Why a line cannot be sold: about its `sku` or its `modifiers` (the chosen option codes)."""

    field: str
    message: str
    kind: str = INVALID


def price_menu_items(lines: Sequence[tuple[str, Sequence[str]]]) -> list[PricedItem | list[Problem]]:
    """Each line (a sku and the codes of its chosen options) priced from the menu, or its problems."""
    menu = menu_items_by_sku({sku for sku, _ in lines}) if lines else {}
    unknown = {code for sku, codes in lines if sku in menu for code in codes if code not in _options(menu[sku])}
    elsewhere = option_codes_elsewhere(unknown) if unknown else {}
    return [_price(sku, codes, menu, elsewhere) for sku, codes in lines]


def _options(item: MenuItem) -> dict[str, tuple]:
    """An item's options by code, each with its group (prefetched by menu_items_by_sku)."""
    return {option.code: (group, option) for group in item.modifier_groups.all() for option in group.options.all()}


def _price(
    sku: str, codes: Sequence[str], menu: dict[str, MenuItem], elsewhere: dict[str, str]
) -> PricedItem | list[Problem]:
    item = menu.get(sku)
    if item is None:
        return [Problem("sku", f"no menu item {sku}")]
    problems = []
    if not item.available:
        problems.append(Problem("sku", f"{item.name} is sold out", SOLD_OUT))
    options = _options(item)
    for code in codes:
        if code not in options:
            owner = elsewhere.get(code)
            reason = f"{code} is an option of {owner}, not of {item.sku}" if owner else f"no option {code}"
            problems.append(Problem("modifiers", reason))
        elif not options[code][1].available:
            problems.append(Problem("modifiers", f"{options[code][1].name} is sold out", SOLD_OUT))
    for group in item.modifier_groups.all():
        picked = sum(1 for code in codes if code in options and options[code][0] == group)
        if message := _group_error(group, picked):
            problems.append(Problem("modifiers", message))
    if problems:
        return problems
    chosen = tuple(PricedOption(code, options[code][1].name, options[code][1].price_delta) for code in codes)
    price = item.price + sum((option.price_delta for option in chosen), Decimal("0.00"))
    return PricedItem(
        sku=item.sku,
        name=item.name,
        station=item.station.code,
        price=price,
        options=chosen,
        load=item.load,
        station_prep_seconds=item.station.prep_seconds,
        station_capacity=item.station.capacity_per_slot,
    )


def _group_error(group: ModifierGroup, picked: int) -> str | None:
    low, high = group.min_choices, group.max_choices
    if low == high and picked != low:
        return f"{group.name}: choose exactly {low}"
    if picked < low:
        return f"{group.name}: choose at least {low}"
    if high is not None and picked > high:
        return f"{group.name}: choose at most {high}"
    return None
