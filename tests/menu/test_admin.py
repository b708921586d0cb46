"""The back office for the menu: the sold-out actions (for the Kitchen too, who get nothing else of the
admin), a Manager's edits, and the checks an order relies on (option codes unique across an item's
groups, a price that options never take under 0.01). Real PostgreSQL; Django's test client."""

from decimal import Decimal

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.test import Client
from django.urls import reverse

from menu.models import Category, MenuItem, ModifierGroup, ModifierOption
from tests.factories import (
    FRONT_OF_HOUSE,
    KITCHEN,
    MANAGER,
    load_test_menu,
    logged_in,
    messages_of,
    posted_back,
    staff_user,
)

pytestmark = pytest.mark.django_db

ITEMS = reverse("admin:menu_menuitem_changelist")
ORDERS = reverse("admin:orders_order_changelist")


@pytest.fixture(autouse=True)
def menu():
    load_test_menu()


def item(sku: str) -> MenuItem:
    return MenuItem.objects.get(sku=sku)


def item_url(sku: str) -> str:
    return reverse("admin:menu_menuitem_change", args=[item(sku).pk])


def group_url(sku: str, code: str) -> str:
    return reverse("admin:menu_modifiergroup_change", args=[ModifierGroup.objects.get(item__sku=sku, code=code).pk])


def run_action(client: Client, action: str, *skus: str):
    pks = [item(sku).pk for sku in skus]
    return client.post(ITEMS, {"action": action, ACTION_CHECKBOX_NAME: pks})


def available(*skus: str) -> list[bool]:
    return [item(sku).available for sku in skus]


def errors_of(response) -> list[str]:
    """Every error message of an admin change page that was refused (200, the form again)."""
    assert response.status_code == 200, response.status_code
    found = [str(e) for e in response.context["adminform"].form.errors.values() for e in e]
    for formset in response.context["inline_admin_formsets"]:
        found += [str(e) for e in formset.formset.non_form_errors()]
        found += [str(e) for errors in formset.formset.errors for field in errors.values() for e in field]
    return found


# --- the actions --------------------------------------------------------------------------------


def test_mark_sold_out_and_available_change_the_items_and_the_etag_and_say_how_many():
    client = logged_in(MANAGER)
    etag = Client().get("/menu")["ETag"]

    sold_out = run_action(client, "mark_sold_out", "margherita", "tiramisu")

    assert sold_out.status_code == 302
    assert messages_of(sold_out)[-1:] == [("success", "Marked sold out: 1 of 2 item(s) changed, 1 already sold out.")]
    assert available("margherita", "tiramisu", "cola") == [False, False, True]
    sold_out_etag = Client().get("/menu")["ETag"]
    assert sold_out_etag != etag

    back = run_action(client, "mark_available", "margherita", "tiramisu", "cola")

    assert messages_of(back)[-1:] == [("success", "Marked available: 2 of 3 item(s) changed, 1 already available.")]
    assert available("margherita", "tiramisu", "cola") == [True, True, True]
    assert Client().get("/menu")["ETag"] not in (etag, sold_out_etag)


def test_the_item_list_filters_and_searches():
    client = logged_in(MANAGER)

    def listed(**query) -> list[str]:
        return sorted(row.sku for row in client.get(ITEMS, query).context["cl"].result_list)

    assert listed() == ["cola", "deltas", "margherita", "tiramisu"]
    assert listed(available__exact="0") == ["tiramisu"]
    assert listed(category__id__exact=str(Category.objects.get(code="drinks").pk)) == ["cola", "tiramisu"]
    assert listed(station__id__exact=str(item("cola").station_id)) == ["cola", "tiramisu"]
    assert listed(q="bianc") == ["deltas"] and listed(q="Margherita") == ["margherita"]


# --- the Kitchen: the items list and its two actions, nothing else -------------------------------


