"""The staff order API's cancel (issue 19): `POST /orders/{number}/cancel` (also under `/api/`), for the
Manager and Front of house roles and superusers, by token or by a session that sends its CSRF token;
the order's kitchen units are free at once; `409` when the state machine refuses, `200` and nothing
written for an order already cancelled; an optional `reason` kept as the log row's notes.

In-process (Django's test client), against the real PostgreSQL.
"""

import json
from datetime import UTC, datetime, timedelta

import pytest
import requests
from django.conf import settings
from django.test import Client
from django.utils import timezone
from django.utils.crypto import get_random_string
from drf_spectacular.generators import SchemaGenerator

from orders.models import Order, OrderStatus, OrderStatusLog, SlotLoad, SlotReservation
from orders.tokens import api_token_create
from restaurant.broker import NOTIFICATIONS_EXCHANGE
from restaurant.models import OutboxMessage
from restaurant.throttling import DatabaseRateThrottle
from tests.factories import (
    FRONT_OF_HOUSE,
    KITCHEN,
    MANAGER,
    create_order,
    get_json,
    load_test_menu,
    logged,
    menu_copy,
    post,
    staff_user,
)

pytestmark = pytest.mark.django_db

PREFIXES = [pytest.param("", id="root"), pytest.param("/api", id="api")]


# --- helpers ----------------------------------------------------------------------------------


def token_client(role: str | None, username: str | None = None) -> Client:
    """A client sending `Authorization: Token …` of a new account in `role` (in none when None)."""
    user = staff_user(role or MANAGER, username)
    key = api_token_create(user=user)
    if role is None:
        user.groups.clear()
    return Client(headers={"Authorization": f"Token {key}"})


def session_client(role: str | None, username: str | None = None, *, csrf: bool = True, superuser: bool = False):
    """A logged-in browser that checks CSRF as a real one is checked; with `csrf`, it holds the CSRF
    cookie and sends its token in `X-CSRFToken`, as the back office's pages do."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff_user(role, username, superuser=superuser))
    if csrf:
        secret = get_random_string(32)
        client.cookies[settings.CSRF_COOKIE_NAME] = secret
        client.defaults["HTTP_X_CSRFTOKEN"] = secret
    return client


def cancel(client: Client, number: str, body=None, *, prefix: str = "", content_type: str = "application/json"):
    """POST /orders/{number}/cancel, with `body` JSON-encoded (unless it is text already), or with no
    body and no Content-Type at all (as `curl -X POST` sends it)."""
    path = f"{prefix}/orders/{number}/cancel"
    if body is None:
        return client.generic("POST", path)
    return post(client, body if isinstance(body, str) else json.dumps(body), content_type, path=path)


def order_state(number: str) -> tuple:
    """What a refused cancel must leave as it was: the order's status, its log and the outbox."""
    order = Order.objects.get(number=number)
    return order.status, logged(order), OutboxMessage.objects.count()


def kitchen_menu() -> dict:
    """The test menu with an oven of 6 units per slot and pizzas of load 2, in UTC with 15-minute slots."""
    menu = menu_copy()
    menu["stations"][0] |= {"capacity_per_slot": 6, "prep_seconds": 60}
    menu["categories"][0]["items"][0]["load"] = 2
    menu["kitchen"] = {"time_zone": "UTC", "slot_minutes": 15}
    return menu


def pizzas(quantity: int, ready_at: datetime) -> dict:
    items = [{"sku": "margherita", "quantity": quantity, "modifiers": ["medium"]}]
    return {"customer_name": "Jane", "order_type": "takeout", "items": items, "ready_at": iso(ready_at)}


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def a_slot_end_ahead() -> datetime:
    """The end of a 15-minute slot (UTC) that starts at least 16 minutes from now: past the lead."""
    start = (timezone.now() + timedelta(minutes=16)).replace(second=0, microsecond=0)
    start -= timedelta(minutes=start.minute % 15)
    return start + timedelta(minutes=15)


# --- a cancel ---------------------------------------------------------------------------------


