"""Menu writes: loading a menu file (`manage.py load_menu`) and marking items sold out or available.

A menu file is checked whole before anything is written (`parse_menu`, errors named by path:
`categories[0].items[2].price`), then written in one transaction (`menu_load`), idempotent by
code and sku: it creates and updates, and deletes what the file omits only when asked to prune.
"""

import re
import zoneinfo
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.db.models import Model

from menu.models import (
    CAPACITY_MAX,
    CAPACITY_MIN,
    LOAD_MAX,
    LOAD_MIN,
    PRICE_MAX,
    PRICE_MIN,
    Category,
    Kitchen,
    MenuItem,
    ModifierGroup,
    ModifierOption,
    Station,
)
from restaurant.api import ApplicationError
from restaurant.text import clean_text, hidden_character_error

SLUG = re.compile(r"[a-z0-9]+(?:[-_][a-z0-9]+)*")
NAME_MAX = 50
CENT = Decimal("0.01")


class MenuInvalid(ApplicationError):
    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__(code="menu_invalid", errors=errors)


@dataclass
class LoadReport:
    """What a load did, per kind of row: {"items": Counter(created=2, updated=1, unchanged=17)}."""

    counts: dict[str, Counter] = field(default_factory=dict)

    def add(self, kind: str, outcome: str, count: int = 1) -> None:
        self.counts.setdefault(kind, Counter())[outcome] += count

    def lines(self) -> list[str]:
        return [
            f"{kind}: " + ", ".join(f"{count} {outcome}" for outcome, count in sorted(outcomes.items()))
            for kind, outcomes in self.counts.items()
        ]


class _Checker:
    """Collects every error of a menu file, by path, while reading its values."""

    def __init__(self) -> None:
        self.errors: dict[str, list[str]] = {}

    def fail(self, path: str, message: str) -> None:
        self.errors.setdefault(path, []).append(message)

    def obj(self, value: Any, path: str, required: set[str], optional: set[str]) -> dict | None:
        if not isinstance(value, dict):
            self.fail(path, "must be an object")
            return None
        for key in sorted(set(value) - required - optional):
            self.fail(f"{path}.{key}" if path else key, "unknown field")
        for key in sorted(required - set(value)):
            self.fail(f"{path}.{key}" if path else key, "is required")
        return value

    def array(self, value: Any, path: str) -> list:
        if not isinstance(value, list):
            self.fail(path, "must be an array")
            return []
        return value

    def code(self, value: Any, path: str, max_length: int = 50) -> str | None:
        if not isinstance(value, str) or not SLUG.fullmatch(value) or len(value) > max_length:
            self.fail(path, f"must be a slug of lowercase letters, digits, - and _ (at most {max_length})")
            return None
        return value

    def name(self, value: Any, path: str) -> str | None:
        text = clean_text(value) if isinstance(value, str) else None
        if not text or len(text) > NAME_MAX or any(ord(c) < 32 or 127 <= ord(c) < 160 for c in text):
            self.fail(path, f"must be 1 to {NAME_MAX} printable characters")
            return None
        if message := hidden_character_error(text):
            self.fail(path, message)
            return None
        return text

    def money(self, value: Any, path: str, low: Decimal | None, high: Decimal) -> Decimal | None:
        """A price as a string or a JSON number (read as Decimal, never float)."""
        if isinstance(value, bool) or not isinstance(value, (int, str, Decimal)):
            self.fail(path, "must be a number or a string holding one")
            return None
        try:
            amount = Decimal(value.strip() if isinstance(value, str) else value)
        except InvalidOperation:
            self.fail(path, "must be a number or a string holding one")
            return None
        # The range before the places: a huge amount (1e30) cannot even be rounded to cents.
        if not amount.is_finite():
            self.fail(path, "must have at most 2 decimal places")
        elif (low is not None and amount < low) or abs(amount) > high:
            self.fail(path, f"must be between {low if low is not None else -high} and {high}")
        elif amount != amount.quantize(CENT):
            self.fail(path, "must have at most 2 decimal places")
        else:
            return amount.quantize(CENT)
        return None

    def flag(self, value: Any, path: str) -> bool:
        if not isinstance(value, bool):
            self.fail(path, "must be true or false")
            return True
        return value

    def count(self, value: Any, path: str) -> int | None:
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100:
            self.fail(path, "must be a whole number from 0 to 100")
            return None
        return value

    def unique(self, codes: list[tuple[str, str]], what: str) -> None:
        """`codes`: (path, code) pairs; a code seen twice is an error at its second place."""
        seen: set[str] = set()
        for path, code in codes:
            if code in seen:
                self.fail(path, f"{what} {code!r} appears more than once")
            seen.add(code)