def test_a_kitchen_account_sees_only_the_menu_items_and_may_86_them():
    client = logged_in(KITCHEN, "kit")

    page = client.get(ITEMS)
    app = client.get(reverse("admin:app_list", args=["menu"]))

    assert page.status_code == 200 and "Margherita Pizza" in page.text
    assert [action for action in page.context["cl"].model_admin.get_actions(page.wsgi_request)] == [
        "mark_sold_out",
        "mark_available",
    ]
    assert [model["object_name"] for entry in page.context["available_apps"] for model in entry["models"]] == [
        "MenuItem"
    ]
    assert app.status_code == 200 and [m["object_name"] for m in app.context["app_list"][0]["models"]] == ["MenuItem"]
    assert "Add menu item" not in page.text
    assert messages_of(run_action(client, "mark_sold_out", "margherita"))[-1:] == [
        ("success", "Marked sold out: 1 of 1 item(s) changed.")
    ]
    assert messages_of(run_action(client, "mark_available", "margherita"))[-1:] == [
        ("success", "Marked available: 1 of 1 item(s) changed.")
    ]
    assert available("margherita") == [True]


def test_a_kitchen_account_changes_adds_and_deletes_nothing_and_sees_no_orders():
    client = logged_in(KITCHEN, "kit")
    url = item_url("margherita")

    change_page = client.get(url)

    assert change_page.status_code == 200 and 'name="_save"' not in change_page.text  # read only
    assert client.post(url, {"price": "0.01", "available": "on"}).status_code == 403
    assert client.get(reverse("admin:menu_menuitem_add")).status_code == 403
    assert client.post(reverse("admin:menu_menuitem_add"), {"sku": "x"}).status_code == 403
    assert (
        client.post(reverse("admin:menu_menuitem_delete", args=[item("cola").pk]), {"post": "yes"}).status_code == 403
    )
    run_action(client, "delete_selected", "cola")  # not an action of theirs
    assert client.get(reverse("admin:menu_category_changelist")).status_code == 403
    assert client.get(group_url("margherita", "size")).status_code == 403
    assert (item("margherita").price, MenuItem.objects.count()) == (Decimal("12.50"), 4)
    # Outside the menu the back office stays closed to them, as before (tests/orders/test_admin.py).
    for refused in (ORDERS, reverse("admin:index"), reverse("admin:kitchen_worker_changelist")):
        response = client.get(refused)
        assert response.status_code == 302 and response["Location"].startswith(reverse("admin:login")), refused
    assert client.post(reverse("admin:logout")).status_code == 200  # and they may log out


def test_a_kitchen_account_logging_in_at_the_admin_lands_on_the_menu():
    user = staff_user(KITCHEN, "kit")
    user.set_password("kitchen-pass")
    user.save()

    # The form's own `next` when the login page was not reached from another page: the index.
    form = {"username": "kit", "password": "kitchen-pass", "next": reverse("admin:index")}
    response = Client().post(reverse("admin:login"), form)

    assert response.status_code == 302 and response["Location"] == reverse("admin:app_list", args=["menu"])


def test_front_of_house_sees_the_menu_and_86s_but_changes_no_price():
    client = logged_in(FRONT_OF_HOUSE, "frank")
    url = item_url("margherita")

    assert client.get(url).status_code == 200 and client.get(group_url("margherita", "size")).status_code == 200
    assert messages_of(run_action(client, "mark_sold_out", "cola")) == [
        ("success", "Marked sold out: 1 of 1 item(s) changed.")
    ]
    assert client.post(url, posted_back(client.get(url), price="1.00")).status_code == 403
    assert item("margherita").price == Decimal("12.50") and available("cola") == [False]


# --- a Manager edits everything -----------------------------------------------------------------


def test_a_manager_edits_an_item_its_groups_and_their_options():
    client = logged_in(MANAGER)
    url = item_url("margherita")
    etag = Client().get("/menu")["ETag"]

    edited = client.post(url, posted_back(client.get(url), price="13.90", **{"modifier_groups-1-name": "Toppings"}))

    assert edited.status_code == 302, errors_of(edited)
    assert item("margherita").price == Decimal("13.90")
    assert ModifierGroup.objects.get(item__sku="margherita", code="extras").name == "Toppings"
    menu = Client().get("/menu")
    assert menu["ETag"] != etag and menu.json()["categories"][0]["items"][0]["price"] == 13.9

    group = client.get(group_url("margherita", "extras"))
    added = client.post(
        group_url("margherita", "extras"),
        posted_back(group, **{"options-5-code": "rocket", "options-5-name": "Rocket", "options-5-price_delta": "0.80"}),
    )

    assert added.status_code == 302, errors_of(added)
    assert ModifierOption.objects.get(group__item__sku="margherita", code="rocket").price_delta == Decimal("0.80")
    add_category = client.post(
        reverse("admin:menu_category_add"), {"code": "salads", "name": "Salads", "display_order": "2"}
    )
    assert add_category.status_code == 302 and Category.objects.filter(code="salads").exists()
    delete = client.post(reverse("admin:menu_menuitem_delete", args=[item("cola").pk]), {"post": "yes"})
    assert delete.status_code == 302 and not MenuItem.objects.filter(sku="cola").exists()


