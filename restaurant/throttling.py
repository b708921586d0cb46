"""Per-client rate limits (SPEC §2) counted in PostgreSQL, so every web process shares them, with one
statement per request.

A view names its scope (`throttle_scope = "orders"`); REST_FRAMEWORK's DEFAULT_THROTTLE_RATES gives
each scope a rate like `120/min`, or None ("off"). The client is its address (`client_address`, the
one rule for every limit, the login lockout's included), or a logged-in user's account.

Each (scope, client) has one row of `throttle_counter`: a fixed window that opens with the client's
first request and lasts the rate's period. The statement runs in autocommit, before the view: the
count stands whatever the view does next, and no lock is held past it. (It would join the request's
transaction under ATOMIC_REQUESTS, holding the client's row until the end of the request: keep that off.)

A view that writes in one statement can take the count into that statement (`CountedInTheWrite`):
POST /orders counts in `order_create`'s statement, so a throttled order costs no round trip more
than an unthrottled one; a request that ends before that write (refused input) is counted on its own.
"""

import random
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.http import HttpRequest
from rest_framework.exceptions import Throttled
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle

PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}

# Counts this request and answers the window's count and the seconds left in it, by the database's
# clock (every web process reads the same one). An expired window starts again at this request.
COUNT = """
INSERT INTO throttle_counter AS counter (scope, client, hits, expires_at)
VALUES (%(throttle_scope)s, %(throttle_client)s, 1, statement_timestamp() + make_interval(secs => %(throttle_period)s))
ON CONFLICT (scope, client) DO UPDATE SET
    hits = CASE WHEN counter.expires_at > statement_timestamp() THEN counter.hits + 1 ELSE 1 END,
    expires_at = CASE WHEN counter.expires_at > statement_timestamp() THEN counter.expires_at
                      ELSE EXCLUDED.expires_at END
RETURNING hits, extract(epoch FROM expires_at - statement_timestamp())::float8 AS seconds_left
"""
PURGE = "DELETE FROM throttle_counter WHERE expires_at <= statement_timestamp()"


def client_address(request: HttpRequest | Request) -> str | None:
    """The client's IP address: REMOTE_ADDR, or behind TRUSTED_PROXIES=N proxies the address the
    outermost of them saw, N entries from the end of X-Forwarded-For (what DRF's NUM_PROXIES reads).
    Entries a client wrote into the header itself come before those and are never read. The rate
    limits and the login lockout (settings.AXES_CLIENT_IP_CALLABLE) both count by it."""
    remote = request.META.get("REMOTE_ADDR")
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR")
    if not settings.TRUSTED_PROXIES or not forwarded:
        return remote
    hops = forwarded.split(",")
    return hops[-min(settings.TRUSTED_PROXIES, len(hops))].strip()


def parse_rate(rate: str | None) -> tuple[int, int] | None:
    """'120/min' as (120, 60): requests, seconds. None stays None (no limit)."""
    if rate is None:
        return None
    requests, period = rate.split("/")
    return int(requests), PERIODS[period[0]]


@dataclass
class RateCount:
    """One request's count in one scope: its statement's parameters, then what it answered."""

    scope: str
    client: str
    limit: int
    period: int
    hits: int | None = None  # None until counted
    seconds_left: float = 0.0

    def params(self) -> dict[str, object]:
        """COUNT's parameters, and the limit, for a statement that writes only within it."""
        return {
            "throttle_scope": self.scope,
            "throttle_client": self.client,
            "throttle_period": self.period,
            "throttle_limit": self.limit,
        }

    def record(self, hits: int, seconds_left: float) -> None:
        self.hits, self.seconds_left = hits, seconds_left

    @property
    def exceeded(self) -> bool:
        return self.hits is not None and self.hits > self.limit

    def count(self) -> None:
        """Count in a statement of its own."""
        with connection.cursor() as cursor:
            cursor.execute(COUNT, self.params())
            self.record(*cursor.fetchone())


def purge_now_and_then() -> None:
    """Windows of clients that have gone quiet are deleted by one request in `purge_one_in`."""
    if random.randrange(DatabaseRateThrottle.purge_one_in) == 0:
        with connection.cursor() as cursor:
            cursor.execute(PURGE)


class RateLimitExceeded(Exception):
    """Raised by a write that counted the request (`RateCount`) and found it over the limit: nothing
    was written. The view answers 429 (`CountedInTheWrite`)."""

    def __init__(self, count: RateCount) -> None:
        super().__init__(f"{count.scope}: {count.hits} requests, limit {count.limit}")
        self.count = count


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
        client = f"user:{user.pk}" if user and user.is_authenticated else client_address(request) or ""
        self.count = RateCount(scope=scope, client=client, limit=limit, period=period)
        if getattr(view, "counted_in_the_write", False):
            request.rate_count = self.count  # the view's write statement counts it
            return True
        self.count.count()
        purge_now_and_then()
        return not self.count.exceeded

    def wait(self) -> float:
        return self.count.seconds_left


class CountedInTheWrite:
    """A DRF view mixin: the throttle leaves the request's count to the view's write, which is given
    `request.rate_count` (None when the scope is off) and raises RateLimitExceeded when it was over.
    An answer that comes before the write (an error) counts the request on its own, and a request
    over the limit is answered 429 either way."""

    counted_in_the_write = True

    def initialize_request(self, request, *args, **kwargs):
        request = super().initialize_request(request, *args, **kwargs)
        request.rate_count = None
        return request

    def finalize_response(self, request, response, *args, **kwargs):
        if request.rate_count is not None and request.rate_count.hits is not None:
            purge_now_and_then()
        return super().finalize_response(request, response, *args, **kwargs)

    def handle_exception(self, exc):
        count = self.request.rate_count
        if isinstance(exc, RateLimitExceeded):
            exc = Throttled(wait=exc.count.seconds_left)
        elif count is not None and count.hits is None and not isinstance(exc, Throttled):
            count.count()
            if count.exceeded:
                exc = Throttled(wait=count.seconds_left)
        return super().handle_exception(exc)
