"""The OpenAPI 3 description (drf-spectacular): it generates without warnings and validates, it
describes every endpoint with the rules of SPEC §3 and the shapes of §6 and §7, the live server
serves it and its Swagger UI (without a CDN), and fuzzing the live server from it finds no 5xx.
"""

import re
import subprocess
import time

import pytest
import requests
import schemathesis
from django.test import RequestFactory
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema
from drf_spectacular.views import SpectacularAPIView
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from orders.models import OrderStatus
from orders.tokens import api_token_create
from restaurant.openapi import SchemaApi
from tests.factories import FRONT_OF_HOUSE, KITCHEN, create_order, staff_user
from tests.support import REPO, manage

TRACKING = {"/orders/{number}/status", "/orders/{number}/history", "/workers/status", "/slots"}
STAFF = {"/orders", "/orders/{number}"}
ENDPOINTS = {
    ("/orders", "post"),
    ("/api/orders", "post"),
    *((path, "get") for path in TRACKING | STAFF),
    *((f"/api{path}", "get") for path in TRACKING | STAFF),
    ("/orders/{number}/cancel", "post"),
    ("/api/orders/{number}/cancel", "post"),
    ("/menu", "get"),
    ("/api/menu", "get"),
    ("/health", "get"),
    ("/health/live", "get"),
    ("/health/ready", "get"),
}
FUZZ_EXAMPLES = 25  # per operation and generation mode


@pytest.fixture(scope="module")
def spec() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


def resolve(spec: dict, schema: dict) -> dict:
    if "$ref" in schema:
        return spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    if "allOf" in schema:
        return resolve(spec, schema["allOf"][0])
    return schema


def json_schema(spec: dict, path: str, method: str, status: str) -> dict:
    content = spec["paths"][path][method]["responses"][status]["content"]["application/json"]
    return resolve(spec, content["schema"])


@pytest.mark.slow
def test_schema_generates_without_warnings_and_validates(tmp_path):
    result = subprocess.run(
        manage("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml")),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "openapi: 3." in (tmp_path / "schema.yaml").read_text()


def test_schema_lists_every_endpoint_and_nothing_else(spec):
    validate_schema(spec)
    listed = {(path, method) for path, operations in spec["paths"].items() for method in operations}

    assert listed == ENDPOINTS
    assert spec["info"]["title"] == "Restaurant order system"


def test_order_request_body_states_the_intake_rules(spec):
    body = spec["paths"]["/orders"]["post"]["requestBody"]
    order = resolve(spec, body["content"]["application/json"]["schema"])
    fields = order["properties"]
    line = resolve(spec, fields["items"]["items"])
    menu_item, item = (resolve(spec, choice) for choice in line["oneOf"])

    assert body["required"] is True
    assert set(body["content"]) == {"application/json"}
    assert order["additionalProperties"] is False
    assert set(order["required"]) == {"customer_name", "order_type", "items"}
    assert (fields["customer_name"]["minLength"], fields["customer_name"]["maxLength"]) == (1, 100)
    assert resolve(spec, fields["order_type"])["enum"] == ["dine_in", "takeout", "delivery"]
    assert (fields["items"]["minItems"], fields["items"]["maxItems"]) == (1, 20)
    assert (fields["table_number"]["type"], fields["table_number"]["minimum"], fields["table_number"]["maximum"]) == (
        "integer",
        1,
        100,
    )
    assert fields["delivery_address"]["minLength"] == 10
    assert item["additionalProperties"] is False
    assert set(item["required"]) == {"name", "quantity", "price"}
    assert menu_item["additionalProperties"] is False
    assert set(menu_item["required"]) == {"sku", "quantity"}
    assert set(menu_item["properties"]) == {"sku", "quantity", "modifiers", "notes", "price"}
    assert (item["properties"]["name"]["minLength"], item["properties"]["name"]["maxLength"]) == (1, 50)
    quantity, price = item["properties"]["quantity"], item["properties"]["price"]
    assert (quantity["type"], quantity["minimum"], quantity["maximum"]) == ("integer", 1, 10)
    assert (price["type"], price["minimum"], price["maximum"], price["multipleOf"]) == ("number", 0.01, 999.99, 0.01)


