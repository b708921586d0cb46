"""GET /menu (also /api/menu): the catalog in display order with prices as JSON numbers and sold-out
items listed, its ETag and 304, a new ETag and content after any change (the admin, plain SQL), and
two web processes serving a change made through one of them, or in the database, within a second."""

from decimal import Decimal

import pytest
import requests
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db import connection
from django.test import Client
from django.urls import reverse

from menu.models import Category, MenuItem
from tests.factories import MANAGER, load_test_menu, logged_in, posted_back, staff_user
from tests.support import start_web, wait_for

PREFIXES = [pytest.param("", id="root"), pytest.param("/api", id="api")]


def option(code: str, name: str, delta: float, available: bool = True) -> dict:
    return {"code": code, "name": name, "price_delta": delta, "available": available}


MARGHERITA = {
    "sku": "margherita",
    "name": "Margherita Pizza",
    "description": "Tomato, mozzarella, basil",
    "price": 12.5,
    "station": "oven",
    "available": True,
    "modifier_groups": [
        {
            "code": "size",
            "name": "Size",
            "min": 1,
            "max": 1,
            "options": [option("medium", "Medium", 0.0), option("large", "Large", 3.0), option("small", "Small", -2.0)],
        },
        {
            "code": "extras",
            "name": "Extras",
            "min": 0,
            "max": 3,
            "options": [
                option("extra_cheese", "Extra cheese", 1.5),
                option("mushrooms", "Mushrooms", 1.2),
                option("olives", "Olives", 1.0),
                option("basil", "Basil", 0.5),
                option("chili", "Fresh chili", 0.8, available=False),
            ],
        },
        {"code": "remove", "name": "Remove", "min": 0, "max": None, "options": [option("no_onions", "No onions", 0.0)]},
    ],
}
BIANCA = {
    "sku": "deltas",
    "name": "Pizza bianca",
    "description": "",
    "price": 0.1,
    "station": "oven",
    "available": True,
    "modifier_groups": [
        {
            "code": "toppings",
            "name": "Toppings",
            "min": 0,
            "max": 2,
            "options": [option("salt", "Sea salt", 0.2), option("rosemary", "Rosemary", 0.1)],
        }
    ],
}
COLA = {"sku": "cola", "name": "Cola", "description": "", "price": 3.0, "station": "bar", "available": True}
COLA["modifier_groups"] = [
    {"code": "ice", "name": "Ice", "min": 0, "max": 1, "options": [option("no_ice", "No ice", 0.0)]}
]
TIRAMISU = {
    "sku": "tiramisu",
    "name": "Tiramisu",
    "description": "",
    "price": 6.5,
    "station": "bar",
    "available": False,
    "modifier_groups": [],
}


def items_of(body: dict) -> dict[str, dict]:
    return {item["sku"]: item for category in body["categories"] for item in category["items"]}


# --- in process ---------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("prefix", PREFIXES)
def test_the_menu_in_display_order_with_prices_as_numbers_and_sold_out_items(client, prefix):
    load_test_menu()

    response = client.get(f"{prefix}/menu")

    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    assert response.json() == {
        "categories": [
            {"code": "pizza", "name": "Pizza", "items": [MARGHERITA, BIANCA]},
            {"code": "drinks", "name": "Drinks", "items": [COLA, TIRAMISU]},
        ]
    }
    assert b'"price":12.5' in response.content  # a JSON number, not "12.50"


@pytest.mark.django_db
def test_display_order_not_file_order_decides(client):
    load_test_menu()
    Category.objects.filter(code="pizza").update(display_order=5)
    MenuItem.objects.filter(sku="margherita").update(display_order=3)

    body = client.get("/menu").json()

    assert [category["code"] for category in body["categories"]] == ["drinks", "pizza"]
    assert [item["sku"] for item in body["categories"][1]["items"]] == ["deltas", "margherita"]


@pytest.mark.django_db
def test_etag_and_cache_control_and_304_while_nothing_changed(client):
    load_test_menu()

    first = client.get("/menu")
    etag = first["ETag"]
    unchanged = client.get("/menu", headers={"If-None-Match": etag})
    weak = client.get("/menu", headers={"If-None-Match": f'"other", W/{etag}'})
    stale = client.get("/menu", headers={"If-None-Match": '"menu-0"'})

    assert etag.startswith('"') and etag.endswith('"') and first["Cache-Control"] == "public, no-cache"
    assert (unchanged.status_code, unchanged.content, unchanged["ETag"]) == (304, b"", etag)
    assert unchanged["Cache-Control"] == "public, no-cache"
    assert weak.status_code == 304
    assert stale.status_code == 200 and stale.json() == first.json()