def parse_menu(data: Any) -> dict[str, Any]:
    """The menu file's content, checked whole and normalized (Decimal prices, defaults filled in,
    display order = position in the file); MenuInvalid naming every bad field otherwise."""
    check = _Checker()
    top = check.obj(data, "", {"stations", "categories"}, {"kitchen"}) or {}
    stations, codes = [], []
    for s, raw in enumerate(check.array(top.get("stations", []), "stations")):
        path = f"stations[{s}]"
        if (entry := check.obj(raw, path, {"code", "name"}, {"prep_seconds", "capacity_per_slot"})) is not None:
            code, name = (
                check.code(entry.get("code"), f"{path}.code", 30),
                check.name(entry.get("name"), f"{path}.name"),
            )
            prep = entry.get("prep_seconds")
            if prep is not None and (isinstance(prep, bool) or not isinstance(prep, int) or not 1 <= prep <= 7200):
                check.fail(f"{path}.prep_seconds", "must be a whole number of seconds from 1 to 7200")
            capacity = entry.get("capacity_per_slot")
            if capacity is not None and not _whole(capacity, CAPACITY_MIN, CAPACITY_MAX):
                check.fail(
                    f"{path}.capacity_per_slot",
                    f"must be a whole number of load units from {CAPACITY_MIN} to {CAPACITY_MAX}",
                )
            if code and name:
                station = {"code": code, "name": name, "display_order": s, "prep_seconds": prep}
                stations.append({**station, "capacity_per_slot": capacity})
                codes.append((f"{path}.code", code))
    check.unique(codes, "station")
    known_stations = {station["code"] for station in stations} | set(Station.objects.values_list("code", flat=True))

    categories, category_codes, skus = [], [], []
    for c, raw in enumerate(check.array(top.get("categories", []), "categories")):
        path = f"categories[{c}]"
        entry = check.obj(raw, path, {"code", "name", "items"}, set())
        if entry is None:
            continue
        code, name = check.code(entry.get("code"), f"{path}.code"), check.name(entry.get("name"), f"{path}.name")
        if code:
            category_codes.append((f"{path}.code", code))
        items = []
        for i, raw_item in enumerate(check.array(entry.get("items", []), f"{path}.items")):
            item = _parse_item(check, raw_item, f"{path}.items[{i}]", i, known_stations)
            if item is not None:
                items.append(item)
                skus.append((f"{path}.items[{i}].sku", item["sku"]))
        categories.append({"code": code, "name": name, "display_order": c, "items": items})
    check.unique(category_codes, "category")
    check.unique(skus, "sku")
    kitchen = _parse_kitchen(check, top["kitchen"]) if "kitchen" in top else None
    if check.errors:
        raise MenuInvalid(check.errors)
    return {"stations": stations, "categories": categories, "kitchen": kitchen}


def _whole(value: Any, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
CLOCK = re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9]|24:00")
# The kitchen's numbers: name → (default, lowest, highest). The back office's kitchen page shows these ranges.
KITCHEN_NUMBERS = {
    "slot_minutes": (15, 1, 60),
    "asap_horizon_minutes": (120, 1, 24 * 60),
    "days_ahead": (7, 0, 90),
}


def parse_kitchen(raw: Any) -> dict[str, Any]:
    """The menu file's `"kitchen"` object alone (the back office's kitchen page checks by the same rules):
    normalized as `parse_menu` does it, or MenuInvalid naming every bad field (`kitchen.hours[0].close`)."""
    check = _Checker()
    kitchen = _parse_kitchen(check, raw)
    if check.errors or kitchen is None:
        raise MenuInvalid(check.errors)
    return kitchen