@pytest.mark.parametrize("prefix", PREFIXES)
def test_front_of_house_cancels_by_token_and_gets_the_order_as_the_detail_shows_it(prefix):
    client = token_client(FRONT_OF_HOUSE, "fiona")
    number = create_order().number
    outbox_before = OutboxMessage.objects.count()

    response = cancel(client, number, {"reason": "  guest left  "}, prefix=prefix)

    assert response.status_code == 200, response.content
    body = response.json()
    assert body == get_json(client, f"/orders/{number}")
    assert body["status"] == "cancelled"
    assert [(row["status"], row["changed_by"]) for row in body["history"]] == [
        ("received", "order-service"),
        ("cancelled", "fiona"),
    ]
    row = OrderStatusLog.objects.get(order__number=number, status=OrderStatus.CANCELLED)
    assert (row.changed_by, row.notes) == ("fiona", "guest left")  # trimmed, as every text is kept
    # The guest's status update waits in the outbox (the relay publishes it), in the same transaction.
    [update] = OutboxMessage.objects.order_by("-id")[: OutboxMessage.objects.count() - outbox_before]
    assert (update.exchange, update.routing_key) == (NOTIFICATIONS_EXCHANGE, "")
    message = json.loads(update.body)
    assert (message["order_number"], message["old_status"], message["new_status"], message["changed_by"]) == (
        number,
        "received",
        "cancelled",
        "fiona",
    )


def test_a_cancel_without_a_body_or_content_type_has_no_reason():
    number = create_order().number

    response = cancel(token_client(MANAGER, "maria"), number)

    assert response.status_code == 200, response.content
    row = OrderStatusLog.objects.get(order__number=number, status=OrderStatus.CANCELLED)
    assert (row.changed_by, row.notes) == ("maria", "")


def test_a_cooking_order_may_be_cancelled():
    number = create_order(status=OrderStatus.COOKING).number

    response = cancel(token_client(FRONT_OF_HOUSE), number, {"reason": "out of dough"})

    assert response.status_code == 200, response.content
    assert Order.objects.get(number=number).status == OrderStatus.CANCELLED


def test_an_order_cancelled_already_is_answered_200_and_nothing_is_written():
    client = token_client(FRONT_OF_HOUSE, "fiona")
    number = create_order().number
    first = cancel(client, number, {"reason": "guest left"})
    before = order_state(number)

    again = cancel(client, number, {"reason": "double tap"})

    assert (first.status_code, again.status_code) == (200, 200)
    assert again.json() == first.json()
    assert order_state(number) == before
    assert OrderStatusLog.objects.get(order__number=number, status=OrderStatus.CANCELLED).notes == "guest left"


@pytest.mark.parametrize("status", [OrderStatus.READY, OrderStatus.COMPLETED])
def test_an_order_past_cooking_is_a_409_and_stays_as_it_was(status):
    number = create_order(status=status).number
    before = order_state(number)

    response = cancel(token_client(MANAGER), number)

    assert response.status_code == 409, response.content
    assert response.json() == {
        "code": "transition_not_allowed",
        "errors": {"status": [f"cannot go from {status} to cancelled"]},
    }
    assert order_state(number) == before


@pytest.mark.parametrize("prefix", PREFIXES)
@pytest.mark.parametrize("number", ["ORD_20241216_999", "ORD%00"])
def test_an_unknown_order_is_a_404(prefix, number):
    response = cancel(token_client(MANAGER), number, prefix=prefix)

    assert response.status_code == 404, response.content
    assert response.json()["code"] == "not_found"
    assert list(response.json()["errors"]) == ["order_number"]


def test_a_live_web_process_cancels_and_keeps_a_reason_sent_in_chunks(web_url):
    key = api_token_create(user=staff_user(FRONT_OF_HOUSE, "fiona"))
    number = create_order().number
    chunks = [b'{"reason": "guest ', b'left"}']  # requests sends a generator's pieces chunked

    response = requests.post(
        f"{web_url}/api/orders/{number}/cancel",
        data=iter(chunks),
        headers={"Authorization": f"Token {key}", "Content-Type": "application/json"},
        timeout=10,
    )

    assert response.status_code == 200, response.text
    assert response.json()["status"] == "cancelled"
    row = OrderStatusLog.objects.get(order__number=number, status=OrderStatus.CANCELLED)
    assert (row.changed_by, row.notes) == ("fiona", "guest left")


# --- its units --------------------------------------------------------------------------------


