"""How a consumer reads a message body (restaurant/broker.py `json_object`): whatever the body, a
JSON object or a ValueError, never another exception."""

import json

import pytest

from restaurant import broker
from tests.amqp import NESTED_BODIES


def test_a_json_object_body_is_read():
    assert broker.json_object(b'{"order_number": "ORD_20241216_001", "n": [1, {"a": null}]}') == {
        "order_number": "ORD_20241216_001",
        "n": [1, {"a": None}],
    }


@pytest.mark.parametrize(
    "body",
    [*NESTED_BODIES, b"[" * 5000 + b"]" * 5000, b'{"a":' * 5000 + b"1" + b"}" * 5000],
    ids=["open-arrays", "open-objects", "closed-arrays", "closed-objects"],
)
def test_a_body_nested_beyond_the_parsers_depth_is_a_value_error_saying_not_json(body):
    with pytest.raises(RecursionError):
        json.loads(body)  # what the parser itself does with it

    with pytest.raises(ValueError, match="^body is not JSON: maximum recursion depth exceeded"):
        broker.json_object(body)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "body is not JSON: Expecting property name"),
        (b"\xff\xfe\x00", "body is not JSON: "),
        (b"", "body is not JSON: Expecting value"),
        (b"[1, 2]", "body is not a JSON object"),
        (b'"text"', "body is not a JSON object"),
    ],
    ids=["broken", "not-utf8", "empty", "array", "string"],
)
def test_any_other_body_that_is_not_a_json_object_is_a_value_error_naming_why(body, reason):
    with pytest.raises(ValueError) as raised:
        broker.json_object(body)
    assert str(raised.value).startswith(reason)
