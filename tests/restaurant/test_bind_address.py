"""Issue 17 ("Running it for real"): the web process and the display listen on 127.0.0.1 unless
BIND_ADDRESS says otherwise, so kitchen tablets on the restaurant's network can reach them once it
(and ALLOWED_HOSTS) name the machine's address; run as the Procfile runs them."""

import subprocess

import pytest
import requests

from tests.support import PYTHON, REPO, free_port, wait_for

pytestmark = pytest.mark.slow


def network_address() -> str | None:
    """An IPv4 address of this machine that is not loopback (what a tablet would connect to)."""
    shown = subprocess.run(["ip", "-4", "-o", "addr", "show"], capture_output=True, text=True, check=False).stdout
    addresses = [line.split()[3].split("/")[0] for line in shown.splitlines() if len(line.split()) > 3]
    return next((address for address in addresses if not address.startswith("127.")), None)


def procfile_line(name: str) -> str:
    for line in (REPO / "Procfile").read_text().splitlines():
        if line.startswith(f"{name}:"):
            # As honcho and restaurant/supervise.py run it, with this virtualenv's Python.
            command = line.split(":", 1)[1].strip()
            return command.replace("python ", f"{PYTHON} ", 1)
    raise AssertionError(f"no {name} line in the Procfile")


def answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=1).status_code == 200
    except requests.RequestException:
        return False


@pytest.mark.parametrize("name", ["web", "display"])
def test_bind_address_opens_a_process_to_the_restaurants_network(processes, name):
    address = network_address()
    if address is None:
        pytest.skip("this machine has no address but loopback")
    by_default, on_the_network = free_port(), free_port()
    command = ["/bin/sh", "-c", procfile_line(name)]
    processes(f"{name}-default", command, PORT=str(by_default))
    processes(
        f"{name}-network",
        command,
        PORT=str(on_the_network),
        BIND_ADDRESS="0.0.0.0",
        ALLOWED_HOSTS=f"localhost,127.0.0.1,{address}",
    )

    wait_for(lambda: answers(f"http://127.0.0.1:{by_default}/health/live"), timeout=30, message="the default")
    wait_for(lambda: answers(f"http://{address}:{on_the_network}/health/live"), timeout=30, message="0.0.0.0")

    assert not answers(f"http://{address}:{by_default}/health/live")  # loopback only by default
    assert requests.get(f"http://{address}:{on_the_network}/board/", timeout=5).status_code == 200