def test_the_cancel_frees_the_orders_kitchen_units_at_once_for_the_next_order(client):
    load_test_menu(kitchen_menu())
    when = a_slot_end_ahead()
    placed = post(client, pizzas(3, when))  # 3 pizzas of load 2: the oven's 6 units of that slot
    assert placed.status_code == 201, placed.content
    number = placed.json()["order_number"]
    assert SlotLoad.objects.get(station="oven").used == 6
    assert SlotReservation.objects.filter(order__number=number).exists()
    refused = post(client, pizzas(1, when))
    assert (refused.status_code, refused.json()["code"]) == (409, "slot_full")

    response = cancel(token_client(FRONT_OF_HOUSE), number)

    assert response.status_code == 200, response.content
    assert SlotLoad.objects.get(station="oven").used == 0
    assert not SlotReservation.objects.exists()
    taken = post(client, pizzas(3, when))
    assert taken.status_code == 201, taken.content
    assert taken.json()["promised_at"] == iso(when)  # the very slot the cancelled order held
    assert SlotLoad.objects.get(station="oven").used == 6


def test_a_refused_cancel_keeps_the_orders_units():
    load_test_menu(kitchen_menu())
    order = create_order(items=[{"sku": "margherita", "quantity": 2, "modifiers": ["medium"]}])
    assert SlotLoad.objects.get(station="oven").used == 4
    Order.objects.filter(pk=order.pk).update(status=OrderStatus.READY)  # as if cooked (no worker here)

    assert cancel(token_client(MANAGER), order.number).status_code == 409
    assert SlotLoad.objects.get(station="oven").used == 4
    assert SlotReservation.objects.filter(order=order).exists()


# --- who may cancel ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "client_of",
    [
        pytest.param(lambda: token_client(MANAGER), id="manager token"),
        pytest.param(lambda: token_client(FRONT_OF_HOUSE), id="front of house token"),
        pytest.param(lambda: session_client(MANAGER), id="manager session with its CSRF token"),
        pytest.param(lambda: session_client(FRONT_OF_HOUSE), id="front of house session with its CSRF token"),
        pytest.param(lambda: session_client(None, "root", superuser=True), id="superuser session"),
    ],
)
@pytest.mark.parametrize("prefix", PREFIXES)
def test_managers_front_of_house_and_superusers_may_cancel(client_of, prefix):
    number = create_order().number

    response = cancel(client_of(), number, prefix=prefix)

    assert response.status_code == 200, response.content
    assert Order.objects.get(number=number).status == OrderStatus.CANCELLED


@pytest.mark.parametrize(
    "client_of, status, code",
    [
        pytest.param(lambda: token_client(KITCHEN), 403, "permission_denied", id="kitchen token"),
        pytest.param(lambda: session_client(KITCHEN), 403, "permission_denied", id="kitchen session"),
        pytest.param(lambda: token_client(None), 403, "permission_denied", id="token of staff in no role"),
        pytest.param(
            lambda: session_client(FRONT_OF_HOUSE, csrf=False), 403, "permission_denied", id="session without CSRF"
        ),
        pytest.param(
            lambda: session_client(MANAGER, csrf=False), 403, "permission_denied", id="manager session without CSRF"
        ),
        pytest.param(Client, 401, "not_authenticated", id="no login"),
        pytest.param(
            lambda: Client(headers={"Authorization": "Token not-a-token"}),
            401,
            "authentication_failed",
            id="unknown token",
        ),
    ],
)
@pytest.mark.parametrize("prefix", PREFIXES)
def test_anyone_else_is_refused_and_nothing_changes(client_of, status, code, prefix):
    number = create_order().number
    before = order_state(number)

    response = cancel(client_of(), number, {"reason": "not mine to cancel"}, prefix=prefix)

    assert response.status_code == status, response.content
    assert response.json()["code"] == code
    assert list(response.json()["errors"]) == ["detail"]
    if status == 401:
        assert response["WWW-Authenticate"] == "Token"
    assert order_state(number) == before


def test_a_session_without_its_csrf_token_is_told_so():
    response = cancel(session_client(FRONT_OF_HOUSE, csrf=False), create_order().number)

    assert response.status_code == 403
    assert response.json()["errors"]["detail"][0].startswith("CSRF Failed")


