"""What an order looks like on the wire (SPEC §3 response, SPEC §5 order message), end to end:
live web server, real outbox relay, real RabbitMQ."""

import json
from decimal import Decimal

from kitchen.topology import kitchen_queue
from orders.models import OrderType
from restaurant import broker
from tests.amqp import ORDER_MESSAGE_KEYS, bind_probe_queue, get_messages
from tests.factories import load_test_menu, order_payload, post_order
from tests.support import wait_for

# 2 × 45.50 + 1 × 12.99 = 103.99: above 100, so priority 10.
BIG_DINE_IN = order_payload(
    customer_name="Алия O'Brien",
    order_type="dine_in",
    table_number=10,
    items=[
        {"name": "Ribeye Steak", "quantity": 2, "price": 45.50},
        {"name": "House Red", "quantity": 1, "price": 12.99},
    ],
)


def is_json_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def test_order_message_has_spec_routing_properties_and_json_types(web_url, relay, amqp_channel):
    probe = bind_probe_queue(amqp_channel, broker.ORDERS_EXCHANGE)

    response = post_order(web_url, BIG_DINE_IN, expect=201, **{"X-Request-ID": "test-req-42"})

    [(method, properties, body)] = get_messages(amqp_channel, probe, 1)
    assert method.exchange == "orders_topic"
    assert method.routing_key == "kitchen.dine_in.10"
    assert properties.delivery_mode == 2
    assert properties.priority == 10
    assert properties.content_type == "application/json"
    assert properties.headers["request_id"] == "test-req-42"

    message = json.loads(body)
    assert set(message) == ORDER_MESSAGE_KEYS
    assert message["order_number"] == response.json()["order_number"]
    assert message["customer_name"] == "Алия O'Brien"
    assert message["order_type"] == "dine_in"
    assert type(message["table_number"]) is int and message["table_number"] == 10
    assert message["delivery_address"] is None
    assert type(message["priority"]) is int and message["priority"] == 10
    assert is_json_number(message["total_amount"])
    for item in message["items"]:
        assert set(item) == {"name", "quantity", "price", "sku", "station", "modifiers", "notes"}
        assert type(item["quantity"]) is int
        assert is_json_number(item["price"])

    # The digits on the wire are the exact amounts.
    exact = json.loads(body, parse_float=Decimal)
    assert exact["total_amount"] == Decimal("103.99")
    assert [(i["name"], i["quantity"], i["price"]) for i in exact["items"]] == [
        ("Ribeye Steak", 2, Decimal("45.50")),
        ("House Red", 1, Decimal("12.99")),
    ]


def test_order_response_has_location_amount_as_number_and_echoed_request_id(web_url):
    response = post_order(web_url, BIG_DINE_IN, expect=201, **{"X-Request-ID": "test-req-42"})

    body = response.json()
    assert set(body) == {"order_number", "status", "total_amount", "promised_at"}
    assert body["status"] == "received"
    assert is_json_number(body["total_amount"])
    assert json.loads(response.content, parse_float=Decimal)["total_amount"] == Decimal("103.99")
    assert response.headers["Location"] == f"/orders/{body['order_number']}/status"
    assert response.headers["X-Request-ID"] == "test-req-42"


def test_order_without_request_id_gets_a_generated_one_that_travels_with_its_message(web_url, relay, amqp_channel):
    probe = bind_probe_queue(amqp_channel, broker.ORDERS_EXCHANGE)

    first = post_order(web_url, order_payload(), expect=201)
    second = post_order(web_url, order_payload(), expect=201)

    generated = [first.headers["X-Request-ID"], second.headers["X-Request-ID"]]
    assert all(generated) and generated[0] != generated[1]
    messages = get_messages(amqp_channel, probe, 2)
    carried = {json.loads(body)["order_number"]: properties.headers["request_id"] for _, properties, body in messages}
    assert carried == {
        first.json()["order_number"]: generated[0],
        second.json()["order_number"]: generated[1],
    }


def test_orders_land_in_the_kitchen_queue_of_their_type_with_their_priority(web_url, relay, amqp_channel):
    dine_in = post_order(web_url, BIG_DINE_IN, expect=201).json()["order_number"]
    takeout = post_order(web_url, order_payload(), expect=201).json()["order_number"]
    delivery = post_order(
        web_url,
        order_payload(
            order_type="delivery",
            delivery_address="1 Main Street, Springfield",
            items=[{"name": "Family Pizza", "quantity": 3, "price": 20}],
        ),
        expect=201,
    ).json()["order_number"]

    expected = {"dine_in": (dine_in, 10), "takeout": (takeout, 1), "delivery": (delivery, 5)}
    for order_type, (number, priority) in expected.items():
        [(method, properties, body)] = get_messages(amqp_channel, kitchen_queue(order_type), 1)
        assert json.loads(body)["order_number"] == number
        assert method.routing_key == f"kitchen.{order_type}.{priority}"
        assert properties.priority == priority
    for order_type in OrderType.values:
        queue = amqp_channel.queue_declare(kitchen_queue(order_type), passive=True)
        assert queue.method.message_count == 0, f"{order_type} queue holds another order's message"


def test_higher_priority_order_waiting_in_kitchen_queue_is_delivered_first(web_url, relay, amqp_channel):
    queue = kitchen_queue("dine_in")
    small = post_order(web_url, order_payload(order_type="dine_in", table_number=3), expect=201).json()["order_number"]
    big = post_order(web_url, BIG_DINE_IN, expect=201).json()["order_number"]

    def both_queued() -> bool:
        return amqp_channel.queue_declare(queue, passive=True).method.message_count == 2

    wait_for(both_queued, message="both dine_in orders in the kitchen queue")
    delivered = [json.loads(body)["order_number"] for _, _, body in get_messages(amqp_channel, queue, 2)]
    assert delivered == [big, small]


def test_a_menu_order_message_on_the_wire_carries_sku_station_modifiers_and_notes(web_url, relay, amqp_channel):
    load_test_menu()
    probe = bind_probe_queue(amqp_channel, broker.ORDERS_EXCHANGE)
    menu_line = {"sku": "margherita", "quantity": 1, "modifiers": ["large", "no_onions"], "notes": "allergy: onions"}
    free_line = {"name": "Candle", "quantity": 1, "price": 0.5}

    post_order(web_url, order_payload(items=[menu_line, free_line], notes="for Anna"), expect=201)

    [(method, properties, body)] = get_messages(amqp_channel, probe, 1)
    message = json.loads(body, parse_float=Decimal)
    assert message["items"] == [
        {
            "name": "Margherita Pizza",
            "quantity": 1,
            "price": Decimal("15.50"),
            "sku": "margherita",
            "station": "oven",
            "modifiers": ["Large", "No onions"],
            "notes": "allergy: onions",
        },
        {
            "name": "Candle",
            "quantity": 1,
            "price": Decimal("0.50"),
            "sku": None,
            "station": None,
            "modifiers": [],
            "notes": "",
        },
    ]
    assert message["notes"] == "for Anna" and message["total_amount"] == Decimal("16.00")
