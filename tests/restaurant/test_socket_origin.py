"""Issue 17 item 5: a display socket is opened only from the display's own origin (scheme, host and
port) or a trusted one (TRUSTED_ORIGINS): a page on another port of the same host, whose requests
carry the cook's cookie, is refused."""

import asyncio

import pytest
import websockets
from channels.testing import WebsocketCommunicator
from django.test import Client

from restaurant.asgi import application
from restaurant.roles import KITCHEN
from tests.factories import staff_user
from tests.support import free_port, run


def cook_cookie() -> bytes:
    client = Client()
    client.force_login(staff_user(KITCHEN, "cook", is_staff=False))
    return f"sessionid={client.cookies['sessionid'].value}".encode()


def opens(*, origin: bytes | None, host: bytes | None, scheme: str = "ws") -> bool:
    """Whether the customer board's socket (public: the origin alone decides) opens."""
    headers = [(b"origin", origin)] if origin is not None else []
    headers += [(b"host", host)] if host is not None else []

    async def body():
        communicator = WebsocketCommunicator(application, "/ws/board/", headers=headers)
        communicator.scope["scheme"] = scheme
        connected, _ = await communicator.connect(timeout=10)
        await communicator.disconnect()
        return connected

    return run(body)


@pytest.mark.parametrize(
    ("origin", "host", "scheme", "expected"),
    [
        (b"http://localhost:8500", b"localhost:8500", "ws", True),
        (b"https://localhost", b"localhost", "wss", True),
        (b"http://localhost:31337", b"localhost:8500", "ws", False),  # another port of the same host
        (b"https://localhost:8500", b"localhost:8500", "ws", False),  # another scheme
        (b"http://localhost", b"localhost", "wss", False),
        (b"http://evil.example:8500", b"localhost:8500", "ws", False),
        (b"http://evil.example", b"evil.example", "ws", False),  # a Host that is not ours
        (None, b"localhost:8500", "ws", False),
        (b"http://localhost:8500", None, "ws", False),
    ],
)
def test_a_socket_opens_only_from_the_displays_own_origin(transactional_db, origin, host, scheme, expected):
    assert opens(origin=origin, host=host, scheme=scheme) is expected


def test_a_trusted_origin_may_open_a_socket(transactional_db, settings):
    settings.CSRF_TRUSTED_ORIGINS = ["https://kitchen.example.com"]

    assert opens(origin=b"https://kitchen.example.com", host=b"localhost:8500")
    assert not opens(origin=b"https://kitchen.example.com:8443", host=b"localhost:8500")


@pytest.mark.slow
def test_the_display_process_refuses_a_page_on_another_port_of_its_host(start_display):
    port = free_port()
    start_display("display", port)
    url, cookie = f"ws://127.0.0.1:{port}/ws/kitchen/", cook_cookie().decode()

    async def handshake(origin: str) -> int | None:
        try:
            async with websockets.connect(url, origin=origin, additional_headers={"Cookie": cookie}) as socket:
                await asyncio.wait_for(socket.recv(), 10)  # the snapshot: let in
                return None
        except websockets.InvalidStatus as exc:
            return exc.response.status_code

    assert asyncio.run(handshake(f"http://127.0.0.1:{port}")) is None
    assert asyncio.run(handshake("http://127.0.0.1:31337")) == 403
