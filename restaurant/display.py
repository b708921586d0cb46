"""The display process (Procfile `display:`): daphne serving restaurant.asgi (the kitchen screens,
the board, tracking and their WebSockets), with two limits daphne does not have.

`python -m restaurant.display -b $BIND_ADDRESS -p $PORT restaurant.asgi:application` takes daphne's
own command line (every option of `daphne`); only its server's protocols are ours:

- `LimitedRequest`: a body over DATA_UPLOAD_MAX_MEMORY_SIZE (the web process's limit, 64 KiB) is
  answered 413 and the connection closed, by its Content-Length before any of it is read, a chunked
  one as soon as it passes the limit. Twisted reads a whole body before daphne sees the request,
  and daphne then queues all of it for the application: one 400 MB POST took the process from 101 MB
  to 525 MB, never given back.
- `LimitedWebSocket`: a socket whose client does not read is dropped once more than
  SOCKET_SEND_BUFFER bytes wait unsent for it. Twisted would keep every update for it in memory.

A proxy in front may cap bodies too (README, Running it for real); this process holds without one.
"""

import json

# daphne.server first: it installs Twisted's asyncio reactor, which must come before other Twisted imports.
import daphne.server
from daphne.cli import CommandLineInterface
from daphne.http_protocol import HTTPFactory, WebRequest
from daphne.ws_protocol import WebSocketFactory, WebSocketProtocol
from django.conf import settings

from restaurant.logging import service_logger

log = service_logger()  # the display's own service name (`kitchen-display`, set by restaurant/asgi.py)


class LimitedRequest(WebRequest):
    """daphne's HTTP request, refusing a body over DATA_UPLOAD_MAX_MEMORY_SIZE before Twisted holds it."""

    refused = False
    body_read = 0

    def gotLength(self, length: int | None) -> None:
        # Twisted's call once the headers are in, before any of the body is read; None: chunked.
        if length is not None and length > settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
            self.refuse(f"Content-Length {length}")
        else:
            super().gotLength(length)

    def handleContentChunk(self, data: bytes) -> None:
        if self.refused:
            return  # what came in the same read as the headers, before the connection closes
        self.body_read += len(data)
        if self.body_read > settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
            self.refuse(f"more than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes")
        else:
            super().handleContentChunk(data)

    def requestReceived(self, command: bytes, path: bytes, version: bytes) -> None:
        if not self.refused:  # a refused body that came whole in the read of its headers is not served
            super().requestReceived(command, path, version)

    def refuse(self, size: str) -> None:
        """413 with the API's error body, written straight to the socket (the request line is not
        parsed into this request until its body is in), and the connection closed: no more of the
        body is read."""
        self.refused = True
        self.requestHeaders.removeHeader(b"expect")  # Twisted would answer `100 Continue` next
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        body = json.dumps(
            {"code": "body_too_large", "errors": {"body": [f"must be at most {limit // 1024} KiB"]}}
        ).encode()
        head = b"HTTP/1.1 413 Content Too Large\r\nContent-Type: application/json\r\nConnection: close\r\n"
        self.channel.transport.write(head + b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.channel.loseConnection()
        peer = self.channel.transport.getPeer()
        log.warning(
            "http_body_too_large",
            f"A request body of {size} refused with 413 (at most {limit} bytes)",
            details={"client": f"{getattr(peer, 'host', '?')}:{getattr(peer, 'port', '?')}", "size": size},
        )


class LimitedHTTPFactory(HTTPFactory):
    def buildProtocol(self, addr):
        protocol = super().buildProtocol(addr)
        protocol.requestFactory = LimitedRequest
        return protocol


def unsent_bytes(transport) -> int:
    """Bytes written to a TCP transport that the kernel has not taken yet. Twisted keeps no public
    count of them; its own `FileDescriptor._isSendBufferFull` reads these same fields."""
    return len(transport.dataBuffer) - transport.offset + transport._tempDataLen


class LimitedWebSocket(WebSocketProtocol):
    """daphne's WebSocket, dropped when more than SOCKET_SEND_BUFFER bytes wait unsent for its client
    (0: no limit): a client that does not read would otherwise have Twisted keep every update for it."""

    def serverSend(self, content, binary=False) -> None:
        if self.state == self.STATE_CLOSED:
            return  # dropped (below): what was on its way to it goes nowhere
        super().serverSend(content, binary)
        limit = settings.SOCKET_SEND_BUFFER
        unsent = unsent_bytes(self.transport)
        if limit and unsent > limit:
            client = ":".join(map(str, self.client_addr)) if self.client_addr else None
            log.warning(
                "websocket_dropped_not_reading",
                f"WebSocket {self.request.path} of {client} dropped: {unsent} bytes unsent (at most {limit})",
                details={"path": self.request.path, "client": client, "unsent": unsent},
            )
            self.dropConnection(abort=True)  # its buffer goes with it; the consumer hears a disconnect


class LimitedWebSocketFactory(WebSocketFactory):
    protocol = LimitedWebSocket


class DisplayServer(daphne.server.Server):
    def run(self) -> None:
        # daphne's Server.run builds its two factories from these names of its module, and has no
        # other way to be given others: ours, in this process only.
        daphne.server.HTTPFactory = LimitedHTTPFactory
        daphne.server.WebSocketFactory = LimitedWebSocketFactory
        super().run()


class DisplayCommandLine(CommandLineInterface):
    server_class = DisplayServer


if __name__ == "__main__":
    DisplayCommandLine.entrypoint()
