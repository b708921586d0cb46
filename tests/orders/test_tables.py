"""The tables and their QR codes in the back office (issue 18): a Manager keeps them, prints a sheet
of codes that open the ordering page for each table, and rotates a table's key."""

import json
import re
from io import BytesIO
from urllib.parse import parse_qs, urlsplit

import pytest
import segno
from django.urls import reverse

from orders.models import Table
from tests.factories import logged_in

pytestmark = pytest.mark.django_db

SHEET = "/admin/orders/table/qr-sheet/"


def test_a_manager_adds_a_table_and_it_gets_a_key(settings):
    manager = logged_in("Manager")

    response = manager.post(reverse("admin:orders_table_add"), {"number": "12", "label": "Terrace", "active": "on"})

    assert response.status_code == 302, response.content
    table = Table.objects.get(number=12)
    assert len(table.key) >= 16 and table.label == "Terrace"


@pytest.mark.parametrize("number", ["0", "101", "x"])
def test_a_table_number_outside_spec_is_refused(number):
    response = logged_in("Manager").post(reverse("admin:orders_table_add"), {"number": number, "active": "on"})

    assert response.status_code == 200 and "number" in response.context["adminform"].form.errors
    assert not Table.objects.exists()


def test_the_sheet_has_a_code_per_active_table_linking_to_its_ordering_page(settings):
    settings.PUBLIC_BASE_URL = "https://order.example.com"
    tables = [Table.objects.create(number=n) for n in (3, 4)]
    Table.objects.create(number=5, active=False)

    page = logged_in("Manager").get(SHEET)

    assert page.status_code == 200
    html = page.content.decode()
    assert html.count('<figure class="code">') == 2 and html.count("<svg") - html.count("<symbol") >= 2
    assert "Table 5" not in html
    for table in tables:
        assert f"https://order.example.com/order/?table={table.number}&amp;key={table.key}" in html


def test_each_code_reads_back_as_its_tables_link(settings):
    """The SVG is a real QR code of the link: drawn again by segno from the same text, its modules match."""
    settings.PUBLIC_BASE_URL = "https://order.example.com"
    table = Table.objects.create(number=9)
    html = logged_in("Manager").get(SHEET).content.decode()
    [link] = re.findall(r'<p class="link">([^<]+)</p>', html)
    link = link.replace("&amp;", "&")

    query = parse_qs(urlsplit(link).query)
    assert query == {"table": ["9"], "key": [table.key]}
    drawn = BytesIO()
    segno.make(link, error="m").save(drawn, kind="svg", scale=5, border=2, xmldecl=False, svgns=False, nl=False)
    path = re.search(rb'd="([^"]+)"', drawn.getvalue())[1].decode()
    assert path in html


def test_rotating_a_key_stops_its_old_code_from_ordering(client):
    table = Table.objects.create(number=7)
    old_key = table.key

    logged_in("Manager").post(
        reverse("admin:orders_table_changelist"), {"action": "rotate_keys", "_selected_action": [table.pk]}
    )

    table.refresh_from_db()
    assert table.key != old_key
    body = {
        "customer_name": "Jane",
        "order_type": "dine_in",
        "table_number": 7,
        "table_key": old_key,
        "items": [{"name": "Soup", "quantity": 1, "price": 5}],
    }
    refused = client.post("/orders", json.dumps(body), "application/json")
    assert refused.status_code == 400 and "table_key" in refused.json()["errors"]
    body["table_key"] = table.key
    assert client.post("/orders", json.dumps(body), "application/json").status_code == 201


@pytest.mark.parametrize("role", ["Front of house", "Kitchen"])
def test_only_a_manager_prints_the_sheet(role):
    Table.objects.create(number=3)

    assert logged_in(role).get(SHEET).status_code in (302, 403)
