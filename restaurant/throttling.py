"""Per-client rate limits (SPEC §2) counted in PostgreSQL, so every web process shares them, with one
statement per request.

A view names its scope (`throttle_scope = "orders"`); REST_FRAMEWORK's DEFAULT_THROTTLE_RATES gives
each scope a rate like `120/min`, or None ("off"). The client is its IP as DRF tells it
(`NUM_PROXIES`), or a logged-in user's account.

Each (scope, client) has one row of `throttle_counter`: a fixed window that opens with the client's
first request and lasts the rate's period. The statement runs in autocommit, before the view: the
count stands whatever the view does next, and no lock is held past it. (It would join the request's
transaction under ATOMIC_REQUESTS, holding the client's row until the end of the request: keep that off.)
"""

import random

from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle

PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}

# Counts this request and answers the window's count and the seconds left in it, by the database's
# clock (every web process reads the same one). An expired window starts again at this request.
COUNT = """
INSERT INTO throttle_counter AS counter (scope, client, hits, expires_at)
VALUES (%s, %s, 1, statement_timestamp() + make_interval(secs => %s))
ON CONFLICT (scope, client) DO UPDATE SET
    hits = CASE WHEN counter.expires_at > statement_timestamp() THEN counter.hits + 1 ELSE 1 END,
    expires_at = CASE WHEN counter.expires_at > statement_timestamp() THEN counter.expires_at
                      ELSE EXCLUDED.expires_at END
RETURNING hits, extract(epoch FROM expires_at - statement_timestamp())::float8
"""
PURGE = "DELETE FROM throttle_counter WHERE expires_at <= statement_timestamp()"


def parse_rate(rate: str | None) -> tuple[int, int] | None:
    """'120/min' as (120, 60): requests, seconds. None stays None (no limit)."""
    if rate is None:
        return None
    requests, period = rate.split("/")
    return int(requests), PERIODS[period[0]]


class DatabaseRateThrottle(BaseThrottle):
    # Read once, at start-up, like DRF's own throttles.
    rates: dict[str, tuple[int, int] | None] = {
        scope: parse_rate(rate) for scope, rate in api_settings.DEFAULT_THROTTLE_RATES.items()
    }
    # Windows of clients that have gone quiet are deleted by one request in this many.
    purge_one_in = 1000

    def allow_request(self, request: Request, view) -> bool:
        scope = getattr(view, "throttle_scope", None)
        if not scope:
            return True
        try:
            rate = self.rates[scope]
        except KeyError:
            raise ImproperlyConfigured(f"No throttle rate set for the {scope!r} scope") from None
        if rate is None:
            return True
        limit, period = rate
        user = request.user
        # A server may give no client address (an ASGI scope without `client`): those share one budget.
        client = f"user:{user.pk}" if user and user.is_authenticated else self.get_ident(request) or ""
        with connection.cursor() as cursor:
            cursor.execute(COUNT, [scope, client, period])
            hits, self.seconds_left = cursor.fetchone()
            if random.randrange(self.purge_one_in) == 0:
                cursor.execute(PURGE)
        return hits <= limit

    def wait(self) -> float:
        return self.seconds_left
