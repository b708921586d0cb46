import os
import sys

from django.core.asgi import get_asgi_application

from restaurant import logging as app_logging
from restaurant.logging import JSONAccessLog

RUN_BY_DAPHNE = "daphne.cli" in sys.modules
if RUN_BY_DAPHNE:
    # This is the display process (Procfile: daphne's command line, run by restaurant/display.py): its
    # own lines (daphne's, Django's, its bridge's) name it, from the first one on. The web process
    # (restaurant/serve.py) keeps `order-service`.
    app_logging.default_service = "kitchen-display"

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "restaurant.settings")
# Build the Django app first: it sets up the app registry the WebSocket routes will need.
django_asgi_app = get_asgi_application()

if RUN_BY_DAPHNE:
    # Daphne builds its access log after importing this module: have it write JSON lines (SPEC §7)
    # instead of NCSA text lines on stdout.
    sys.modules["daphne.cli"].AccessLogGenerator = JSONAccessLog

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from kitchen.routing import websocket_urlpatterns  # noqa: E402
from restaurant.origin import SameOriginValidator  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": SameOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
