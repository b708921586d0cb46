"""What a notification says: a template (a Manager's, in the admin) filled in with an order's
placeholders. Only the placeholders listed here may appear, and only as `{name}`: no attribute or
index (`{order_number.__class__}`), so a template can read nothing but these values."""

import string
from collections.abc import Mapping
from datetime import datetime

from django.conf import settings
from django.utils import timezone

from notifications.models import Channel, Event
from orders.capacity import kitchen_clock
from orders.models import Order, OrderType

PLACEHOLDERS = {
    "restaurant": "the restaurant's name (RESTAURANT_NAME)",
    "customer_name": "the name the guest gave",
    "order_number": "ORD_20261206_042",
    "short_number": "042, as the board shows it",
    "track_url": "the order's tracking page",
    "ready_at": "'at about 19:42' (the kitchen's estimate, else the time promised; "
    "'on Sat 12 Dec at 19:30' for another day), else 'soon'",
    "handover": "'ready for pick-up', 'on its way' (delivery) or 'being brought to table 7'",
    "table_number": "the table of a dine-in order, else empty",
}

# The wording a restaurant starts with (written into the templates table by `ensure_templates`).
DEFAULT_TEMPLATES: dict[tuple[str, str], tuple[str, str]] = {
    (Event.RECEIVED, Channel.SMS): (
        "",
        "{restaurant}: thanks {customer_name}, we have your order {short_number}; ready {ready_at}. {track_url}",
    ),
    (Event.RECEIVED, Channel.EMAIL): (
        "{restaurant}: we have your order {short_number}",
        "Hello {customer_name},\n\nthank you: we have your order {order_number}. It will be ready {ready_at}.\n"
        "Follow it here: {track_url}\n\n{restaurant}",
    ),
    (Event.READY, Channel.SMS): ("", "{restaurant}: your order {short_number} is {handover}. {track_url}"),
    (Event.READY, Channel.EMAIL): (
        "{restaurant}: your order {short_number} is {handover}",
        "Hello {customer_name},\n\nyour order {order_number} is {handover}.\n\n{track_url}\n\n{restaurant}",
    ),
    (Event.CANCELLED, Channel.SMS): (
        "",
        "{restaurant}: sorry {customer_name}, your order {short_number} was cancelled. Please ask us why.",
    ),
    (Event.CANCELLED, Channel.EMAIL): (
        "{restaurant}: your order {short_number} was cancelled",
        "Hello {customer_name},\n\nwe are sorry: your order {order_number} was cancelled. Please call or ask us "
        "why.\n\n{restaurant}",
    ),
}


class TemplateError(ValueError):
    """A template that names a placeholder we do not have, or is not a valid template."""


def placeholders_used(template: str) -> set[str]:
    """The placeholders `template` names; TemplateError for anything else in braces."""
    try:
        fields = [field for _, field, spec, conversion in string.Formatter().parse(template) if field is not None]
    except ValueError as exc:  # a lone { or }
        raise TemplateError(f"{exc} (write {{{{ and }}}} for a brace)") from None
    unknown = sorted({field for field in fields if field not in PLACEHOLDERS})
    if unknown:
        known = ", ".join(f"{{{name}}}" for name in PLACEHOLDERS)
        raise TemplateError(f"unknown placeholder {', '.join(f'{{{u}}}' for u in unknown)}; use {known}")
    return set(fields)


def render(template: str, values: Mapping[str, str]) -> str:
    placeholders_used(template)
    return string.Formatter().vformat(template, (), values)


def _ready_at_text(ready_at: datetime | None) -> str:
    """When the order will be ready, in the restaurant's time zone, with the day when it is not today."""
    if ready_at is None:
        return "soon"
    zone = kitchen_clock().zone
    local = ready_at.astimezone(zone)
    if local.date() == timezone.now().astimezone(zone).date():
        return f"at about {local:%H:%M}"
    return f"on {local:%a %d %b} at {local:%H:%M}"


def order_values(order: Order) -> dict[str, str]:
    """The placeholders' values for `order`."""
    if order.order_type == OrderType.DELIVERY:
        handover = "on its way"
    elif order.order_type == OrderType.DINE_IN:
        handover = f"being brought to table {order.table_number}"
    else:
        handover = "ready for pick-up"
    ready_at = order.estimated_completion or order.promised_at
    return {
        "restaurant": settings.RESTAURANT_NAME,
        "customer_name": order.customer_name,
        "order_number": order.number,
        "short_number": order.number.rpartition("_")[2],
        "track_url": f"{settings.PUBLIC_BASE_URL}/track/{order.number}/",
        "ready_at": _ready_at_text(ready_at),
        "handover": handover,
        "table_number": str(order.table_number or ""),
    }
