"""Menu reads: the catalog as GET /menu serves it, and its version (the ETag).

The document is built once per menu version and kept in the process: every request reads the
version (one indexed row; a trigger bumps it on any menu change, see menu/migrations/0002), so a
change made through any process is served by every process at its next request, with no restart.
"""

import threading
from typing import Any

from django.db.models import F, Prefetch, Subquery

from menu.models import Category, MenuItem, MenuVersion, ModifierGroup, ModifierOption, Station

_lock = threading.Lock()
_cached: tuple[int, dict[str, Any]] | None = None


def menu_version() -> int:
    row = MenuVersion.objects.filter(pk=1).values_list("version", flat=True).first()
    return row or 0


def _items():
    """Menu items with their station, and their groups and options in display order."""
    options = Prefetch("options", queryset=ModifierOption.objects.order_by("display_order", "id"))
    groups = Prefetch(
        "modifier_groups", queryset=ModifierGroup.objects.order_by("display_order", "id").prefetch_related(options)
    )
    return MenuItem.objects.select_related("station").prefetch_related(groups)


def menu_categories():
    """Categories in display order, each with its items, their groups and options prefetched."""
    items = Prefetch("items", queryset=_items().order_by("display_order", "name"))
    return Category.objects.order_by("display_order", "name").prefetch_related(items)


def menu_document(version: int, build) -> dict[str, Any]:
    """The menu as `build(categories)` renders it, for `version`: built again only when it changed."""
    global _cached
    with _lock:
        if _cached is not None and _cached[0] == version:
            return _cached[1]
    document = build(menu_categories())
    with _lock:
        _cached = (version, document)
    return document


# Every item, as pricing reads it (station, groups, options), kept for the menu's version like the
# document: an order costs one small query (the version) instead of three. The objects are shared by
# the process's threads and only read.
_priced: tuple[int, dict[str, MenuItem]] | None = None


def menu_items_by_sku(skus: set[str]) -> dict[str, MenuItem]:
    """The items an order names, with station, groups and options, as of the menu's current version."""
    global _priced
    version = menu_version()
    priced = _priced
    if priced is None or priced[0] != version:
        # Read after the version: a change in between only makes the next order read them again.
        priced = (version, {item.sku: item for item in _items()})
        if version:
            _priced = priced
    return {sku: priced[1][sku] for sku in skus if sku in priced[1]}


def option_codes_elsewhere(codes: set[str]) -> dict[str, str]:
    """For option codes: the sku of an item that has one (to say "an option of another item")."""
    rows = ModifierOption.objects.filter(code__in=codes).values_list("code", "group__item__sku")
    return dict(rows)


def sold_out() -> dict[str, Any]:
    """What the kitchen displays' 86 list shows: the menu version, sold-out items and options."""
    options = ModifierOption.objects.filter(available=False, group__item__available=True)
    return {
        "version": menu_version(),
        "items": list(MenuItem.objects.filter(available=False).order_by("name").values_list("name", flat=True)),
        "options": [
            f"{item}: {option}"
            for item, option in options.order_by("group__item__name", "name").values_list("group__item__name", "name")
        ],
    }


def slowest_prep_seconds(codes) -> Subquery:
    """The longest prep time among these stations (a query of their codes, e.g. an order's items'
    stations with OuterRef), as a subquery to annotate with; None if none has one."""
    slowest = (
        Station.objects.filter(code__in=codes).values("prep_seconds").order_by(F("prep_seconds").desc(nulls_last=True))
    )
    return Subquery(slowest[:1])
