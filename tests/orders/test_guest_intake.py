"""What POST /orders takes from the guest channel (issue 18): a contact to tell, a table's QR key, and
an Idempotency-Key that makes a double tap one order."""

import json
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from orders.models import Order, Table
from restaurant.models import OutboxMessage
from tests.factories import get_json, logged_in, post, stored_rows
from tests.support import order_payload

pytestmark = pytest.mark.django_db

NOTHING_STORED = {"orders": 0, "order_items": 0, "order_status_log": 0, "outbox": 0, "daily_counter": 0}


def refused(client, body, **headers) -> dict:
    response = client.post("/orders", data=json.dumps(body), content_type="application/json", headers=headers)
    assert response.status_code == 400, response.content
    assert stored_rows() == NOTHING_STORED
    return response.json()["errors"]


def dine_in(**fields) -> dict:
    return order_payload(order_type="dine_in", table_number=7, **fields)


# --- contact --------------------------------------------------------------------------------------


def test_a_contact_is_kept_with_the_phone_in_e164_and_shown_to_staff(client):
    body = order_payload(contact={"phone": "+1 (555) 555-0123", "email": " guest@example.com "})

    number = post(client, body).json()["order_number"]

    order = Order.objects.get(number=number)
    assert (order.contact_phone, order.contact_email) == ("+15555550123", "guest@example.com")
    detail = get_json(logged_in("Manager"), f"/orders/{number}")
    assert (detail["contact_phone"], detail["contact_email"]) == ("+15555550123", "guest@example.com")


@pytest.mark.parametrize(
    "contact, fields",
    [
        ({"phone": "555-0123"}, {"contact.phone"}),  # no country
        ({"phone": "+1 555"}, {"contact.phone"}),  # too short for its country
        ({"phone": "+39 333 123 4567 8901 2345"}, {"contact.phone"}),
        ({"phone": 15555550123}, {"contact.phone"}),
        ({"email": "guest@"}, {"contact.email"}),
        ({"email": "guest example.com"}, {"contact.email"}),
        ({"phone": "nope", "email": "nope"}, {"contact.phone", "contact.email"}),
        ({"mobile": "+15555550123"}, {"contact.mobile"}),
        ({}, {"contact"}),
        ({"phone": "", "email": ""}, {"contact.phone", "contact.email"}),
        ("+15555550123", {"contact"}),
    ],
)
def test_a_bad_contact_is_refused_naming_the_field_and_nothing_is_written(client, contact, fields):
    assert set(refused(client, order_payload(contact=contact))) == fields


def test_a_national_number_is_read_in_the_restaurants_country_when_one_is_set(client, settings):
    settings.PHONE_REGION = "IT"

    number = post(client, order_payload(contact={"phone": "333 123 4567"})).json()["order_number"]

    assert Order.objects.get(number=number).contact_phone == "+393331234567"


def test_the_contact_is_neither_in_the_order_message_nor_in_the_intake_log(client, caplog):
    caplog.set_level("DEBUG")
    post(client, order_payload(contact={"phone": "+15555550123", "email": "guest@example.com"}))

    [message] = OutboxMessage.objects.values_list("body", flat=True)
    for secret in ("5555550123", "guest@example.com"):
        assert secret not in message
        assert secret not in caplog.text


def test_a_refused_contact_is_not_echoed_in_the_log(client, caplog):
    caplog.set_level("DEBUG")
    refused(client, order_payload(contact={"phone": "+1 555 555 0123 999 12345", "email": "guest@@example.com"}))

    assert "555 0123" not in caplog.text and "guest@@example.com" not in caplog.text


# --- the table's QR key ---------------------------------------------------------------------------


def test_the_tables_current_key_places_a_dine_in_order_for_it(client):
    table = Table.objects.create(number=7)

    response = post(client, dine_in(table_key=table.key))

    assert response.status_code == 201, response.content
    assert Order.objects.get(number=response.json()["order_number"]).table_number == 7


@pytest.mark.parametrize("case", ["wrong key", "another table's key", "old key", "inactive table", "no such table"])
def test_a_key_that_is_not_the_tables_current_one_is_refused(client, case):
    table = Table.objects.create(number=7)
    other = Table.objects.create(number=8)
    key = table.key
    if case == "wrong key":
        key = "x" * len(table.key)
    elif case == "another table's key":
        key = other.key
    elif case == "old key":
        Table.objects.filter(pk=table.pk).update(key="rotated-key")
    elif case == "inactive table":
        Table.objects.filter(pk=table.pk).update(active=False)
    else:
        table.delete()

    assert set(refused(client, dine_in(table_key=key))) == {"table_key"}


def test_staff_and_api_clients_still_send_a_plain_table_number(client):
    Table.objects.create(number=7)

    assert post(client, dine_in()).status_code == 201


def test_a_table_key_belongs_to_dine_in_orders_only(client):
    assert set(refused(client, order_payload(table_key="abcdefgh"))) == {"table_key"}


# --- Idempotency-Key ------------------------------------------------------------------------------


def test_a_repeated_idempotency_key_makes_no_second_order_and_names_the_first(client):
    key = "3f2c1a9e-7b1d-4c55-9f0e-2a4b6c8d0e1f"
    first = client.post("/orders", json.dumps(order_payload()), "application/json", headers={"Idempotency-Key": key})
    rows = stored_rows()

    again = client.post("/orders", json.dumps(order_payload()), "application/json", headers={"Idempotency-Key": key})

    assert first.status_code == 201
    assert again.status_code == 409, again.content
    assert again.json()["code"] == "duplicate_request"
    assert again.json()["order_number"] == first.json()["order_number"]
    assert set(again.json()["errors"]) == {"Idempotency-Key"}
    assert stored_rows() == rows  # not even the day's counter moved


def test_different_keys_make_different_orders(client):
    for key in ("key-one-123", "key-two-456"):
        assert post_with_key(client, key).status_code == 201
    assert Order.objects.count() == 2


def post_with_key(client, key):
    return client.post("/orders", json.dumps(order_payload()), "application/json", headers={"Idempotency-Key": key})


@pytest.mark.parametrize("key", ["short", "x" * 65, "has space in it", "ünïcödé-key"])
def test_a_malformed_idempotency_key_is_refused(client, key):
    response = post_with_key(client, key)

    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"Idempotency-Key"}
    assert stored_rows() == NOTHING_STORED


@pytest.mark.django_db(transaction=True)
def test_racing_requests_with_one_key_make_one_order(web_url):
    def place(_):
        body = order_payload()
        return requests.post(f"{web_url}/orders", json=body, headers={"Idempotency-Key": "tap-tap-tap-1"}, timeout=10)

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(place, range(8)))

    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [201] + [409] * 7, [answer.text for answer in answers]
    numbers = {answer.json()["order_number"] for answer in answers}
    assert len(numbers) == 1
    assert Order.objects.count() == 1
