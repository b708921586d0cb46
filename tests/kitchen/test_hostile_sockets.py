"""Issue 17 item 10: what a stranger sends a live screen's socket never fails it. A frame that is
binary, not JSON or nested thousands deep is ignored on the public sockets (one WARNING line, no
stack, rate-limited) and answered `invalid` on the kitchen's; an order number with a NUL or too long
is `invalid`; a client address holds at most SOCKETS_PER_CLIENT sockets."""

import asyncio
import json
import logging

import pytest
import websockets
from channels.testing import WebsocketCommunicator

from kitchen.consumers import unreadable_frames
from restaurant.asgi import application
from restaurant.roles import KITCHEN
from tests.factories import create_order, staff_user
from tests.support import connect, free_port, kitchen_socket, run, session_headers

pytestmark = pytest.mark.usefixtures("fresh_layer")

NESTED = "[" * 5000 + "]" * 5000
GARBAGE = [{"text_data": "not json"}, {"bytes_data": b"\x00\xff binary"}, {"text_data": NESTED}]


async def still_answers(socket: WebsocketCommunicator) -> None:
    await socket.send_json_to({"action": "ping"})
    while (message := await socket.receive_json_from(timeout=10))["type"] != "pong":
        assert message["type"] != "error", message


@pytest.mark.parametrize("path", ["/ws/board/", "/ws/orders/{number}/", "/ws/menu/"])
def test_a_public_socket_ignores_what_it_cannot_read_and_stays_open(path, caplog):
    order = create_order()
    headers = session_headers(None)
    unreadable_frames.next_at = 0.0  # a window of its own: an earlier test's frames are not this one's

    async def body():
        socket = WebsocketCommunicator(application, path.format(number=order.number), headers=headers)
        await connect(socket)
        await socket.receive_json_from(timeout=10)  # the snapshot (or the order's status, the menu's version)
        for frame in GARBAGE * 20:
            await socket.send_to(**frame)
        await still_answers(socket)
        await socket.disconnect()

    with caplog.at_level(logging.WARNING):
        run(body)

    warnings = [r for r in caplog.records if getattr(r, "action", "") == "socket_frame_unreadable"]
    assert 1 <= len(warnings) <= 2  # 60 frames, one line (two if a window turned over)
    assert all(r.levelno == logging.WARNING and not r.exc_info and not r.stack_info for r in warnings)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_the_kitchen_socket_answers_invalid_to_what_it_cannot_use():
    order = create_order()
    headers = session_headers(staff_user(KITCHEN, "cook", is_staff=False))

    async def body():
        socket = kitchen_socket(headers)
        await connect(socket)
        await socket.receive_json_from(timeout=10)
        answers = []
        for frame in [
            {"text_data": NESTED},
            {"bytes_data": b"\x00"},
            {"text_data": json.dumps({"action": "start", "order_number": order.number + "\x00"})},
            {"text_data": json.dumps({"action": "start", "order_number": "9" * 5000})},
            {"text_data": json.dumps({"action": "prepare", "order_number": order.number, "item": 2**70})},
        ]:
            await socket.send_to(**frame)
            answers.append(await socket.receive_json_from(timeout=10))
        await still_answers(socket)
        await socket.disconnect()
        return answers

    answers = run(body)

    assert [(a["type"], a["code"]) for a in answers] == [("error", "invalid")] * 5
    assert "order_number" in answers[2]["errors"] and "order_number" in answers[3]["errors"]
    assert "item" in answers[4]["errors"]


def test_a_client_address_holds_at_most_its_share_of_sockets(settings):
    settings.SOCKETS_PER_CLIENT = 2
    headers = session_headers(None)

    def board(client: str) -> WebsocketCommunicator:
        socket = WebsocketCommunicator(application, "/ws/board/", headers=headers)
        socket.scope["client"] = (client, 50000)
        return socket

    async def body():
        first, second, third, other = board("10.0.0.7"), board("10.0.0.7"), board("10.0.0.7"), board("10.0.0.8")
        opened = [(await s.connect(timeout=10))[0] for s in (first, second, third, other)]
        await first.disconnect()
        again = board("10.0.0.7")
        reopened = (await again.connect(timeout=10))[0]
        for socket in (second, other, again):
            await socket.disconnect()
        return opened, reopened

    opened, reopened = run(body)

    assert opened == [True, True, False, True] and reopened


def test_a_socket_ended_by_an_error_gives_its_client_share_back(settings, monkeypatch):
    # A board snapshot over daphne's message size limit raised in the consumer, which then hears no
    # disconnect: the share was never given back, and after SOCKETS_PER_CLIENT of them the board's
    # address was refused for good (the soak, scripts/soak.py).
    settings.SOCKETS_PER_CLIENT = 1

    def board() -> WebsocketCommunicator:
        socket = WebsocketCommunicator(application, "/ws/board/", headers=session_headers(None))
        socket.scope["client"] = ("10.0.0.9", 50000)
        return socket

    def too_big(**kwargs):
        raise RuntimeError("tried to send WebSocket message with size 1679436 exceeding payload limit")

    async def body():
        monkeypatch.setattr("kitchen.consumers.board_snapshot", too_big)
        failing = board()
        assert (await failing.connect(timeout=10))[0]  # accepted, then the snapshot fails
        with pytest.raises(RuntimeError):
            await failing.receive_output(timeout=10)
        monkeypatch.undo()
        again = board()
        reopened = (await again.connect(timeout=10))[0]
        snapshot = await again.receive_json_from(timeout=10) if reopened else None
        await again.disconnect()
        return reopened, snapshot

    reopened, snapshot = run(body)

    assert reopened and snapshot["type"] == "snapshot"


@pytest.mark.slow
def test_the_display_process_keeps_a_board_socket_that_sent_garbage(start_display):
    port = free_port()
    start_display("display", port)

    async def body():
        url = f"ws://127.0.0.1:{port}/ws/board/"
        async with websockets.connect(url, origin=f"http://127.0.0.1:{port}", max_size=None) as socket:
            assert json.loads(await asyncio.wait_for(socket.recv(), 10))["type"] == "snapshot"
            for frame in ("not json", b"\x00\xff", NESTED):
                await socket.send(frame)
            await socket.send(json.dumps({"action": "ping"}))
            assert json.loads(await asyncio.wait_for(socket.recv(), 10)) == {"type": "pong"}

    asyncio.run(body())