def test_order_responses_are_documented_with_the_error_shape(spec):
    responses = spec["paths"]["/orders"]["post"]["responses"]
    created = json_schema(spec, "/orders", "post", "201")
    error = json_schema(spec, "/orders", "post", "400")

    assert set(responses) == {"201", "400", "409", "413", "415", "429", "503"}
    assert set(created["properties"]) == {"order_number", "status", "total_amount", "promised_at"}
    assert created["properties"]["total_amount"]["type"] == "number"
    assert "Location" in responses["201"]["headers"]
    assert "Retry-After" in responses["429"]["headers"]
    assert set(error["required"]) == {"code", "errors"}
    for status in ("400", "413", "415", "429", "503"):
        assert json_schema(spec, "/orders", "post", status) == error
        for example in responses[status]["content"]["application/json"]["examples"].values():
            assert set(example["value"]) == {"code", "errors"}
    # The kitchen's refusals (orders/capacity.py) carry when to come back beside code and errors.
    assert json_schema(spec, "/orders", "post", "409") == error
    refusals = {
        example["value"]["code"]: set(example["value"]) - {"code", "errors"}
        for example in (responses["409"]["content"]["application/json"]["examples"].values())
    }
    assert refusals == {
        "slot_full": {"next_available"},
        "closed": {"next_open"},
        "kitchen_paused": {"paused_until", "next_available"},
    }
    example = responses["201"]["content"]["application/json"]["examples"]["Created"]["value"]
    assert example == {"order_number": "ORD_20241216_001", "status": "received", "total_amount": 24.98}


@pytest.mark.parametrize("prefix", ["", "/api"])
def test_tracking_responses_are_documented(spec, prefix):
    status = json_schema(spec, f"{prefix}/orders/{{number}}/status", "get", "200")
    history = spec["paths"][f"{prefix}/orders/{{number}}/history"]["get"]["responses"]["200"]
    workers = spec["paths"][f"{prefix}/workers/status"]["get"]["responses"]["200"]
    history_schema = history["content"]["application/json"]["schema"]
    workers_schema = workers["content"]["application/json"]["schema"]

    assert set(status["properties"]) == {
        "order_number",
        "current_status",
        "updated_at",
        "estimated_completion",
        "promised_at",
        "fire_at",
        "processed_by",
    }
    assert status["properties"]["updated_at"]["format"] == "date-time"
    assert status["properties"]["fire_at"]["format"] == "date-time" and status["properties"]["fire_at"]["nullable"]
    assert status["properties"]["estimated_completion"]["nullable"] is True
    assert history_schema["type"] == workers_schema["type"] == "array"
    assert set(resolve(spec, history_schema["items"])["properties"]) == {"status", "timestamp", "changed_by"}
    assert set(resolve(spec, workers_schema["items"])["properties"]) == {
        "worker_name",
        "status",
        "orders_processed",
        "last_seen",
    }
    for path in (f"{prefix}/orders/{{number}}/status", f"{prefix}/orders/{{number}}/history"):
        assert json_schema(spec, path, "get", "404") == resolve(spec, {"$ref": "#/components/schemas/Error"})


