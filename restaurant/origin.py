"""Who may open a WebSocket of the display process: a page of the display itself (its `Origin` is
the socket's own scheme, host and port) or an origin listed in `CSRF_TRUSTED_ORIGINS` (the
`TRUSTED_ORIGINS` variable: a proxy's public address, say). Browsers share cookies across the ports
of a host, so a page served on another port of it (`http://localhost:31337`) must not ride a cook's
session: comparing host names alone, as Channels' AllowedHostsOriginValidator does, lets it.
"""

from urllib.parse import urlparse

from channels.security.websocket import OriginValidator, WebsocketDenier
from django.conf import settings
from django.http.request import split_domain_port, validate_host


class SameOriginValidator(OriginValidator):
    def __init__(self, application) -> None:
        super().__init__(application, allowed_origins=[])

    async def __call__(self, scope, receive, send):
        origin = host = None
        for name, value in scope.get("headers", []):
            if name == b"origin":
                origin = urlparse(value.decode("latin1"))
            elif name == b"host":
                host = value.decode("latin1")
        if origin is not None and any(self.match_allowed_origin(origin, allowed) for allowed in _allowed(scope, host)):
            return await self.application(scope, receive, send)
        return await WebsocketDenier()(scope, receive, send)


def _allowed(scope, host: str | None) -> list[str]:
    """The socket's own origin (when its Host is one of ALLOWED_HOSTS), and the trusted ones."""
    own = []
    if host and validate_host(split_domain_port(host)[0], settings.ALLOWED_HOSTS):
        own.append(f"{'https' if scope.get('scheme') == 'wss' else 'http'}://{host}")
    return [*own, *settings.CSRF_TRUSTED_ORIGINS]