def _parse_kitchen(check: "_Checker", raw: Any) -> dict | None:
    """The kitchen's clock: its zone, slots, horizons and opening hours (menu.models.Kitchen)."""
    optional = {"time_zone", *KITCHEN_NUMBERS, "hours"}
    entry = check.obj(raw, "kitchen", set(), optional)
    if entry is None:
        return None
    kitchen = {"time_zone": entry.get("time_zone", "UTC"), "hours": []}
    if not isinstance(kitchen["time_zone"], str) or kitchen["time_zone"] not in zoneinfo.available_timezones():
        check.fail("kitchen.time_zone", "must be an IANA time zone, e.g. Europe/Rome")
    for name, (default, low, high) in KITCHEN_NUMBERS.items():
        kitchen[name] = entry.get(name, default)
        if not _whole(kitchen[name], low, high):
            check.fail(f"kitchen.{name}", f"must be a whole number from {low} to {high}")
    for h, raw_range in enumerate(check.array(entry.get("hours", []), "kitchen.hours")):
        path = f"kitchen.hours[{h}]"
        hours = check.obj(raw_range, path, {"days", "open", "close"}, set())
        if hours is None:
            continue
        days = hours.get("days")
        if not isinstance(days, list) or not days or any(day not in DAYS for day in days):
            unknown = [repr(day) for day in days if day not in DAYS] if isinstance(days, list) else []
            named = f" (not {', '.join(unknown)})" if unknown else ""
            check.fail(f"{path}.days", f"must be a list of {', '.join(DAYS)}{named}")
        for end in ("open", "close"):
            if not isinstance(hours.get(end), str) or not CLOCK.fullmatch(hours[end]):
                check.fail(f"{path}.{end}", "must be a time HH:MM (24:00 for the end of the day)")
        if CLOCK.fullmatch(str(hours.get("open"))) and CLOCK.fullmatch(str(hours.get("close"))):
            if hours["open"] == "24:00" or hours["close"] <= hours["open"]:
                check.fail(f"{path}.close", "must be after open (24:00 for the end of the day)")
        kitchen["hours"].append({"days": days, "open": hours.get("open"), "close": hours.get("close")})
    return kitchen


def _parse_item(check: _Checker, raw: Any, path: str, position: int, stations: set[str]) -> dict | None:
    required, optional = {"sku", "name", "price", "station"}, {"description", "available", "modifier_groups", "load"}
    entry = check.obj(raw, path, required, optional)
    if entry is None:
        return None
    sku = check.code(entry.get("sku"), f"{path}.sku")
    name = check.name(entry.get("name"), f"{path}.name")
    price = check.money(entry.get("price"), f"{path}.price", PRICE_MIN, PRICE_MAX) if "price" in entry else None
    station = entry.get("station")
    if "station" in entry and station not in stations:
        check.fail(f"{path}.station", f"unknown station {station!r}")
    description = entry.get("description", "")
    if not isinstance(description, str) or len(description) > 500:
        check.fail(f"{path}.description", "must be a string of at most 500 characters")
    elif message := hidden_character_error(description, allowed="\n"):
        check.fail(f"{path}.description", message)
    else:
        description = clean_text(description)
    groups, group_codes, option_codes = [], [], []
    for g, raw_group in enumerate(check.array(entry.get("modifier_groups", []), f"{path}.modifier_groups")):
        gpath = f"{path}.modifier_groups[{g}]"
        group = check.obj(raw_group, gpath, {"code", "name", "options"}, {"min", "max"})
        if group is None:
            continue
        code = check.code(group.get("code"), f"{gpath}.code")
        low = check.count(group.get("min", 0), f"{gpath}.min")
        high = None if group.get("max") is None else check.count(group.get("max"), f"{gpath}.max")
        options = []
        for o, raw_option in enumerate(check.array(group.get("options", []), f"{gpath}.options")):
            opath = f"{gpath}.options[{o}]"
            option = check.obj(raw_option, opath, {"code", "name"}, {"price_delta", "available"})
            if option is None:
                continue
            option_code = check.code(option.get("code"), f"{opath}.code")
            # A negative delta stays within the item's price: the unit price never falls below 0.01.
            floor = (CENT - price) if price is not None else None
            delta = check.money(option.get("price_delta", 0), f"{opath}.price_delta", floor, PRICE_MAX)
            options.append(
                {
                    "code": option_code,
                    "name": check.name(option.get("name"), f"{opath}.name"),
                    "price_delta": delta,
                    "available": check.flag(option.get("available", True), f"{opath}.available"),
                    "display_order": o,
                }
            )
            if option_code:
                option_codes.append((f"{opath}.code", option_code))
        if low is not None and high is not None and high < low:
            check.fail(f"{gpath}.max", "must be at least min")
        if low is not None and low > len(options):
            check.fail(f"{gpath}.min", "is more than the group has options")
        if code:
            group_codes.append((f"{gpath}.code", code))
        groups.append(
            {
                "code": code,
                "name": check.name(group.get("name"), f"{gpath}.name"),
                "min_choices": low,
                "max_choices": high,
                "display_order": g,
                "options": options,
            }
        )
    check.unique(group_codes, "modifier group")
    check.unique(option_codes, "option code of this item")  # an order names options by code alone
    return {
        "sku": sku,
        "name": name,
        "description": description if isinstance(description, str) else "",
        "price": price,
        "station": station,
        "available": check.flag(entry.get("available", True), f"{path}.available"),
        "display_order": position,
        "load": _load(check, entry.get("load", 1), f"{path}.load"),
        "modifier_groups": groups,
    }


