"""The staff order entry of the back office (phone and walk-in orders).

The form fields only carry text: what they hold is turned into the same data a `POST /orders` body
gives and checked by `validate_order`, so the back office and the API share one set of rules, and its
errors (named as in the API: `items[0].quantity`) are put back on the fields they are about.
"""

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from django import forms

from orders.models import OrderType
from orders.validation import ITEMS_MAX

ITEM_ERROR = re.compile(r"items\[(\d+)\]\.(\w+)")


class StaffOrderForm(forms.Form):
    customer_name = forms.CharField(required=False)
    order_type = forms.ChoiceField(choices=[("", "---------"), *OrderType.choices], required=False)
    table_number = forms.CharField(required=False, help_text="Dine in only.")
    delivery_address = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 2, "cols": 60}), help_text="Delivery only."
    )


class ItemRowForm(forms.Form):
    name = forms.CharField(required=False)
    quantity = forms.CharField(required=False, widget=forms.TextInput(attrs={"size": 4}))
    price = forms.CharField(required=False, widget=forms.TextInput(attrs={"size": 8}))


ItemRowFormSet = forms.formset_factory(ItemRowForm, extra=8, max_num=ITEMS_MAX)


def _integer(text: str) -> int | str:
    return int(text) if re.fullmatch(r"[+-]?[0-9]{1,6}", text) else text


def _number(text: str) -> Decimal | str:
    try:
        return Decimal(text)
    except InvalidOperation:
        return text


def order_data(form: StaffOrderForm, items: forms.BaseFormSet) -> tuple[dict[str, Any], list[int]]:
    """The POST /orders body the form stands for, and the formset row of each item in it (blank rows
    are left out). A value that is not a number stays text, for `validate_order` to refuse."""
    fields = form.cleaned_data
    data: dict[str, Any] = {"customer_name": fields["customer_name"], "order_type": fields["order_type"]}
    if fields["table_number"]:
        data["table_number"] = _integer(fields["table_number"])
    if fields["delivery_address"]:
        data["delivery_address"] = fields["delivery_address"]
    data["items"], rows = [], []
    for index, row in enumerate(items.cleaned_data):
        if not any(row.values()):
            continue
        item: dict[str, Any] = {}
        for name, convert in (("name", str), ("quantity", _integer), ("price", _number)):
            if row.get(name):
                item[name] = convert(row[name])
        data["items"].append(item)
        rows.append(index)
    return data, rows


def attach_errors(
    errors: dict[str, list[str]], form: StaffOrderForm, items: forms.BaseFormSet, rows: list[int]
) -> list[tuple[str, list[str]]]:
    """Put `validate_order`'s errors on the fields they name; returns them as (name, messages) for a
    summary, an item's row number added to its name."""
    summary = []
    for name, messages in errors.items():
        match = ITEM_ERROR.fullmatch(name)
        if match and int(match[1]) < len(rows) and match[2] in ItemRowForm.base_fields:
            row = rows[int(match[1])]
            items.forms[row].add_error(match[2], messages)
            summary.append((f"{name} (row {row + 1})", messages))
            continue
        if name in form.fields:
            form.add_error(name, messages)
        summary.append((name, messages))
    return summary