@pytest.mark.parametrize("prefix", ["", "/api"])
def test_staff_endpoints_are_documented_with_their_logins_and_refusals(spec, prefix):
    listing = spec["paths"][f"{prefix}/orders"]["get"]
    detail = spec["paths"][f"{prefix}/orders/{{number}}"]["get"]
    page = json_schema(spec, f"{prefix}/orders", "get", "200")
    order = json_schema(spec, f"{prefix}/orders/{{number}}", "get", "200")
    error = resolve(spec, {"$ref": "#/components/schemas/Error"})

    for operation in (listing, detail):
        assert operation["security"] == [{"tokenAuth": []}, {"cookieAuth": []}]
        assert "WWW-Authenticate" in operation["responses"]["401"]["headers"]
    assert set(listing["responses"]) == {"200", "400", "401", "403", "429", "503"}
    assert set(detail["responses"]) == {"200", "401", "403", "404", "429", "503"}
    for status in ("400", "401", "403", "429", "503"):
        assert json_schema(spec, f"{prefix}/orders", "get", status) == error
    query = {
        parameter["name"]: parameter["schema"] for parameter in listing["parameters"] if parameter["in"] == "query"
    }
    assert set(query) == {"status", "order_type", "since", "page", "limit"}
    assert (query["limit"]["minimum"], query["limit"]["maximum"], query["limit"]["default"]) == (1, 100, 20)
    assert (query["page"]["minimum"], query["since"]["format"]) == (1, "date-time")
    assert set(page["properties"]) == {"next", "previous", "results"}
    assert {"items", "history", "item_count", "total_amount"} <= set(order["properties"])
    assert resolve(spec, order["properties"]["items"]["items"])["properties"]["price"]["type"] == "number"
    # POST /orders on the same path stays public.
    assert "security" not in spec["paths"][f"{prefix}/orders"]["post"]


def test_health_endpoints_are_documented(spec):
    health = spec["paths"]["/health"]["get"]["responses"]

    assert set(health) == {"200", "503"}
    assert set(spec["paths"]["/health/live"]["get"]["responses"]) == {"200"}
    assert set(spec["paths"]["/health/ready"]["get"]["responses"]) == {"200", "503"}
    assert set(json_schema(spec, "/health", "get", "200")["properties"]) == {"status", "checks", "outbox"}


# --- built once per process ---------------------------------------------------------------------


@pytest.mark.django_db
def test_the_schema_is_built_once_per_process_and_rendered_once_per_format(client, monkeypatch):
    monkeypatch.setattr(SchemaApi, "_rendered", {})  # as a fresh process has it
    builds = []
    build = SchemaGenerator.get_schema
    monkeypatch.setattr(SchemaGenerator, "get_schema", lambda self, **kw: builds.append(1) or build(self, **kw))
    # Whatever the query (a version, a language, anything), nothing makes another schema to build.
    queries = [{}, {"format": "json"}, {}, {"format": "json"}, {"version": "2", "lang": "fr"}, {"x": "1"}] * 3

    answers = [client.get("/api/schema/", query) for query in queries]

    assert len(builds) == 2  # YAML and JSON; a build takes ~75 ms of CPU, a YAML rendering ~55 ms
    assert all(answer.status_code == 200 for answer in answers)
    yaml_answers = {answer.content for answer in answers if "json" not in answer["Content-Type"]}
    json_answers = {answer.content for answer in answers if "json" in answer["Content-Type"]}
    assert len(yaml_answers) == len(json_answers) == 1
    # What drf-spectacular's own view answers, byte for byte, with the same headers.
    for query in ({}, {"format": "json"}):
        own = SpectacularAPIView.as_view()(RequestFactory().get("/api/schema/", query))
        own.render()
        ours = client.get("/api/schema/", query)
        assert ours.content == own.content
        assert (ours["Content-Type"], ours["Content-Disposition"]) == (own["Content-Type"], own["Content-Disposition"])


# --- the live server ---------------------------------------------------------------------------


