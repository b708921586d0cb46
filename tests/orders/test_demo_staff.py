"""`create_demo_staff` (run by every `make run`): every run says which account to log in with and the
one command that sets a new password, not only the first run, which prints the password."""

from io import StringIO

import pytest
from django.core.management import call_command, get_commands

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command("create_demo_staff", "--force", *args, stdout=out)
    return out.getvalue()


def test_every_run_prints_the_login_and_the_command_that_sets_a_new_password():
    first, second = run(), run()

    for output in (first, second):
        assert "Demo manager login: manager" in output
        assert ".venv/bin/python manage.py changepassword manager" in output
    assert "password printed when it was created" in second
    assert "changepassword" in get_commands()


def test_the_login_line_names_the_account_asked_for():
    output = run("--username", "demo2")

    assert "Demo manager login: demo2" in output and "changepassword demo2" in output