# --- the checks an order relies on --------------------------------------------------------------


def test_an_option_code_another_group_of_the_item_uses_is_refused():
    client = logged_in(MANAGER)
    url = group_url("margherita", "extras")

    response = client.post(url, posted_back(client.get(url), **{"options-0-code": "large"}))

    assert errors_of(response) == [
        "'large' is an option of this item's group 'Size' already: option codes must be unique across an item's groups."
    ]
    assert ModifierOption.objects.filter(group__item__sku="margherita", code="large").count() == 1
    # The same code on another item is fine: codes are per item.
    cola = MenuItem.objects.get(sku="cola")
    other = ModifierGroup.objects.create(item=cola, code="size", name="Size")
    ModifierOption.objects.create(group=other, code="small", name="Small")
    extra = client.post(url, posted_back(client.get(url), **{"options-5-code": "small", "options-5-name": "S"}))
    assert errors_of(extra) == [
        "'small' is an option of this item's group 'Size' already: option codes must be unique across an item's groups."
    ]  # margherita's own Size has `small` too
    cola_url = reverse("admin:menu_modifiergroup_change", args=[other.pk])
    fine = client.post(
        cola_url, posted_back(client.get(cola_url), **{"options-1-code": "large", "options-1-name": "L"})
    )
    assert fine.status_code == 302, errors_of(fine)


def test_an_option_code_twice_in_one_group_is_refused():
    client = logged_in(MANAGER)
    url = group_url("margherita", "size")

    response = client.post(url, posted_back(client.get(url), **{"options-1-code": "medium"}))

    assert errors_of(response) == [
        "Please correct the duplicate data for code.",
        "Please correct the duplicate values below.",
    ]


@pytest.mark.parametrize(
    ("delta", "accepted"),
    [("-12.49", True), ("-12.50", False), ("-20.00", False)],
)
def test_a_negative_delta_keeps_the_item_price_at_least_one_cent(delta, accepted):
    client = logged_in(MANAGER)
    url = group_url("margherita", "size")

    response = client.post(url, posted_back(client.get(url), **{"options-2-price_delta": delta}))

    if accepted:
        assert response.status_code == 302, errors_of(response)
        assert ModifierOption.objects.get(group__item__sku="margherita", code="small").price_delta == Decimal(delta)
    else:
        assert errors_of(response) == ["The item costs 12.50: a delta below -12.49 would price it under 0.01."]
        assert ModifierOption.objects.get(group__item__sku="margherita", code="small").price_delta == Decimal("-2.00")


def test_an_item_price_under_what_its_options_take_off_is_refused():
    client = logged_in(MANAGER)
    url = item_url("margherita")

    refused = client.post(url, posted_back(client.get(url), price="2.00"))
    accepted = client.post(url, posted_back(client.get(url), price="2.01"))

    assert errors_of(refused) == ["An option of this item has a delta of -2.00: the price must be at least 2.01."]
    assert accepted.status_code == 302 and item("margherita").price == Decimal("2.01")


def test_a_group_minimum_beyond_its_options_or_a_maximum_under_it_is_refused():
    client = logged_in(MANAGER)
    url = item_url("margherita")

    too_many = client.post(url, posted_back(client.get(url), **{"modifier_groups-2-min_choices": "2"}))
    upside_down = client.post(url, posted_back(client.get(url), **{"modifier_groups-0-max_choices": "0"}))
    group = group_url("margherita", "size")
    emptied = client.post(group, posted_back(client.get(group), **{f"options-{n}-DELETE": "on" for n in range(3)}))

    assert errors_of(too_many) == ["The group has 1 option(s): an order could never choose 2."]
    assert errors_of(upside_down) == ["Must be at least the minimum (or empty: no limit)."]
    assert errors_of(emptied) == ["The group's minimum is 1: it needs at least 1 option(s)."]
    assert ModifierOption.objects.filter(group__item__sku="margherita").count() == 9