@pytest.mark.slow
def test_live_server_serves_the_schema_and_an_offline_swagger_ui(web_url):
    schema = requests.get(f"{web_url}/api/schema/", params={"format": "json"}, timeout=10)
    docs = requests.get(f"{web_url}/api/docs/", timeout=10)

    assert schema.status_code == 200
    assert schema.json()["openapi"].startswith("3.")
    assert docs.status_code == 200
    assert docs.headers["Content-Type"].startswith("text/html")
    # Its script is a file of its own, not inline (the Content-Security-Policy allows none), and loads the schema.
    assert "script-src 'self'" in docs.headers["Content-Security-Policy"]
    assert re.findall(r"<script>", docs.text) == [] and '<script src="/api/docs/?script="' in docs.text
    script = requests.get(f"{web_url}/api/docs/", params={"script": ""}, timeout=10)
    assert script.headers["Content-Type"].startswith("application/javascript")
    assert "/api/schema/" in script.text
    # Swagger UI's files come from this server, not from a CDN.
    assert "cdn." not in docs.text
    for asset in ("swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js"):
        path = f"/static/drf_spectacular_sidecar/swagger-ui-dist/{asset}"
        assert path in docs.text
        response = requests.get(f"{web_url}{path}", timeout=10)
        assert response.status_code == 200, path
        assert len(response.content) > 1000
    # Nothing outside Swagger UI's folder is served.
    outside = requests.get(f"{web_url}/static/drf_spectacular_sidecar/%2e%2e/%2e%2e/__init__.py", timeout=10)
    assert outside.status_code in (400, 404)
    assert set(outside.json()) == {"code", "errors"}


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_fuzzing_the_live_server_from_its_schema_finds_no_server_error(web_url):
    """Every operation, with data that fits the schema and data that does not. Fitting data must
    also get a documented status, content type and body. The staff endpoints are called with a
    Kitchen account's token (the least of the staff roles that may read), the cancel with a Front of
    house one (the least that may cancel), and an order's detail and cancel are also asked for an
    order that exists (ready: its cancel is refused, so it stays for the others)."""
    token = api_token_create(user=staff_user(KITCHEN))
    canceller = api_token_create(user=staff_user(FRONT_OF_HOUSE))
    order = create_order(status=OrderStatus.READY)
    schema = schemathesis.openapi.from_url(f"{web_url}/api/schema/?format=json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {(op.path, op.method.lower()) for op in operations} == ENDPOINTS

    started = time.monotonic()
    answers = []
    for operation in operations:
        key = canceller if operation.path.endswith("/cancel") else token
        login = {"Authorization": f"Token {key}"} if "security" in operation.definition.raw else {}
        answers += fuzz(operation, GenerationMode.POSITIVE, web_url, headers=login)
        # Bodies and query strings can break the schema in many ways; a path parameter that is any
        # string cannot.
        if operation.body or operation.query:
            answers += fuzz(operation, GenerationMode.NEGATIVE, web_url, headers=login)
        if operation.path.endswith(("/orders/{number}", "/orders/{number}/cancel")):
            answers += fuzz(
                operation, GenerationMode.POSITIVE, web_url, headers=login, path_parameters={"number": order.number}
            )

    assert time.monotonic() - started < 120
    # Every operation was called, and the calls reached both answers and refusals.
    assert {label for label, _ in answers} == {operation.label for operation in operations}
    statuses = {status for _, status in answers}
    assert {200, 201, 400, 404} <= statuses
    assert max(statuses) < 500
    # The token was taken: the staff endpoints answered.
    for label in ("GET /orders", "GET /api/orders", "GET /orders/{number}", "GET /api/orders/{number}"):
        assert (label, 200) in answers, label
    # The Front of house token was taken too: the ready order's cancel was refused by the state machine.
    for label in ("POST /orders/{number}/cancel", "POST /api/orders/{number}/cancel"):
        assert (label, 409) in answers, label


def fuzz(operation, mode: GenerationMode, base_url: str, **fixed: dict[str, str]) -> list[tuple[str, int]]:
    """Up to FUZZ_EXAMPLES calls of `operation` with `mode` data, but for the `fixed` headers or path
    parameters (in place of what schemathesis would make up), each answer checked; the (operation,
    status) of each call."""
    answers: list[tuple[str, int]] = []
    checks = [not_a_server_error]
    if mode is GenerationMode.POSITIVE:
        checks += [status_code_conformance, content_type_conformance, response_schema_conformance]

    @settings(
        max_examples=FUZZ_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode, **fixed))
    def run(case):
        response = case.call(base_url=base_url, timeout=10)
        answers.append((operation.label, response.status_code))
        case.validate_response(response, checks=checks)

    run()
    return answers
