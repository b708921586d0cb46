"""Back-office personas (the role groups of orders/roles.py) and helpers for admin tests."""

from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.messages import get_messages
from django.test import Client

from orders.models import Order
from orders.roles import FRONT_OF_HOUSE, KITCHEN, MANAGER, ensure_roles
from orders.services import order_create
from orders.validation import validate_order
from tests.support import order_payload

__all__ = ["FRONT_OF_HOUSE", "KITCHEN", "MANAGER", "logged_in", "make_order", "messages_of", "staff_user"]


def staff_user(role: str | None, username: str | None = None, *, is_staff: bool = True):
    """A staff account in `role`'s group. The groups come from a data migration, but a transactional
    test empties every table when it ends, so they are made again here (ensure_roles only adds)."""
    ensure_roles()
    name = username or (role or "nobody").lower().replace(" ", "_")
    user = get_user_model().objects.create_user(username=name, password="not-used", is_staff=is_staff)
    if role:
        user.groups.add(Group.objects.get(name=role))
    return user


def logged_in(role: str | None, username: str | None = None) -> Client:
    client = Client()
    client.force_login(staff_user(role, username))
    return client


def make_order(price: str = "15.99", quantity: int = 1, **overrides) -> Order:
    """An order placed as POST /orders places it, of one item."""
    items = [{"name": "Margherita Pizza", "quantity": quantity, "price": Decimal(price)}]
    return order_create(data=validate_order(order_payload(items=items, **overrides)))


def messages_of(response) -> list[tuple[str, str]]:
    """The (level, text) of the messages a response left for the next page."""
    return [(message.level_tag, str(message)) for message in get_messages(response.wsgi_request)]
