"""The transactional outbox (SPEC §5): the only way anything reaches RabbitMQ.

`outbox_enqueue` adds a row inside the caller's transaction; `run_outbox_relay` publishes it
after commit (see restaurant/relay.py).
"""

from typing import Any

from django.db import connection

from restaurant.broker import dumps
from restaurant.logging import request_id_var
from restaurant.models import OutboxMessage


def outbox_enqueue(
    *, exchange: str, routing_key: str, body: dict[str, Any], priority: int | None = None
) -> OutboxMessage:
    if not connection.in_atomic_block:
        raise RuntimeError("outbox_enqueue must run inside the transaction of the change it announces")
    row = outbox_row(exchange=exchange, routing_key=routing_key, body=dumps(body), priority=priority)
    row.save(force_insert=True)
    return row


# A row's header: the message is for whoever listens; the relay marks it published when no queue
# takes it, as it does a fanout's (any other message the broker returns is an error it retries).
OPTIONAL = "optional"


def outbox_row(*, optional: bool = False, **fields: Any) -> OutboxMessage:
    """An unsaved outbox row carrying the request's ID (for statements that insert it themselves)."""
    request_id = request_id_var.get()
    headers = {"request_id": request_id} if request_id else {}
    if optional:
        headers[OPTIONAL] = True
    return OutboxMessage(headers=headers, **fields)
