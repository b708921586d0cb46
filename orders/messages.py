"""The orders' side of the messaging contract (SPEC §5): the order message and the routing key it is
published with on the orders exchange (the kitchen's queues bind to it: kitchen/topology.py), and
the status update of every move. orders/services.py writes them to the outbox with their change."""

from typing import Any

from orders.models import Order, OrderItem


def order_routing_key(order_type: str, priority: int) -> str:
    """`kitchen.{order_type}.{priority}`: what `order_create` writes on the order message's outbox row."""
    return f"kitchen.{order_type}.{priority}"


EVERY_ORDER_MESSAGE = "kitchen.#"  # the binding key of every order message, whatever its type and priority


def held_order_routing_key(order_type: str, priority: int) -> str:
    """`scheduled.{order_type}.{priority}`: an order for later's announcement, published when it is
    taken (its kitchen message waits for its fire time). No kitchen queue binds it, so no cook gets it
    early; the screens (its "Later" strip) and the customer notifier (the guest's "received") do."""
    return f"scheduled.{order_type}.{priority}"


EVERY_HELD_ORDER = "scheduled.#"


def held_order_binding_key(order_type: str) -> str:
    return f"scheduled.{order_type}.*"


def order_binding_key(order_type: str) -> str:
    """The binding key that takes the order messages of `order_type` at every priority."""
    return f"kitchen.{order_type}.*"


def order_message(order: Order, items: list[OrderItem]) -> dict[str, Any]:
    """The order message of SPEC §5, plus per item its sku, station, modifier names and notes, and
    the order's notes (additions of the menu: a consumer that does not know them ignores them)."""
    return {
        "order_number": order.number,
        "customer_name": order.customer_name,
        "order_type": order.order_type,
        "table_number": order.table_number,
        "delivery_address": order.delivery_address,
        "items": [
            {
                "name": item.name,
                "quantity": item.quantity,
                "price": item.price,
                "sku": item.sku,
                "station": item.station or None,
                "modifiers": [modifier["name"] for modifier in item.modifiers],
                "notes": item.notes,
            }
            for item in items
        ],
        "total_amount": order.total_amount,
        "priority": order.priority,
        "notes": order.notes,
        "promised_at": order.promised_at,
        "fire_at": order.fire_at,  # None: cooked at once
    }


def status_update_message(*, order: Order, old_status: str, changed_by: str, at) -> dict[str, Any]:
    """The status update of SPEC §5."""
    return {
        "order_number": order.number,
        "old_status": old_status,
        "new_status": order.status,
        "changed_by": changed_by,
        "timestamp": at,
        "estimated_completion": order.estimated_completion,
    }
