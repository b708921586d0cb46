"""The expo screen (/kitchen/expo/, socket /ws/kitchen/expo/): Kitchen and Manager staff act on it as on
the kitchen display; Front of house watches it and is refused any action; nobody else gets in."""

import json

import pytest
from channels.testing import WebsocketCommunicator
from django.test import Client

from restaurant.asgi import application
from tests.factories import FRONT_OF_HOUSE, KITCHEN, create_order, logged_in, staff_user
from tests.support import connect, run, session_headers

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fresh_layer")]


def expo_socket(headers) -> WebsocketCommunicator:
    return WebsocketCommunicator(application, "/ws/kitchen/expo/", headers=headers)


def page_config(response) -> dict:
    """What the page hands its script (json_script `display-config`)."""
    start_tag = '<script id="display-config" type="application/json">'
    start = response.text.index(start_tag) + len(start_tag)
    return json.loads(response.text[start : response.text.index("</script>", start)])


def test_front_of_house_watches_the_expo_and_is_refused_any_action():
    order = create_order(status="ready")
    headers_user = session_headers(staff_user(FRONT_OF_HOUSE, "host", is_staff=False))

    async def body():
        communicator = expo_socket(headers_user)
        await connect(communicator)
        snapshot = await communicator.receive_json_from(timeout=10)
        await communicator.send_json_to({"action": "bump", "order_number": order.number})
        refused = await communicator.receive_json_from(timeout=10)
        closed = await communicator.receive_output(timeout=5)
        await communicator.disconnect()
        return snapshot, refused, closed

    snapshot, refused, closed = run(body)
    assert [ticket["order_number"] for ticket in snapshot["orders"]] == [order.number]
    assert refused["code"] == "permission_denied"
    assert closed == {"type": "websocket.close", "code": 4403}
    order.refresh_from_db()
    assert order.status == "ready"


def test_kitchen_staff_bump_from_the_expo_and_strangers_are_refused():
    order = create_order(status="ready")
    cook = session_headers(staff_user(KITCHEN, "cook", is_staff=False))
    stranger = session_headers(staff_user(None, "stranger", is_staff=False))

    async def body():
        communicator, refused = expo_socket(cook), expo_socket(stranger)
        await connect(communicator)
        await communicator.receive_json_from(timeout=10)
        await communicator.send_json_to({"action": "bump", "order_number": order.number})
        while (answer := await communicator.receive_json_from(timeout=10))["type"] not in ("done", "error"):
            pass
        await connect(refused)
        closed = await refused.receive_output(timeout=5)
        await communicator.disconnect()
        await refused.disconnect()
        return answer, closed

    answer, closed = run(body)
    assert answer == {"type": "done", "action": "bump", "order_number": order.number}
    assert closed == {"type": "websocket.close", "code": 4403}
    order.refresh_from_db()
    assert order.status == "completed"


def test_the_expo_page_is_view_only_for_front_of_house_and_refused_to_others():
    front, cook = (
        logged_in(FRONT_OF_HOUSE, "host").get("/kitchen/expo/"),
        logged_in(KITCHEN, "cook").get("/kitchen/expo/"),
    )
    nobody, anonymous = logged_in(None, "nobody").get("/kitchen/expo/"), Client().get("/kitchen/expo/")

    # The page's script reads the server's config (json_script): view only, so no button and no recall.
    assert front.status_code == 200 and "Expo (view only)" in front.text and page_config(front)["read_only"] is True
    assert page_config(front)["next_steps"] == {} and page_config(front)["recall"] is None
    assert cook.status_code == 200 and "(view only)" not in cook.text and page_config(cook)["read_only"] is False
    assert page_config(cook)["next_steps"] == {"ready": {"action": "bump", "label": "Bump"}}
    assert "/ws/kitchen/expo/" in cook.text
    assert nobody.status_code == 403
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/admin/login/")
