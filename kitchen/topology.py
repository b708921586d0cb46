"""The kitchen's queues (SPEC §5): one per order type, bound to the orders exchange for the order
messages of its type (orders/messages.py), with priorities, and dead-lettered to the dead-letter queue.

restaurant/broker.py's `declare_topology` declares them after the exchanges, through the
`BROKER_TOPOLOGY` setting: every process that publishes or consumes order messages declares them.
"""

from typing import Any

from orders.messages import order_binding_key
from orders.models import OrderType
from restaurant.broker import DEAD_LETTER_QUEUE, ORDERS_EXCHANGE

MAX_PRIORITY = 10


def kitchen_queue(order_type: str) -> str:
    return f"kitchen_{order_type}_queue"


def kitchen_queue_arguments() -> dict[str, Any]:
    return {
        "x-max-priority": MAX_PRIORITY,
        "x-dead-letter-exchange": "",
        "x-dead-letter-routing-key": DEAD_LETTER_QUEUE,
    }


def declare_kitchen_queues(channel) -> None:
    """A queue per order type, bound to that type's order messages (inside the caller's
    `broker.topology_checked()`: arguments that clash raise TopologyMismatch)."""
    for order_type in OrderType.values:
        queue = kitchen_queue(order_type)
        channel.queue_declare(queue, durable=True, arguments=kitchen_queue_arguments())
        channel.queue_bind(queue, ORDERS_EXCHANGE, routing_key=order_binding_key(order_type))
