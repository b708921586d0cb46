"""The staff order API's tokens (issue 17 item 8): django-rest-knox's, stored hashed.

A key is 64 hex characters from os.urandom. The table (`knox_authtoken`) keeps its SHA-512 digest and
its first 15 characters (`token_key`, to find the row, and what the back office lists), never the key
itself: a copy of the database or a look at the back office lets no one in. A key is shown once, when
it is made: by a Manager in the back office (orders/admin/tokens.py) or by `manage.py create_api_token`.
A token may expire (`expiry`; none by default).

Why knox rather than DRF's own tokens (which store the key in clear) or a model of our own: it is a
maintained package (Jazzband) that does exactly this (a digest compared in constant time, a prefix to
look it up, an expiry, an inactive user refused) for DRF 3.18 and Django 5.2, and drf-spectacular
knows its authentication class. Its login views are not used.

`knox.auth.TokenAuthentication` takes a token (`Authorization: Token <key>`) while it has not expired
(an expired one is deleted) and its user is active, else 401; orders/apis.py's `IsOrderStaff` asks
that the user still be in a role, else 403.
"""

from datetime import datetime

from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet
from knox.models import AuthToken, get_digest_token
from knox.settings import CONSTANTS

from restaurant.roles import ORDER_STAFF, has_role


def token_holders(*, superusers: bool) -> QuerySet:
    """Who may be given a token: the active users in a role of the staff order API, and the active
    superusers when `superusers` (a Manager may not act as one)."""
    may_hold = Q(groups__name__in=ORDER_STAFF)
    if superusers:
        may_hold |= Q(is_superuser=True)
    return get_user_model().objects.filter(may_hold, is_active=True).distinct().order_by("username")


def api_token_issue(token: AuthToken) -> str:
    """Give `token` (its user and expiry set, not saved yet) a new key and save it: the key is
    returned, this once. Its user must be able to use it: active and in a role of the API."""
    if not has_role(token.user, *ORDER_STAFF):
        raise ValueError(f"user {token.user.get_username()!r} is inactive or in no staff role")
    digest, key = get_digest_token()
    token.digest, token.token_key = digest, key[: CONSTANTS.TOKEN_KEY_LENGTH]
    token.save(force_insert=True)
    return key


def api_token_create(*, user, expiry: datetime | None = None) -> str:
    """A new token of `user`, expiring at `expiry` (None: never); its key, shown this once."""
    return api_token_issue(AuthToken(user=user, expiry=expiry))
