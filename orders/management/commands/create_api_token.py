from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from orders.models import ApiToken
from orders.tokens import api_token_create
from restaurant.roles import ORDER_STAFF, has_role


class Command(BaseCommand):
    help = (
        "Make a token of USER for the staff order API (`Authorization: Token <key>`) and print its key: "
        "this once, only its hash is kept. --reset first revokes USER's other tokens; --days N makes it "
        "expire after N days. A user that is unknown, inactive or in no staff role is refused."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("username")
        parser.add_argument("--reset", action="store_true", help="revoke USER's other tokens")
        parser.add_argument("--days", type=int, help="expire after this many days (default: never)")

    def handle(self, *args, username: str, reset: bool, days: int | None, **options) -> None:
        User = get_user_model()
        user = User.objects.filter(**{User.USERNAME_FIELD: username}).first()
        if user is None:
            raise CommandError(f"no user {username!r}")
        if not user.is_active:
            raise CommandError(f"user {username!r} is inactive: the API would refuse its token")
        if not has_role(user, *ORDER_STAFF):
            raise CommandError(f"user {username!r} is in no staff role: the API would refuse its token")
        if days is not None and days < 1:
            raise CommandError("--days: must be at least 1")
        expiry = timezone.now() + timedelta(days=days) if days else None
        with transaction.atomic():
            if reset:
                ApiToken.objects.filter(user=user).delete()
            key = api_token_create(user=user, expiry=expiry)
        # The key alone, so that a script can read it.
        self.stdout.write(key)
