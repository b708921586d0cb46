"""Per-client-IP rate limits (SPEC §2): ORDERS_RATE_LIMIT on POST /orders, TRACKING_RATE_LIMIT on
the tracking endpoints, against a real web process.

A second client is a second loopback source address (127.0.0.2): the server sees it as another
REMOTE_ADDR, as it would see another machine.
"""

import os
import subprocess

import pytest
import requests
from requests.adapters import HTTPAdapter

from orders.models import Order
from restaurant.models import ThrottleCounter
from tests.support import REPO, manage, order_payload, start_web

pytestmark = [pytest.mark.slow]

ORDERS_LIMIT = 3
TRACKING_LIMIT = 5
LIMITED = {"ORDERS_RATE_LIMIT": f"{ORDERS_LIMIT}/min", "TRACKING_RATE_LIMIT": f"{TRACKING_LIMIT}/min"}
TRACKING_PATHS = ["/workers/status", "/api/workers/status", "/orders/{number}/status", "/api/orders/{number}/history"]


class SourceAddressAdapter(HTTPAdapter):
    """Connects from a given local address, so one test can be several clients."""

    def __init__(self, address: str, **kwargs) -> None:
        self.source_address = (address, 0)
        super().__init__(**kwargs)

    def init_poolmanager(self, *args, **kwargs) -> None:
        kwargs["source_address"] = self.source_address
        super().init_poolmanager(*args, **kwargs)


def client_at(address: str) -> requests.Session:
    session = requests.Session()
    session.mount("http://", SourceAddressAdapter(address))
    return session


@pytest.fixture
def clients():
    """Two clients, 127.0.0.1 and 127.0.0.2 (the counters are test data: none is left from another test)."""
    first, second = client_at("127.0.0.1"), client_at("127.0.0.2")
    yield first, second
    first.close()
    second.close()


def hits(scope: str, client: str) -> int | None:
    """The requests counted in the client's current window, refused ones included."""
    return ThrottleCounter.objects.filter(scope=scope, client=client).values_list("hits", flat=True).first()


def place_order(session: requests.Session, url: str, customer_name: str = "Jane Doe") -> requests.Response:
    return session.post(f"{url}/orders", json=order_payload(customer_name=customer_name), timeout=10)


def assert_throttled(response: requests.Response) -> None:
    assert response.status_code == 429
    assert response.headers["Content-Type"] == "application/json"
    assert 0 < int(response.headers["Retry-After"]) <= 60
    body = response.json()
    assert body["code"] == "throttled"
    assert set(body["errors"]) == {"detail"}
    assert body["errors"]["detail"][0].startswith("Request was throttled")


def test_orders_over_the_limit_are_refused_per_client_and_not_written(processes, clients):
    url = start_web(processes, **LIMITED)
    first, second = clients

    accepted = [place_order(first, url).status_code for _ in range(ORDERS_LIMIT)]
    refused = place_order(first, url, customer_name="Throttled Customer")

    assert accepted == [201] * ORDERS_LIMIT
    assert_throttled(refused)
    assert not Order.objects.filter(customer_name="Throttled Customer").exists()
    assert Order.objects.count() == ORDERS_LIMIT

    # Another client is served; the limited one stays limited.
    other = place_order(second, url, customer_name="Other Client")
    assert other.status_code == 201
    assert Order.objects.filter(customer_name="Other Client").count() == 1
    assert_throttled(place_order(first, url))
    # The server told the two apart by their addresses.
    assert hits("orders", "127.0.0.1") == ORDERS_LIMIT + 2
    assert hits("orders", "127.0.0.2") == 1


def test_tracking_over_the_limit_is_refused_per_client_on_every_tracking_endpoint(processes, clients):
    url = start_web(processes, **LIMITED)
    first, second = clients
    created = place_order(first, url)
    assert created.status_code == 201
    paths = [path.format(number=created.json()["order_number"]) for path in TRACKING_PATHS]

    # One budget for all tracking endpoints, under / and /api/ alike.
    answered = [first.get(f"{url}{paths[n % len(paths)]}", timeout=10).status_code for n in range(TRACKING_LIMIT)]
    assert answered == [200] * TRACKING_LIMIT
    for path in paths:
        assert_throttled(first.get(f"{url}{path}", timeout=10))

    # Another client is served, and the order budget is separate from the tracking one.
    assert [second.get(f"{url}{path}", timeout=10).status_code for path in paths] == [200] * len(paths)
    assert place_order(first, url).status_code == 201


def test_two_web_processes_share_one_count_which_a_refused_bad_order_used_too(processes, clients):
    first_url = start_web(processes, "web-a", **LIMITED)
    second_url = start_web(processes, "web-b", **LIMITED)
    client, _ = clients

    answers = [
        place_order(client, first_url).status_code,
        client.post(f"{second_url}/orders", json={"customer_name": "Jane Doe"}, timeout=10).status_code,
        place_order(client, second_url).status_code,
    ]

    assert answers == [201, 400, 201]
    assert_throttled(place_order(client, first_url))
    assert_throttled(place_order(client, second_url))
    assert hits("orders", "127.0.0.1") == ORDERS_LIMIT + 2
    assert Order.objects.count() == 2


def test_off_disables_both_limits(processes, clients):
    url = start_web(processes, ORDERS_RATE_LIMIT="off", TRACKING_RATE_LIMIT="off")
    first, _ = clients

    orders = [place_order(first, url) for _ in range(4 * ORDERS_LIMIT)]
    tracked = [first.get(f"{url}/workers/status", timeout=10) for _ in range(4 * TRACKING_LIMIT)]

    assert [response.status_code for response in orders] == [201] * len(orders)
    assert [response.status_code for response in tracked] == [200] * len(tracked)
    # Not even counted.
    assert not ThrottleCounter.objects.exists()


def manage_check(**env: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, "DJANGO_SETTINGS_MODULE": "restaurant.settings", **env}
    return subprocess.run(manage("check"), cwd=REPO, env=environment, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("ORDERS_RATE_LIMIT", "lots"),
        ("ORDERS_RATE_LIMIT", "0/min"),
        ("TRACKING_RATE_LIMIT", "5/fortnight"),
        ("TRACKING_RATE_LIMIT", "5"),
    ],
)
def test_a_bad_rate_stops_start_up_naming_the_variable(variable, value):
    result = manage_check(**{variable: value})

    assert result.returncode != 0
    assert variable in result.stderr
    assert repr(value) in result.stderr


def test_good_rates_pass_the_start_up_check():
    result = manage_check(ORDERS_RATE_LIMIT="10/min", TRACKING_RATE_LIMIT="OFF")

    assert result.returncode == 0, result.stderr
