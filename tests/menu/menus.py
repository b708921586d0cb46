"""A small menu the menu tests load through menu/services.py, as `load_menu` does, and helpers to
read the catalog's state (row counts and version) and post an admin page back."""

import copy
from decimal import Decimal
from typing import Any

from django import forms

from menu.models import Category, MenuItem, ModifierGroup, ModifierOption, Station
from menu.selectors import menu_version
from menu.services import menu_load, parse_menu

SMALL_MENU: dict[str, Any] = {
    "stations": [{"code": "oven", "name": "Pizza oven"}, {"code": "bar", "name": "Bar"}],
    "categories": [
        {
            "code": "pizza",
            "name": "Pizza",
            "items": [
                {
                    "sku": "margherita",
                    "name": "Margherita Pizza",
                    "description": "Tomato, mozzarella, basil",
                    "price": "12.50",
                    "station": "oven",
                    "modifier_groups": [
                        {
                            "code": "size",
                            "name": "Size",
                            "min": 1,
                            "max": 1,
                            "options": [
                                {"code": "medium", "name": "Medium", "price_delta": "0.00"},
                                {"code": "large", "name": "Large", "price_delta": "3.00"},
                                {"code": "small", "name": "Small", "price_delta": "-2.00"},
                            ],
                        },
                        {
                            "code": "extras",
                            "name": "Extras",
                            "max": 3,
                            "options": [{"code": "extra_cheese", "name": "Extra cheese", "price_delta": "1.50"}],
                        },
                    ],
                },
                {"sku": "diavola", "name": "Diavola", "price": "14.00", "station": "oven", "available": False},
            ],
        },
        {
            "code": "drinks",
            "name": "Drinks",
            "items": [{"sku": "cola", "name": "Cola", "price": Decimal("2.50"), "station": "bar"}],
        },
    ],
}


def small_menu() -> dict[str, Any]:
    return copy.deepcopy(SMALL_MENU)


def load(data: dict[str, Any] | None = None):
    return menu_load(parse_menu(data if data is not None else small_menu()))


def catalog_state() -> dict[str, int]:
    """Row counts of every menu table, and the menu version: what a refused load must leave as it was."""
    models = (Station, Category, MenuItem, ModifierGroup, ModifierOption)
    return {**{model.__name__: model.objects.count() for model in models}, "version": menu_version()}


def posted_back(page, **changes: Any) -> dict[str, Any]:
    """What a browser posts back of an admin change page (its form and every inline, as rendered),
    with `changes` ("price", "options-0-code", ...) applied."""
    data: dict[str, Any] = {}
    rendered = [page.context["adminform"].form]
    for inline in page.context["inline_admin_formsets"]:
        management = inline.formset.management_form
        data.update({management.add_prefix(name): value for name, value in management.initial.items()})
        rendered.extend(inline.formset.forms)
    for form in rendered:
        for name, field in form.fields.items():
            value = form[name].value()
            if isinstance(field, forms.BooleanField):
                if value:
                    data[form.add_prefix(name)] = "on"
            elif value is not None:
                data[form.add_prefix(name)] = value
    data.update(changes)
    return {name: value for name, value in data.items() if value is not None}