def sold_out_by_the_admin(admin: Client) -> None:
    pk = MenuItem.objects.get(sku="margherita").pk
    response = admin.post(
        reverse("admin:menu_menuitem_changelist"), {"action": "mark_sold_out", ACTION_CHECKBOX_NAME: [pk]}
    )
    assert response.status_code == 302


def repriced_by_the_admin(admin: Client) -> None:
    url = reverse("admin:menu_menuitem_change", args=[MenuItem.objects.get(sku="margherita").pk])
    assert admin.post(url, posted_back(admin.get(url), price="13.00")).status_code == 302


def repriced_in_sql(admin: Client) -> None:
    with connection.cursor() as cursor:
        cursor.execute("UPDATE menu_items SET price = 13.00 WHERE sku = 'margherita'")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("change", "field", "value"),
    [
        (sold_out_by_the_admin, "available", False),
        (repriced_by_the_admin, "price", 13.0),
        (repriced_in_sql, "price", 13.0),
    ],
    ids=["admin action", "admin change form", "raw SQL"],
)
def test_any_change_changes_the_etag_and_the_content(change, field, value):
    load_test_menu()
    public, admin = Client(), logged_in(MANAGER)
    before = public.get("/menu")

    change(admin)

    after = public.get("/menu", headers={"If-None-Match": before["ETag"]})
    assert after.status_code == 200 and after["ETag"] != before["ETag"]
    assert items_of(before.json())["margherita"][field] != value
    assert items_of(after.json())["margherita"][field] == value
    assert public.get("/menu", headers={"If-None-Match": after["ETag"]}).status_code == 304


# --- two web processes --------------------------------------------------------------------------


def served(base_url: str) -> tuple[str, dict[str, dict]]:
    response = requests.get(f"{base_url}/menu", timeout=5)
    assert response.status_code == 200, response.text
    return response.headers["ETag"], items_of(response.json())


def admin_session(base_url: str, username: str, password: str) -> requests.Session:
    """A browser's session on a live web process's admin, logged in."""
    session = requests.Session()
    session.get(f"{base_url}/admin/login/", timeout=5)
    form = {"username": username, "password": password, "next": "/admin/"}
    login = session.post(f"{base_url}/admin/login/", data={**form, **csrf(session)}, timeout=5, allow_redirects=False)
    assert login.status_code == 302, login.text
    return session


def csrf(session: requests.Session) -> dict[str, str]:
    return {"csrfmiddlewaretoken": session.cookies["csrftoken"]}


def test_two_web_processes_serve_a_change_made_through_either_or_in_the_database_within_a_second(processes):
    load_test_menu()
    manager = staff_user(MANAGER, "mgr")
    manager.set_password("manager-pass")
    manager.save()
    web_a, web_b = start_web(processes, name="web-a"), start_web(processes, name="web-b")
    etag, items = served(web_b)
    assert served(web_a)[0] == etag and items["cola"]["price"] == 3.0

    # A price edited in process A's admin (the form as the page renders it, posted to A).
    cola = MenuItem.objects.get(sku="cola")
    url = reverse("admin:menu_menuitem_change", args=[cola.pk])
    admin = logged_in(MANAGER, "page-renderer")
    session = admin_session(web_a, "mgr", "manager-pass")
    form = {**posted_back(admin.get(url), price="3.10"), **csrf(session)}
    saved = session.post(f"{web_a}{url}", data=form, timeout=5, allow_redirects=False)
    assert saved.status_code == 302, saved.text
    assert MenuItem.objects.get(sku="cola").price == Decimal("3.10")

    def b_serves(price: float, old_etag: str):
        new_etag, items = served(web_b)
        return new_etag != old_etag and items["cola"]["price"] == price and new_etag

    etag = wait_for(lambda: b_serves(3.1, etag), timeout=1.0, message="web-b to serve the new price")

    # A price changed in the database by hand: both serve it.
    with connection.cursor() as cursor:
        cursor.execute("UPDATE menu_items SET price = 3.30 WHERE sku = 'cola'")
    wait_for(lambda: b_serves(3.3, etag), timeout=1.0, message="web-b to serve the SQL price")
    wait_for(lambda: served(web_a)[1]["cola"]["price"] == 3.3, timeout=1.0, message="web-a to serve the SQL price")
