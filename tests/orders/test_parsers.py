"""POST /orders reads its body with orders/parsers.py: the cases where DRF alone would answer
differently (no Content-Type, no body, a media type that only DRF's matching accepts), and a chunked
body on the real web process."""

import json

import pytest
import requests

from orders.apis import OrderCreateApi
from orders.models import Order
from orders.parsers import OrderJSONParser
from tests.support import order_payload

pytestmark = pytest.mark.django_db
ORDER = json.dumps(order_payload()).encode()


def post(client, body: bytes, **meta: str):
    return client.generic("POST", "/orders", body, **meta)


def test_the_view_reads_its_body_with_the_order_parser():
    assert OrderCreateApi.parser_classes == [OrderJSONParser]


MISSING = "must be sent with the header Content-Type: application/json"
NO_CONTENT_TYPE = {"code": "unsupported_media_type", "errors": {"body": [MISSING]}}


def test_body_sent_without_content_type_is_refused_with_415_naming_the_header(client):
    # A page of any site can POST without a CORS preflight when it sends no type (or text/plain):
    # such a body must not place an order from its visitor's browser.
    response = post(client, ORDER, CONTENT_TYPE="")

    assert response.status_code == 415
    assert response.json() == NO_CONTENT_TYPE
    assert not Order.objects.exists()


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"])
def test_bodies_a_cross_site_form_can_send_are_refused(client, content_type):
    response = post(client, ORDER, CONTENT_TYPE=content_type)

    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"
    assert not Order.objects.exists()


@pytest.mark.parametrize(
    ("content_type", "status", "expected"),
    [
        ("application/json", 400, "must not be empty"),
        ("text/plain", 415, "must be sent as application/json"),
        ("", 415, MISSING),
    ],
)
def test_request_without_a_body_is_refused_as_empty_or_for_its_media_type(client, content_type, status, expected):
    response = post(client, b"", CONTENT_TYPE=content_type)

    assert response.status_code == status
    assert response.json()["errors"] == {"body": [expected]}


@pytest.mark.parametrize("content_type", ["application/*", "*/*", "application/vnd.api+json"])
def test_media_types_that_merely_match_json_are_refused_with_the_api_415(client, content_type):
    response = post(client, ORDER, CONTENT_TYPE=content_type)

    assert response.status_code == 415
    assert response.json() == {
        "code": "unsupported_media_type",
        "errors": {"body": ["must be sent as application/json"]},
    }


# --- a chunked body on the web process (granian serving WSGI) ------------------------------------


def chunked_post(url: str, chunks: list[bytes]) -> requests.Response:
    """POST /orders with `Transfer-Encoding: chunked` (requests sends a generator's pieces so)."""
    headers = {"Content-Type": "application/json"}
    return requests.post(f"{url}/orders", data=iter(chunks), headers=headers, timeout=10)


def test_a_chunked_order_is_taken_by_the_web_process(web_url):
    response = chunked_post(web_url, [ORDER[:40], ORDER[40:]])

    assert response.status_code == 201, response.text
    assert Order.objects.filter(number=response.json()["order_number"]).exists()


def test_a_chunked_body_over_the_limit_is_refused_with_413_by_the_web_process(web_url):
    body = json.dumps(order_payload(notes="x" * 70 * 1024)).encode()

    response = chunked_post(web_url, [body[i : i + 8192] for i in range(0, len(body), 8192)])

    assert response.status_code == 413, response.text
    assert response.json()["code"] == "body_too_large"
    assert not Order.objects.exists()
