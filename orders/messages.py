"""The order message's side of the messaging contract (SPEC §5): the routing key an order message is
published with on the orders exchange (its body is written by `order_create`). The kitchen's queues
bind to it (kitchen/topology.py)."""


def order_routing_key(order_type: str, priority: int) -> str:
    """`kitchen.{order_type}.{priority}`: what `order_create` writes on the order message's outbox row."""
    return f"kitchen.{order_type}.{priority}"


def order_binding_key(order_type: str) -> str:
    """The binding key that takes the order messages of `order_type` at every priority."""
    return f"kitchen.{order_type}.*"
