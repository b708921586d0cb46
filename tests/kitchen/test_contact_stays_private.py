"""A guest's phone and email never leave through a public surface (issue 18): not the tracking API's
status and history, not /track/, not the board, not any socket message (the order's own, the board's,
and the kitchen's tickets too), from the order's making to its completion, through the real relay and
bridge."""

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from orders.services import order_mark_completed, order_mark_ready, order_start_cooking
from restaurant.asgi import application
from restaurant.roles import KITCHEN
from tests.factories import create_order, staff_user
from tests.support import connect, kitchen_socket, run, session_headers

pytestmark = pytest.mark.usefixtures("fresh_layer")  # tests/kitchen/conftest.py

PHONE, EMAIL = "+15555550123", "guest.secret@example.com"
SECRETS = ("5555550123", "555 0123", "guest.secret", EMAIL)


def assert_private(text: str, where: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"{secret!r} in {where}"


def test_the_contact_is_on_no_public_surface_nor_any_socket_message(relay):
    cook_headers = session_headers(staff_user(KITCHEN, "cook", is_staff=False))
    order = create_order(contact={"phone": PHONE, "email": EMAIL}, order_type="dine_in", table_number=4)
    heard: list[str] = []

    async def body():
        sockets = [
            kitchen_socket(cook_headers),
            WebsocketCommunicator(application, f"/ws/orders/{order.number}/", headers=session_headers(None)),
            WebsocketCommunicator(application, "/ws/board/?types=dine_in", headers=session_headers(None)),
        ]
        for socket in sockets:
            await connect(socket)
        for move in (order_start_cooking, order_mark_ready, order_mark_completed):
            await database_sync_to_async(move)(number=order.number, changed_by="chef_mario")
        for socket in sockets:  # all it hears until it has been quiet for 3 s
            while not await socket.receive_nothing(timeout=3):
                heard.append(await socket.receive_from())
        for socket in sockets:
            await socket.disconnect()

    run(body)
    assert sum('"completed"' in message for message in heard) >= 2  # the updates did arrive
    for message in heard:
        assert_private(message, "a socket message")

    public = Client()
    for path in (f"/orders/{order.number}/status", f"/orders/{order.number}/history", f"/track/{order.number}/"):
        response = public.get(path)
        assert response.status_code == 200, path
        assert_private(response.content.decode(), path)
    assert_private(public.get("/board/?types=dine_in").content.decode(), "/board/")
