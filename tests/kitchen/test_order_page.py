"""The guests' ordering page's socket (`/ws/menu/`, kitchen/consumers.py: MenuConsumer): an 86 reaches
an open page's socket as the menu's new version."""

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from menu.services import menu_items_set_available
from restaurant.asgi import application
from tests.factories import load_test_menu
from tests.support import connect, run, session_headers


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("fresh_layer")
def test_an_86_in_the_menu_reaches_an_open_ordering_pages_socket_as_the_menus_new_version():
    load_test_menu()

    async def body():
        socket = WebsocketCommunicator(application, "/ws/menu/", headers=session_headers(None))
        await connect(socket)
        first = await socket.receive_json_from(timeout=10)
        # The admin's "Mark sold out" action calls this service.
        await database_sync_to_async(menu_items_set_available)(skus=["margherita"], available=False)
        changed = await socket.receive_json_from(timeout=10)
        await socket.disconnect()
        return first, changed

    first, changed = run(body)

    assert first["type"] == "menu"
    assert changed["type"] == "menu" and changed["version"] > first["version"]
    assert set(changed) == {"type", "version"}  # nothing that GET /menu does not say
    menu = Client().get("/menu")
    assert menu["ETag"] == f'"menu-{changed["version"]}"'
    sold = {item["sku"]: item["available"] for category in menu.json()["categories"] for item in category["items"]}
    assert sold["margherita"] is False