def test_cancels_count_against_the_staff_limit_per_user(monkeypatch):
    monkeypatch.setattr(DatabaseRateThrottle, "rates", {"staff": (2, 60), "orders": None, "tracking": None})
    client = token_client(FRONT_OF_HOUSE)
    numbers = [create_order().number for _ in range(3)]

    answers = [cancel(client, number).status_code for number in numbers]

    assert answers == [200, 200, 429]
    assert Order.objects.get(number=numbers[2]).status == OrderStatus.RECEIVED


# --- its body ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body, field, message",
    [
        pytest.param({"reason": "x" * 201}, "reason", "must be at most 200 characters", id="too long"),
        pytest.param({"reason": 5}, "reason", "must be a string", id="not a string"),
        pytest.param(
            {"reason": "guest\u202eleft"},
            "reason",
            "must not contain invisible, direction or control characters (U+202E)",
            id="direction override",
        ),
        pytest.param(
            {"reason": "guest\nleft"},
            "reason",
            "must be printable text on one line, without control characters",
            id="line break",
        ),
        pytest.param({"reason": "guest left", "refund": True}, "refund", "unknown field", id="unknown field"),
    ],
)
def test_a_bad_reason_is_a_400_naming_the_field_and_nothing_changes(body, field, message):
    number = create_order().number
    before = order_state(number)

    response = cancel(token_client(FRONT_OF_HOUSE), number, body)

    assert response.status_code == 400, response.content
    assert response.json() == {"code": "validation_failed", "errors": {field: [message]}}
    assert order_state(number) == before


def test_a_reason_of_200_characters_is_kept():
    number = create_order().number

    assert cancel(token_client(FRONT_OF_HOUSE), number, {"reason": "é" * 200}).status_code == 200
    assert OrderStatusLog.objects.get(order__number=number, status=OrderStatus.CANCELLED).notes == "é" * 200


@pytest.mark.parametrize(
    "body, content_type, status, code",
    [
        pytest.param('["guest left"]', "application/json", 400, "invalid_json", id="not an object"),
        pytest.param("{reason: guest left}", "application/json", 400, "invalid_json", id="not JSON"),
        pytest.param('{"reason": "\\ud800"}', "application/json", 400, "invalid_json", id="a lone surrogate"),
        pytest.param(
            "reason=guest+left", "application/x-www-form-urlencoded", 415, "unsupported_media_type", id="a form"
        ),
        pytest.param('{"reason": "guest left"}', "text/plain", 415, "unsupported_media_type", id="text/plain"),
    ],
)
def test_a_body_that_is_no_json_object_is_refused_naming_the_body(body, content_type, status, code):
    number = create_order().number
    before = order_state(number)

    response = cancel(token_client(FRONT_OF_HOUSE), number, body, content_type=content_type)

    assert response.status_code == status, response.content
    assert response.json()["code"] == code
    assert list(response.json()["errors"]) == ["body"]
    assert order_state(number) == before


# --- its schema -------------------------------------------------------------------------------


@pytest.mark.parametrize("prefix", ["", "/api"])
def test_the_schema_describes_the_cancel_its_body_logins_and_answers(prefix):
    spec = SchemaGenerator().get_schema(request=None, public=True)
    operation = spec["paths"][f"{prefix}/orders/{{number}}/cancel"]["post"]
    schemas = spec["components"]["schemas"]
    body = operation["requestBody"]
    reason = schemas["OrderCancelRequest"]

    assert operation["security"] == [{"tokenAuth": []}, {"cookieAuth": []}]
    assert set(operation["responses"]) == {"200", "400", "401", "403", "404", "409", "413", "415", "429", "503"}
    assert "WWW-Authenticate" in operation["responses"]["401"]["headers"]
    ok = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok == {"$ref": "#/components/schemas/OrderDetail"}
    assert not body.get("required")
    assert body["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/OrderCancelRequest"}
    assert reason["additionalProperties"] is False
    assert "required" not in reason
    assert reason["properties"]["reason"]["maxLength"] == 200
    conflict = operation["responses"]["409"]["content"]["application/json"]
    assert conflict["examples"]["TransitionNotAllowed"]["value"]["code"] == "transition_not_allowed"
