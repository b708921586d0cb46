"""POST /orders reads its body with orders/parsers.py: the cases where DRF alone would answer
differently (no Content-Type, no body, a media type that only DRF's matching accepts)."""

import json

import pytest

from orders.apis import OrderCreateApi
from orders.parsers import OrderJSONParser
from tests.support import order_payload

pytestmark = pytest.mark.django_db
ORDER = json.dumps(order_payload()).encode()


def post(client, body: bytes, **meta: str):
    return client.generic("POST", "/orders", body, **meta)


def test_the_view_reads_its_body_with_the_order_parser():
    assert OrderCreateApi.parser_classes == [OrderJSONParser]


def test_body_sent_without_content_type_is_read_as_json(client):
    assert post(client, ORDER, CONTENT_TYPE="").status_code == 201


@pytest.mark.parametrize(("content_type", "status"), [("application/json", 400), ("text/plain", 415), ("", 400)])
def test_request_without_a_body_is_refused_as_empty_or_for_its_media_type(client, content_type, status):
    response = post(client, b"", CONTENT_TYPE=content_type)

    assert response.status_code == status
    expected = "must not be empty" if status == 400 else "must be sent as application/json"
    assert response.json()["errors"] == {"body": [expected]}


@pytest.mark.parametrize("content_type", ["application/*", "*/*", "application/vnd.api+json"])
def test_media_types_that_merely_match_json_are_refused_with_the_api_415(client, content_type):
    response = post(client, ORDER, CONTENT_TYPE=content_type)

    assert response.status_code == 415
    assert response.json() == {
        "code": "unsupported_media_type",
        "errors": {"body": ["must be sent as application/json"]},
    }
