"""The staff order entry of the back office (phone and walk-in orders).

The form fields only carry text: what they hold is turned into the same data a `POST /orders` body
gives and checked by `validate_order`, so the back office and the API share one set of rules, and its
errors (named as in the API: `items[0].quantity`) are put back on the fields they are about.
"""

import json
import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from django import forms

from orders.rules import ITEM_RULES, MENU_ITEM_RULES, ORDER_RULES, FieldRule, Kind

ITEM_ERROR = re.compile(r"items\[(\d+)\]\.(\w+)")
# The table's QR key is the guest page's: staff name the table itself.
NOT_ON_THE_FORM = {"table_key"}
# How the fields look; what they accept is validate_order's business.
WIDGETS = {
    "delivery_address": forms.Textarea(attrs={"rows": 2, "cols": 60}),
    "quantity": forms.TextInput(attrs={"size": 4}),
    "price": forms.TextInput(attrs={"size": 8}),
}


def _form_class(name: str, rules: Mapping[str, FieldRule]) -> type[forms.Form]:
    """A form with a field per rule (the list of items excepted: those are the formset's rows), each
    optional and with the rule's help text, so that `validate_order` alone judges what is typed."""
    fields: dict[str, forms.Field] = {}
    for rule in rules.values():
        if rule.name in NOT_ON_THE_FORM:
            continue
        if rule.kind is Kind.CHOICE:
            choices = [("", "---------"), *rule.choices]
            fields[rule.name] = forms.ChoiceField(choices=choices, required=False, help_text=rule.help)
        elif rule.kind is Kind.OBJECT:  # a field per field of the object: contact_phone, contact_email
            for sub in rule.fields.values():
                fields[f"{rule.name}_{sub.name}"] = forms.CharField(required=False, help_text=sub.help)
        elif rule.kind is not Kind.LIST:
            fields[rule.name] = forms.CharField(required=False, widget=WIDGETS.get(rule.name), help_text=rule.help)
    return type(forms.Form)(name, (forms.Form,), {"__module__": __name__, **fields})


StaffOrderForm = _form_class("StaffOrderForm", ORDER_RULES)
ItemRowForm = _form_class("ItemRowForm", ITEM_RULES)
ItemRowFormSet = forms.formset_factory(ItemRowForm, extra=8, max_num=ORDER_RULES["items"].max)


def picker_rules() -> dict[str, dict[str, Any]]:
    """The limits the menu picker's inputs show for a line (validate_order still judges what is sent)."""
    quantity, notes = MENU_ITEM_RULES["quantity"], MENU_ITEM_RULES["notes"]
    return {"quantity": {"min": quantity.min, "max": quantity.max}, "notes": {"max": notes.max}}


def _integer(text: str) -> int | str:
    return int(text) if re.fullmatch(r"[+-]?[0-9]{1,6}", text) else text


def _number(text: str) -> Decimal | str:
    try:
        return Decimal(text)
    except InvalidOperation:
        return text


def _typed(rule: FieldRule, text: str) -> Any:
    """The JSON value a typed text stands for, by the rule's kind."""
    if rule.kind is Kind.INTEGER:
        return _integer(text)
    if rule.kind is Kind.PRICE:
        return _number(text)
    return text


def picked_lines(text: str) -> list[Any]:
    """The menu lines the page's picker posts (JSON: [{"sku", "quantity", "modifiers", "notes"}, …]),
    read as the API reads a body; what is not such a list is no lines. Their prices are the server's."""
    try:
        lines = json.loads(text or "[]", parse_float=Decimal)
    except (ValueError, RecursionError):  # RecursionError: nested deeper than the reader goes
        return []
    # The page is shown again with its lines after an error (json_script): what is nested deeper than a
    # line can be (lines > line > modifiers > code) could not be written back out either.
    return lines if isinstance(lines, list) and _depth(lines) <= MAX_LINES_DEPTH else []


MAX_LINES_DEPTH = 8


def _depth(value: Any) -> int:
    """How deep lists and objects nest in `value`, counted without recursion."""
    deepest, pending = 0, [(value, 1)]
    while pending:
        value, depth = pending.pop()
        children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else None
        if children is not None:
            deepest = max(deepest, depth)
            if depth > MAX_LINES_DEPTH:
                break
            pending.extend((child, depth + 1) for child in children)
    return deepest


def order_data(
    form: StaffOrderForm, items: forms.BaseFormSet, menu_lines: list[Any] = ()
) -> tuple[dict[str, Any], list[int | None]]:
    """The POST /orders body the form stands for: the picked menu lines, then the free item rows (blank
    rows are left out); and for each item its formset row (None for a menu line). A value that is not
    a number stays text, for `validate_order` to refuse."""
    fields = form.cleaned_data
    data: dict[str, Any] = {}
    for rule in ORDER_RULES.values():
        if rule.name in NOT_ON_THE_FORM or rule.kind is Kind.LIST:
            continue
        if rule.kind is Kind.OBJECT:
            typed = {name: fields[f"{rule.name}_{name}"] for name in rule.fields if fields[f"{rule.name}_{name}"]}
            if typed:
                data[rule.name] = typed
        # The required fields are always sent (blank ones are refused by name), the others when filled in.
        elif rule.required or fields[rule.name]:
            data[rule.name] = _typed(rule, fields[rule.name])
    data["items"], rows = list(menu_lines), [None] * len(menu_lines)
    for index, row in enumerate(items.cleaned_data):
        if not any(row.values()):
            continue
        data["items"].append({name: _typed(rule, row[name]) for name, rule in ITEM_RULES.items() if row.get(name)})
        rows.append(index)
    return data, rows


def attach_errors(
    errors: dict[str, list[str]], form: StaffOrderForm, items: forms.BaseFormSet, rows: list[int | None]
) -> list[tuple[str, list[str]]]:
    """Put `validate_order`'s errors on the fields they name; returns them as (name, messages) for a
    summary, an item's row number added to its name."""
    summary = []
    for name, messages in errors.items():
        match = ITEM_ERROR.fullmatch(name)
        if match and int(match[1]) < len(rows) and rows[int(match[1])] is None:
            summary.append((f"{name} (menu line {int(match[1]) + 1})", messages))
            continue
        if match and int(match[1]) < len(rows) and match[2] in ItemRowForm.base_fields:
            row = rows[int(match[1])]
            items.forms[row].add_error(match[2], messages)
            summary.append((f"{name} (row {row + 1})", messages))
            continue
        field = name.replace(".", "_")  # contact.phone is the form's contact_phone
        if field in form.fields:
            form.add_error(field, messages)
        summary.append((name, messages))
    return summary
