"""The order contract is described once, by the rule table of orders/rules.py: validation, the
OpenAPI request schema and the staff order form all read their limits, choices and texts from it."""

from dataclasses import replace
from decimal import Decimal

import pytest
from django.urls import reverse
from drf_spectacular.generators import SchemaGenerator

from orders.forms import ItemRowForm, ItemRowFormSet, StaffOrderForm
from orders.rules import ITEM_RULES, ORDER_RULES, FieldRule, Kind
from orders.validation import OrderInvalid, validate_order
from tests.factories import MANAGER, logged_in
from tests.support import order_payload

SCHEMA_LIMITS = {
    Kind.TEXT: ("minLength", "maxLength"),
    Kind.LIST: ("minItems", "maxItems"),
    Kind.INTEGER: ("minimum", "maximum"),
    Kind.PRICE: ("minimum", "maximum"),
}


ITEM = {"name": "Soup", "quantity": 1, "price": Decimal("1.00")}


@pytest.fixture(scope="module")
def components() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)["components"]["schemas"]


def order(**fields) -> dict:
    """A valid takeout order of one item, priced as the JSON parser reads prices (Decimal)."""
    return order_payload(**{"items": [ITEM], **fields})


@pytest.mark.parametrize(
    ("component", "rules"), [("OrderCreateRequest", ORDER_RULES), ("OrderItemRequest", ITEM_RULES)]
)
def test_schema_states_the_limits_choices_and_help_of_every_rule(components, component, rules):
    schema = components[component]

    assert list(schema["properties"]) == list(rules)
    assert set(schema["required"]) == {name for name, rule in rules.items() if rule.required}
    for name, rule in rules.items():
        field = schema["properties"][name]
        if rule.kind in SCHEMA_LIMITS:
            low, high = SCHEMA_LIMITS[rule.kind]
            assert (Decimal(str(field[low])), Decimal(str(field[high]))) == (rule.min, rule.max), name
        if rule.kind is Kind.CHOICE:  # an enum is a component of its own
            assert tuple(components[field["$ref"].rsplit("/", 1)[-1]]["enum"]) == rule.values
        assert field.get("description", "") == rule.help, name
        assert field.get("nullable", False) is not rule.required, name


def staff_form_rules() -> dict[str, FieldRule]:
    """The order fields staff fill in, an object's as a field per field (contact_phone): all but the
    items (the formset's rows) and the table's QR key (the guest page's)."""
    rules = {}
    for name, rule in ORDER_RULES.items():
        if rule.kind is Kind.OBJECT:
            rules |= {f"{name}_{sub}": sub_rule for sub, sub_rule in rule.fields.items()}
        elif rule.kind is not Kind.LIST and name != "table_key":
            rules[name] = rule
    return rules


def test_staff_form_has_a_field_per_rule_with_its_help_text_and_choices():
    order_rules = staff_form_rules()

    for form, rules in ((StaffOrderForm, order_rules), (ItemRowForm, ITEM_RULES)):
        assert list(form.base_fields) == list(rules)
        for name, rule in rules.items():
            assert form.base_fields[name].help_text == rule.help, name
    assert [value for value, _ in StaffOrderForm.base_fields["order_type"].choices][1:] == list(
        ORDER_RULES["order_type"].values
    )
    assert ItemRowFormSet.max_num == ORDER_RULES["items"].max


@pytest.mark.django_db
def test_staff_order_page_shows_the_help_text_of_every_field_and_item_column():
    page = logged_in(MANAGER).get(reverse("admin:orders_order_add")).text

    for rule in (*staff_form_rules().values(), *ITEM_RULES.values()):
        assert rule.help in page, rule.name


def refusal(body: dict) -> dict[str, list[str]]:
    with pytest.raises(OrderInvalid) as refused:
        validate_order(body)
    return refused.value.errors


def over(rule: FieldRule):
    return rule.max + (Decimal("0.01") if rule.kind is Kind.PRICE else 1)


@pytest.mark.parametrize("name", ["quantity", "price"])
def test_validation_refuses_past_an_item_rule_with_its_message(name):
    rule = ITEM_RULES[name]

    validate_order(order(items=[{**ITEM, name: rule.max}]))
    assert refusal(order(items=[{**ITEM, name: over(rule)}])) == {f"items[0].{name}": [rule.out_of_range]}


def test_validation_refuses_past_an_order_rule_with_its_message():
    table, address = ORDER_RULES["table_number"], ORDER_RULES["delivery_address"]

    assert refusal(order(order_type=table.only_for, table_number=over(table))) == {"table_number": [table.out_of_range]}
    assert refusal(order(order_type=address.only_for, delivery_address="x" * over(address))) == {
        "delivery_address": [address.out_of_range]
    }
    assert refusal(order(items=[])) == {"items": [ORDER_RULES["items"].out_of_range]}


def test_a_rule_changed_in_the_table_changes_what_validation_accepts_and_says(monkeypatch):
    monkeypatch.setitem(ITEM_RULES, "quantity", replace(ITEM_RULES["quantity"], max=12))

    assert validate_order(order(items=[{**ITEM, "quantity": 12}])).items[0].quantity == 12
    assert refusal(order(items=[{**ITEM, "quantity": 13}])) == {"items[0].quantity": ["must be between 1 and 12"]}
