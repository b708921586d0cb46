import json

import requests

from restaurant import broker
from tests.amqp import bind_probe_queue, get_messages
from tests.support import order_payload


def test_order_posted_to_live_server_is_published_by_relay(web_url, relay, amqp_channel):
    probe = bind_probe_queue(amqp_channel, broker.ORDERS_EXCHANGE, "kitchen.#")
    response = requests.post(f"{web_url}/orders", json=order_payload(), headers={"X-Request-ID": "smoke-1"}, timeout=5)
    assert response.status_code == 201, response.text
    [(method, properties, body)] = get_messages(amqp_channel, probe, 1)
    assert method.routing_key == "kitchen.takeout.1"
    assert json.loads(body)["order_number"] == response.json()["order_number"]
    assert properties.headers["request_id"] == "smoke-1"