def _load(check: "_Checker", value: Any, path: str) -> int:
    if not _whole(value, LOAD_MIN, LOAD_MAX):
        check.fail(path, f"must be a whole number of load units from {LOAD_MIN} to {LOAD_MAX}")
        return 1
    return value


def _upsert(model: type[Model], lookup: dict[str, Any], values: dict[str, Any]) -> tuple[Model, str]:
    row = model.objects.filter(**lookup).first()
    if row is None:
        return model.objects.create(**lookup, **values), "created"
    changed = [name for name, value in values.items() if getattr(row, name) != value]
    if not changed:
        return row, "unchanged"
    for name in changed:
        setattr(row, name, values[name])
    row.save(update_fields=changed)
    return row, "updated"


KINDS = {
    "menu.Station": "stations",
    "menu.Category": "categories",
    "menu.MenuItem": "items",
    "menu.ModifierGroup": "modifier groups",
    "menu.ModifierOption": "options",
}


def _prune(report: LoadReport, queryset) -> None:
    """Delete `queryset`, counting what went with it too (an item's groups and options)."""
    _, deleted = queryset.delete()
    for label, count in deleted.items():
        if count:
            report.add(KINDS[label], "pruned", count)


@transaction.atomic
def menu_load(menu: dict[str, Any], *, prune: bool = False) -> LoadReport:
    """Write a `parse_menu` result: create and update by code/sku; with `prune`, delete what it omits
    (orders keep their copies of deleted items: they reference no menu row)."""
    report = LoadReport()
    if menu.get("kitchen") is not None:
        kitchen_set(menu["kitchen"])
    stations = {}
    for entry in menu["stations"]:
        stations[entry["code"]], outcome = _upsert(Station, {"code": entry["code"]}, _fields(entry, "code"))
        report.add("stations", outcome)
    stations.update({s.code: s for s in Station.objects.exclude(code__in=stations)})
    kept_items = []
    for category_entry in menu["categories"]:
        values = _fields(category_entry, "code", "items")
        category, outcome = _upsert(Category, {"code": category_entry["code"]}, values)
        report.add("categories", outcome)
        for entry in category_entry["items"]:
            values = {**_fields(entry, "sku", "modifier_groups"), "category": category}
            values["station"] = stations[entry["station"]]
            item, outcome = _upsert(MenuItem, {"sku": entry["sku"]}, values)
            report.add("items", outcome)
            kept_items.append(item.pk)
            kept_groups = []
            for group_entry in entry["modifier_groups"]:
                values = _fields(group_entry, "code", "options")
                group, outcome = _upsert(ModifierGroup, {"item": item, "code": group_entry["code"]}, values)
                report.add("modifier groups", outcome)
                kept_groups.append(group.pk)
                kept_options = []
                for option_entry in group_entry["options"]:
                    values = _fields(option_entry, "code")
                    option, outcome = _upsert(ModifierOption, {"group": group, "code": option_entry["code"]}, values)
                    report.add("options", outcome)
                    kept_options.append(option.pk)
                if prune:
                    _prune(report, group.options.exclude(pk__in=kept_options))
            if prune:
                _prune(report, item.modifier_groups.exclude(pk__in=kept_groups))
    if prune:
        _prune(report, MenuItem.objects.exclude(pk__in=kept_items))
        _prune(report, Category.objects.exclude(code__in=[c["code"] for c in menu["categories"]]))
        # A station the file omits but a kept item still names stays (the file's items decide).
        omitted = Station.objects.exclude(code__in=[s["code"] for s in menu["stations"]])
        _prune(report, omitted.exclude(items__isnull=False))
    return report


def kitchen_set(kitchen: dict[str, Any]) -> Kitchen:
    """Write the kitchen's clock (a `parse_kitchen` result) to its one row, made if missing. Only those
    fields: the ASAP pause (orders/pause.py) is not the menu's, and a save never ends or moves one.
    The row's post_save makes this process read the clock again at once (orders/capacity.py)."""
    row, _ = Kitchen.objects.update_or_create(pk=1, defaults=kitchen)
    return row


def _fields(entry: dict[str, Any], *leave_out: str) -> dict[str, Any]:
    return {name: value for name, value in entry.items() if name not in leave_out}


def menu_items_set_available(*, skus: list[str], available: bool) -> int:
    """Mark items sold out (86) or available again; returns how many changed."""
    return MenuItem.objects.filter(sku__in=skus).exclude(available=available).update(available=available)
