import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from restaurant.roles import MANAGER, ensure_roles


def login_line(username: str, why: str) -> str:
    """Printed on every run, so that a login whose password scrolled away (or was lost with a run that
    failed later) is one command away."""
    return f"Demo manager login: {username} ({why}: .venv/bin/python manage.py changepassword {username})"


class Command(BaseCommand):
    help = (
        "Create a demo Manager account for the back office (/admin/) with a fresh random password, and "
        "print the login. An existing account is left as it is (its password is not reset). Every run "
        "prints the account name and the command that sets a new password. Refuses to run with DEBUG off "
        "unless --force is given."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--username", default="manager")
        parser.add_argument("--force", action="store_true", help="run even though DEBUG is off")

    def handle(self, *args, username: str, force: bool, **options) -> None:
        if not settings.DEBUG and not force:
            raise CommandError("DEBUG is off: a demo account is for development; give --force to create it anyway")
        with transaction.atomic():
            ensure_roles()
            User = get_user_model()
            if User.objects.filter(username=username).exists():
                self.stdout.write(f"Demo manager {username} already exists: left as it is (password unchanged).")
                self.stdout.write(login_line(username, "password printed when it was created; set a new one with"))
                return
            password = secrets.token_urlsafe(12)
            user = User.objects.create_user(username=username, password=password, is_staff=True)
            user.groups.add(Group.objects.get(name=MANAGER))
        self.stdout.write(f"Demo manager for /admin/: username {username}  password {password}")
        self.stdout.write(login_line(username, "set a new password any time with"))
