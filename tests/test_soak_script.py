"""scripts/soak.py (`make soak`, ten minutes) kept working: a short soak of it, every kill and every
kind of poison message in 24 s of load, must pass its own checks and leave no database or vhost."""

import re
import subprocess

import pytest

from tests.amqp import rabbitmqctl
from tests.support import PYTHON, REPO, admin_connection

pytestmark = pytest.mark.slow


@pytest.mark.timeout(180)
def test_a_short_soak_passes_its_checks_and_cleans_up():
    command = [PYTHON, "scripts/soak.py", "--minutes", "0.3", "--rate", "10", "--poison-every", "3"]
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=170)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-12000:]
    assert "every check passed" in result.stdout
    for kill in ("worker_general", "relay", "bridge", "display"):
        assert re.search(rf"^\| {kill} \| \d+ \|", result.stdout, re.MULTILINE), output[-12000:]
    for kind in ("nested 5000 deep", "not JSON", "not an object", "bad field"):
        assert f"| {kind} |" in result.stdout  # each kind dead-lettered, with its reason

    name = re.search(r"database and vhost: (restaurant_soak_\d+)", result.stdout)[1]
    with admin_connection() as admin:
        assert admin.execute("SELECT count(*) FROM pg_database WHERE datname = %s", [name]).fetchone()[0] == 0
    assert name not in rabbitmqctl("list_vhosts", "--silent", "name").split()
