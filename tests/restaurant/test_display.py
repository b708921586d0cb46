"""Issue 17: the display process (restaurant/display.py, started as the Procfile starts it) holds its
memory against a client alone, with no proxy in front: a body over the limit is refused with 413
before it is read (by its Content-Length, or at the limit of a chunked one)."""

import json
import socket
import time
from pathlib import Path

import pytest
import requests
from django.conf import settings

from tests.support import free_port

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
