"""Issue 17 item 15: the production variables (README "Running it for real") leave
`manage.py check --deploy` with nothing to say, every page carries a Content-Security-Policy that
allows no inline script, and behind a TLS proxy plain HTTP is redirected but the health checks."""

import os
import subprocess

import pytest
import requests
from django.test import Client

from tests.support import PYTHON, REPO, manage, start_web

PRODUCTION = {"DEBUG": "False", "SECRET_KEY": "k" * 20 + "-production-secret-key-of-fifty-chars", "HTTPS": "true"}


def deploy_check(**env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        manage("check", "--deploy", "--fail-level", "WARNING"),
        cwd=REPO,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "restaurant.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_production_variables_leave_the_deploy_check_nothing_to_say():
    checked = deploy_check(**PRODUCTION, TRUSTED_PROXIES="1")

    assert checked.returncode == 0, checked.stderr
    assert "no issues" in checked.stdout


def test_without_https_the_deploy_check_warns():
    checked = deploy_check(**{**PRODUCTION, "HTTPS": "false"})

    assert checked.returncode != 0
    assert "SESSION_COOKIE_SECURE" in checked.stderr


def test_trusted_proxies_name_the_hops_the_rate_limits_read_the_client_address_from():
    shown = subprocess.run(
        [
            PYTHON,
            "-c",
            "import django; django.setup(); from django.conf import settings; "
            "print(settings.REST_FRAMEWORK['NUM_PROXIES'], settings.SECURE_PROXY_SSL_HEADER)",
        ],
        cwd=REPO,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "restaurant.settings", **PRODUCTION, "TRUSTED_PROXIES": "2"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shown.stdout.split() == ["2", "('HTTP_X_FORWARDED_PROTO',", "'https')"], shown.stderr


@pytest.mark.parametrize("path", ["/board/", "/kitchen/", "/admin/login/", "/menu", "/api/docs/", "/health/live"])
def test_every_page_carries_a_content_security_policy_without_inline_script(db, path):
    response = Client().get(path)

    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self';" in policy and "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]
    assert "frame-ancestors 'none'" in policy


@pytest.mark.slow
def test_behind_a_tls_proxy_plain_http_is_redirected_but_the_health_checks(processes):
    url = start_web(processes, **{k: v for k, v in PRODUCTION.items() if k != "SECRET_KEY"}, TRUSTED_PROXIES="1")

    plain = requests.get(f"{url}/menu", allow_redirects=False, timeout=10)
    proxied = requests.get(f"{url}/menu", headers={"X-Forwarded-Proto": "https"}, timeout=10)
    health = requests.get(f"{url}/health/live", timeout=10)

    assert plain.status_code == 301 and plain.headers["Location"].startswith("https://")
    assert proxied.status_code == 200 and "max-age=31536000" in proxied.headers["Strict-Transport-Security"]
    assert health.status_code == 200
