"""Issue 17 item 4: a kitchen or expo socket stays open only while the login that opened it stands.
A logout (in another tab), a removal from the role or a deactivation closes it (4403) within
seconds, and nothing more reaches it."""

import asyncio

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.test import Client

from kitchen import consumers
from restaurant.asgi import application
from restaurant.roles import FRONT_OF_HOUSE, KITCHEN
from tests.factories import staff_user
from tests.support import connect, run

pytestmark = pytest.mark.usefixtures("fresh_layer")


@pytest.fixture(autouse=True)
def quick_checks(monkeypatch):
    monkeypatch.setattr(consumers, "ACCESS_CHECK_EVERY", 0.2)


def logged_in(role: str, username: str) -> tuple[Client, list[tuple[bytes, bytes]]]:
    """A browser's session of `username` (a real login), and the headers its screen's socket sends."""
    client = Client()
    client.force_login(staff_user(role, username))  # a back-office account: it logs out there
    cookie = f"sessionid={client.cookies['sessionid'].value}".encode()
    return client, [(b"origin", b"http://localhost"), (b"host", b"localhost"), (b"cookie", cookie)]


def closed_after(path: str, role: str, revoke) -> tuple[dict, dict | None]:
    """Open `path` as a `role` user, check it still answers, `revoke(client, user)`, then wait for
    what the socket gets: its close (and any message sent before it)."""
    client, headers = logged_in(role, "cook")

    async def body():
        socket = WebsocketCommunicator(application, path, headers=headers)
        await connect(socket)
        await socket.receive_json_from(timeout=10)  # the snapshot
        await asyncio.sleep(0.5)  # a few checks pass while the login stands
        await socket.send_json_to({"action": "ping"})
        assert (await socket.receive_json_from(timeout=5))["type"] in {"pong", "speed"}
        await database_sync_to_async(revoke)(client)
        before = None
        while True:
            output = await socket.receive_output(timeout=5)
            if output["type"] == "websocket.close":
                return output, before
            before = output

    return run(body)


@pytest.mark.parametrize("path", ["/ws/kitchen/", "/ws/kitchen/expo/"])
def test_a_logout_in_another_tab_closes_the_screens_socket(path):
    def log_out(client):
        assert client.post("/admin/logout/").status_code == 200  # the back office's own logout

    closed, _ = closed_after(path, KITCHEN, log_out)

    assert closed["code"] == consumers.FORBIDDEN


def test_removal_from_the_role_closes_the_socket():
    def remove(client):
        get_user_model().objects.get(username="cook").groups.remove(Group.objects.get(name=KITCHEN))

    closed, _ = closed_after("/ws/kitchen/", KITCHEN, remove)

    assert closed["code"] == consumers.FORBIDDEN


def test_deactivation_closes_the_socket():
    def deactivate(client):
        get_user_model().objects.filter(username="cook").update(is_active=False)

    closed, _ = closed_after("/ws/kitchen/expo/", FRONT_OF_HOUSE, deactivate)

    assert closed["code"] == consumers.FORBIDDEN
