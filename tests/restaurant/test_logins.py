"""Logins (issue 17 item 6): a username is locked out from one client address after 5 failed logins in
a row, for 15 minutes (429, logged as `login_locked_out`); the address is the one the rate limits
read (TRUSTED_PROXIES); a login that succeeds forgets the failures before it; a password must pass
Django's standard rules."""

from datetime import timedelta

import pytest
import requests
from axes.models import AccessAttempt
from django.contrib.auth import SESSION_KEY
from django.test import Client
from django.test.client import RequestFactory

from restaurant.throttling import client_address
from tests.factories import MANAGER, staff_user
from tests.support import free_port, start_web

PASSWORD = "grill-station-42"
LOGIN = "/admin/login/"


@pytest.fixture
def manager(db):
    user = staff_user(MANAGER, "mara")
    user.set_password(PASSWORD)
    user.save()
    return user


def log_in(client: Client, password: str, username: str = "mara", **headers):
    return client.post(LOGIN, {"username": username, "password": password, "next": "/admin/"}, **headers)


def logged_in_as(client: Client):
    return client.session.get(SESSION_KEY)


def test_five_wrong_passwords_in_a_row_lock_the_username_out_from_that_address(manager):
    client = Client()

    answers = [log_in(client, f"wrong-{n}").status_code for n in range(5)]
    refused = log_in(client, PASSWORD)

    assert answers == [200, 200, 200, 200, 429]
    assert refused.status_code == 429 and refused["Retry-After"] == "900"
    assert "Too many failed logins" in refused.text and "15 minutes" in refused.text
    assert logged_in_as(client) is None
    # The same username from another address, and another username from this one, are not locked.
    elsewhere = Client(REMOTE_ADDR="203.0.113.9")
    assert log_in(elsewhere, PASSWORD).status_code == 302 and logged_in_as(elsewhere) == str(manager.pk)
    other = staff_user(MANAGER, "otto")
    other.set_password(PASSWORD)
    other.save()
    assert log_in(Client(), PASSWORD, username="otto").status_code == 302


def test_a_lockout_ends_after_its_cool_off(manager):
    client = Client()
    for n in range(5):
        log_in(client, f"wrong-{n}")
    assert log_in(client, PASSWORD).status_code == 429

    AccessAttempt.objects.update(attempt_time=AccessAttempt.objects.get().attempt_time - timedelta(minutes=16))

    assert log_in(client, PASSWORD).status_code == 302 and logged_in_as(client) == str(manager.pk)


def test_a_login_that_succeeds_forgets_the_failures_before_it(manager):
    client = Client()
    for n in range(4):
        log_in(client, f"wrong-{n}")
    assert log_in(client, PASSWORD).status_code == 302
    client.post("/admin/logout/")

    answers = [log_in(client, f"again-{n}").status_code for n in range(4)]

    assert answers == [200, 200, 200, 200]
    assert log_in(client, PASSWORD).status_code == 302


@pytest.mark.parametrize(
    ("proxies", "remote", "forwarded", "client"),
    [
        pytest.param(0, "192.0.2.1", None, "192.0.2.1", id="no proxy"),
        pytest.param(0, "192.0.2.1", "203.0.113.5", "192.0.2.1", id="no proxy trusted: the header is the client's"),
        pytest.param(1, "192.0.2.1", "203.0.113.5", "203.0.113.5", id="one proxy"),
        pytest.param(1, "192.0.2.1", "198.51.100.7, 203.0.113.5", "203.0.113.5", id="one proxy, a written entry"),
        pytest.param(2, "192.0.2.1", "198.51.100.7, 203.0.113.5, 192.0.2.2", "203.0.113.5", id="two proxies"),
        pytest.param(2, "192.0.2.1", "203.0.113.5", "203.0.113.5", id="fewer entries than proxies"),
        pytest.param(1, "192.0.2.1", None, "192.0.2.1", id="a proxy that sent no header"),
    ],
)
def test_the_client_address_is_the_one_the_trusted_proxies_saw(settings, proxies, remote, forwarded, client):
    settings.TRUSTED_PROXIES = proxies
    headers = {"REMOTE_ADDR": remote} | ({"HTTP_X_FORWARDED_FOR": forwarded} if forwarded else {})

    assert client_address(RequestFactory().get("/", **headers)) == client


def test_behind_a_trusted_proxy_the_lockout_is_the_clients_not_the_proxys(settings, manager):
    settings.TRUSTED_PROXIES = 1
    proxy = Client(REMOTE_ADDR="192.0.2.1")
    for n in range(5):
        # An entry the client wrote itself comes before the proxy's, and changes nothing.
        log_in(proxy, f"wrong-{n}", headers={"X-Forwarded-For": f"198.51.100.{n}, 203.0.113.5"})

    assert log_in(proxy, PASSWORD, headers={"X-Forwarded-For": "203.0.113.5"}).status_code == 429
    assert AccessAttempt.objects.get().ip_address == "203.0.113.5"
    assert log_in(proxy, PASSWORD, headers={"X-Forwarded-For": "203.0.113.6"}).status_code == 302


def test_a_weak_password_is_refused_with_the_rules_message(manager):
    client = Client()
    assert log_in(client, PASSWORD).status_code == 302

    response = client.post(
        "/admin/password_change/", {"old_password": PASSWORD, "new_password1": "a", "new_password2": "a"}
    )

    assert response.status_code == 200
    assert "This password is too short. It must contain at least 8 characters." in response.text
    manager.refresh_from_db()
    assert manager.check_password(PASSWORD)


@pytest.mark.slow
@pytest.mark.parametrize("server", ["web", "display"])
def test_a_lockout_is_a_429_on_either_server_and_a_login_locked_out_line(server, processes, start_display, manager):
    if server == "web":
        started = []
        url = start_web(lambda *args, **env: started.append(processes(*args, **env)) or started[-1])
        [process] = started
    else:
        port = free_port()
        process = start_display("display", port)
        url = f"http://127.0.0.1:{port}"
    session = requests.Session()
    session.get(f"{url}{LOGIN}", timeout=10)

    def post(password: str) -> requests.Response:
        form = {"username": "mara", "password": password, "csrfmiddlewaretoken": session.cookies["csrftoken"]}
        return session.post(f"{url}{LOGIN}", data=form, allow_redirects=False, timeout=10)

    answers = [post(f"wrong-{n}").status_code for n in range(5)]
    refused = post(PASSWORD)

    assert answers == [200, 200, 200, 200, 429]
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "900"
    [*_, line] = process.wait_for_action("login_locked_out", count=2)
    assert line["level"] == "INFO" and line["details"]["username"] == "mara"
    assert line["details"]["client"] == "127.0.0.1" and line["details"]["path"] == LOGIN
