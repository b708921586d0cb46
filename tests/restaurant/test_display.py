"""Issue 17: the display process (restaurant/display.py, started as the Procfile starts it) holds its
memory against a client alone, with no proxy in front: a body over the limit is refused with 413
before it is read (by its Content-Length, or at the limit of a chunked one), and a WebSocket whose
client does not read is dropped once its unsent updates pass SOCKET_SEND_BUFFER, while the other
screens go on hearing them."""

import base64
import json
import os
import socket
import threading
import time
from pathlib import Path

import pytest
import requests
from django.conf import settings
from websockets.sync.client import connect as websocket

from orders.services import order_mark_completed
from restaurant import broker
from restaurant.models import OutboxMessage
from tests.factories import create_order
from tests.support import free_port, wait_for

pytestmark = pytest.mark.slow

MB = 1024 * 1024


def rss(pid: int) -> int:
    """The process's resident memory, in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for {pid}")


def post_streamed(port: int, path: str, size: int, *, chunked: bool) -> tuple[bytes, int]:
    """POST a body of `size` bytes, made 64 KiB at a time as it is sent (the test never holds it), by
    its Content-Length or chunked, until all of it is sent or the display closes the connection.
    Returns the display's answer and how many bytes of the body went out."""
    piece = b"x" * 65536
    frame = b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece
    length = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {size}"
    head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n{length}\r\n\r\n"
    sent, answer = 0, b""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        try:
            sock.sendall(head.encode())
            while sent < size:
                sock.sendall(frame)
                sent += len(piece)
            if chunked:
                sock.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the display closed it: its answer is already here
        try:
            while data := sock.recv(65536):
                answer += data
        except ConnectionResetError:  # the rest of the body was unread when it closed
            pass
    return answer, sent


def test_a_body_over_the_limit_is_refused_with_413_before_the_display_reads_it(start_display):
    port = free_port()
    display = start_display("display", port)
    url = f"http://127.0.0.1:{port}"
    assert requests.get(f"{url}/board/", timeout=10).status_code == 200
    before = rss(display.pid)

    answers = []
    for path, chunked in (("/board/", False), ("/orders", True)):
        started = time.monotonic()
        answer, sent = post_streamed(port, path, 100 * MB, chunked=chunked)
        answers.append((answer, sent, time.monotonic() - started))
    after = rss(display.pid)

    print(
        f"RSS {before / MB:.1f} MB before, {after / MB:.1f} MB after; "
        + "; ".join(f"answered after {seconds * 1000:.0f} ms, {sent / MB:.1f} MB sent" for _, sent, seconds in answers)
    )
    for answer, sent, seconds in answers:
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 413 "), answer[:300]
        assert json.loads(body) == {"code": "body_too_large", "errors": {"body": ["must be at most 64 KiB"]}}
        assert sent < 20 * MB, "the display read the body instead of closing"  # what the sockets' buffers hold
        assert seconds < 5
    assert after - before < 20 * MB, f"RSS {before / MB:.0f} MB before, {after / MB:.0f} MB after"
    assert requests.get(f"{url}/board/", timeout=10).status_code == 200
    refused = display.actions("http_body_too_large")
    assert [line["level"] for line in refused] == ["INFO", "INFO"]  # SPEC §7 shows a WARNING as INFO

    # A body of the limit itself is read whole and goes to the application, by its length or chunked.
    at_limit = b" " * settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    for data in (at_limit, iter([at_limit[:40_000], at_limit[40_000:]])):
        response = requests.post(f"{url}/orders", data=data, headers={"Content-Type": "application/json"}, timeout=10)
        assert response.json()["errors"] == {"body": ["must not be empty"]}  # the order parser's answer


# --- a WebSocket client that does not read ------------------------------------------------------


def open_without_reading(port: int, path: str) -> socket.socket:
    """A WebSocket handshake for `path` on a socket with a small receive buffer and segment size, so
    the kernel takes little of what the display sends it; only the handshake's answer is read."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, 88)  # the display's kernel sizes its buffer by it
    sock.settimeout(10)
    sock.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nOrigin: http://127.0.0.1:{port}\r\n"
        f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    answer = b""
    while not answer.endswith(b"\r\n\r\n"):  # a byte at a time: not one byte past the handshake
        answer += sock.recv(1)
    assert answer.startswith(b"HTTP/1.1 101 "), answer
    # The snapshot is sent once the socket has joined the board's group: from then on it hears every
    # update. Peeking leaves it in the buffer, unread.
    sock.recv(1, socket.MSG_PEEK)
    return sock


def closed_by_peer(sock: socket.socket) -> bool:
    """Whether the display closed the connection: what it sent is read up to an EOF or a reset."""
    sock.settimeout(10)
    try:
        while sock.recv(65536):
            pass
    except ConnectionResetError:
        pass
    except TimeoutError:
        return False
    return True


DROPPED = "websocket_dropped_not_reading"


def test_a_board_socket_that_does_not_read_is_dropped_and_the_other_screens_go_on_hearing_updates(
    start_display, relay, amqp_channel
):
    limit = 64 * 1024  # the default is 1 MiB: a smaller one is passed with fewer updates
    port = free_port()
    display = start_display("display", port, SOCKET_SEND_BUFFER=str(limit))
    order = create_order(status="ready")
    # The order's last status update as the relay published it: each time the bridge hears it, it
    # reads the order and sends every board its status (some 150 bytes).
    update = OutboxMessage.objects.filter(exchange=broker.NOTIFICATIONS_EXCHANGE).latest("id").body.encode()
    heard: list[dict] = []

    def read_board(board):
        for message in board:
            heard.append(json.loads(message))

    def board_hears(count: int) -> None:
        for _ in range(count - len(heard)):
            amqp_channel.basic_publish(broker.NOTIFICATIONS_EXCHANGE, "", update)
        # At the pace of the board that reads: the channel layer drops what a consumer is too far behind on.
        wait_for(lambda: len(heard) >= count, timeout=30, message=f"{count} updates on the reading board")

    with websocket(f"ws://127.0.0.1:{port}/ws/board/", origin=f"http://127.0.0.1:{port}") as board:
        assert json.loads(board.recv(timeout=15))["type"] == "snapshot"  # the bridge consumes
        threading.Thread(target=read_board, args=(board,), daemon=True).start()
        before = rss(display.pid)
        silent = open_without_reading(port, "/ws/board/")
        sent = 0
        while not display.actions(DROPPED):
            assert sent < 5000, f"not dropped after {sent} updates"
            board_hears(len(heard) + 50)
            sent += 50
        after = rss(display.pid)
        assert closed_by_peer(silent)
        silent.close()

        order_mark_completed(number=order.number, changed_by="expo")  # through the outbox and the relay
        version = order.status_log.latest("id").id
        wait_for(lambda: heard[-1]["version"] == version, timeout=30, message="the reading board hears the move")

    [dropped] = display.actions(DROPPED)
    assert dropped["details"]["path"] == "/ws/board/" and dropped["details"]["unsent"] > limit
    assert dropped["details"]["client"].startswith("127.0.0.1:") and "error" not in dropped
    assert after - before < 20 * MB, f"RSS {before / MB:.0f} MB before, {after / MB:.0f} MB after"
    unsent = dropped["details"]["unsent"]
    print(f"dropped after {sent} updates, {unsent} bytes unsent; RSS {before / MB:.1f} -> {after / MB:.1f} MB")
