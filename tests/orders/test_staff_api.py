"""The staff order API (issue 9): `GET /orders` (filters, newest first, pages with `next`/`previous`)
and `GET /orders/{number}` (items and history), refused without a staff login (session or token);
`POST /orders` stays public; `create_api_token`; the token admin for Managers only; tokens stored
hashed, shown once, for active staff in a role, with an optional expiry (issue 17 item 8).

In-process (Django's test client, the real PostgreSQL), but for the command's exit code.
"""

import importlib
import re
import subprocess
from datetime import UTC, datetime, timedelta
from io import StringIO
from urllib.parse import urlencode

import pytest
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django.test import Client
from django.utils import timezone

from orders.models import ApiToken, Order, OrderStatus
from orders.tokens import api_token_create
from restaurant.throttling import DatabaseRateThrottle
from tests.factories import (
    FRONT_OF_HOUSE,
    KITCHEN,
    MANAGER,
    create_order,
    get_json,
    load_test_menu,
    logged_in,
    messages_of,
    order_payload,
    staff_user,
)
from tests.support import REPO, manage

pytestmark = pytest.mark.django_db

PREFIXES = [pytest.param("", id="root"), pytest.param("/api", id="api")]
SUMMARY_FIELDS = {
    "order_number",
    "status",
    "order_type",
    "customer_name",
    "table_number",
    "delivery_address",
    "contact_phone",
    "contact_email",
    "total_amount",
    "priority",
    "created_at",
    "updated_at",
    "processed_by",
    "estimated_completion",
    "promised_at",
    "item_count",
}
ADDRESS = "221B Baker Street, London"


# --- helpers ----------------------------------------------------------------------------------


def token_client(role: str | None, username: str | None = None, *, active: bool = True) -> Client:
    """A client that sends `Authorization: Token …` of a new account in `role`."""
    user = staff_user(role or MANAGER, username)
    key = api_token_create(user=user)  # made while the user may hold one, then changed as asked
    if role is None:
        user.groups.clear()
    if not active:
        user.is_active = False
        user.save()
    return token_of(key)


def token_of(key: str) -> Client:
    return Client(headers={"Authorization": f"Token {key}"})


@pytest.fixture
def manager() -> Client:
    return token_client(MANAGER)


def numbers(page: dict) -> list[str]:
    return [entry["order_number"] for entry in page["results"]]


def created_at(order: Order, moment: datetime) -> Order:
    Order.objects.filter(pk=order.pk).update(created_at=moment)
    return order


# --- shapes -----------------------------------------------------------------------------------


@pytest.mark.parametrize("prefix", PREFIXES)
def test_a_list_entry_has_the_summary_fields_as_json_types(manager, prefix):
    items = [
        {"name": "Margherita Pizza", "quantity": 2, "price": 15.99},
        {"name": "Caesar Salad", "quantity": 1, "price": 8.50},
    ]
    order = create_order(order_type="dine_in", table_number=12, items=items, status=OrderStatus.COOKING)

    page = get_json(manager, f"{prefix}/orders")

    assert set(page) == {"next", "previous", "results"}
    [entry] = page["results"]
    assert set(entry) == SUMMARY_FIELDS
    assert entry["order_number"] == order.number
    assert (entry["status"], entry["order_type"], entry["table_number"]) == ("cooking", "dine_in", 12)
    assert (entry["customer_name"], entry["delivery_address"]) == ("Jane Doe", None)
    assert (entry["contact_phone"], entry["contact_email"]) == ("", "")
    assert entry["total_amount"] == 40.48 and isinstance(entry["total_amount"], float)
    assert (entry["priority"], entry["item_count"], entry["processed_by"]) == (1, 3, "chef_mario")
    for field in ("created_at", "updated_at", "estimated_completion"):
        assert entry[field].endswith("Z"), entry[field]
    assert datetime.fromisoformat(entry["created_at"]) == order.created_at


def test_the_detail_of_a_menu_order_shows_each_items_sku_station_modifiers_and_notes(manager):
    load_test_menu()
    line = {"sku": "margherita", "quantity": 1, "modifiers": ["large", "olives"], "notes": "cut in 8"}
    order = create_order(items=[line], notes="ring twice")

    body = get_json(manager, f"/orders/{order.number}")

    assert body["notes"] == "ring twice"
    assert body["items"] == [
        {
            "name": "Margherita Pizza",
            "quantity": 1,
            "price": 16.5,
            "sku": "margherita",
            "station": "oven",
            "modifiers": [
                {"code": "large", "name": "Large", "price_delta": 3.0},
                {"code": "olives", "name": "Olives", "price_delta": 1.0},
            ],
            "notes": "cut in 8",
        }
    ]


@pytest.mark.parametrize("prefix", PREFIXES)
def test_the_detail_is_the_summary_with_items_and_history_oldest_first(manager, prefix):
    items = [
        {"name": "Margherita Pizza", "quantity": 2, "price": 15.99},
        {"name": "Tiramisu", "quantity": 1, "price": 4.50},
    ]
    order = create_order(order_type="delivery", delivery_address=ADDRESS, items=items, status=OrderStatus.READY)

    body = get_json(manager, f"{prefix}/orders/{order.number}")

    assert set(body) == SUMMARY_FIELDS | {"notes", "items", "history"}
    assert (body["order_number"], body["status"], body["delivery_address"]) == (order.number, "ready", ADDRESS)
    assert (body["total_amount"], body["item_count"]) == (36.48, 3)
    free = {"sku": None, "station": "", "modifiers": [], "notes": ""}
    assert body["items"] == [
        {"name": "Margherita Pizza", "quantity": 2, "price": 15.99, **free},
        {"name": "Tiramisu", "quantity": 1, "price": 4.5, **free},
    ]
    history = body["history"]
    assert [(row["status"], row["changed_by"]) for row in history] == [
        ("received", "order-service"),
        ("cooking", "chef_mario"),
        ("ready", "chef_mario"),
    ]
    assert set(history[0]) == {"status", "timestamp", "changed_by"}
    assert [row["timestamp"] for row in history] == sorted(row["timestamp"] for row in history)


@pytest.mark.parametrize("prefix", PREFIXES)
@pytest.mark.parametrize("number", ["ORD_20000101_001", "%00", "\u00e9t\u00e9", "x" * 300])
def test_an_unknown_order_is_a_json_404(manager, prefix, number):
    body = get_json(manager, f"{prefix}/orders/{number}", 404)

    assert body["code"] == "not_found"
    assert list(body["errors"]) == ["order_number"]


def test_reads_take_the_same_queries_for_one_order_as_for_many(manager, django_assert_max_num_queries):
    def queries(path: str) -> int:
        with django_assert_max_num_queries(100) as captured:
            assert manager.get(path).status_code == 200
        return len(captured)

    first = create_order(status=OrderStatus.READY)
    one = (queries("/orders"), queries(f"/orders/{first.number}"))
    items = [{"name": f"Dish {n}", "quantity": 1, "price": 5} for n in range(5)]
    many = [create_order(items=items, status=OrderStatus.READY) for _ in range(4)]

    assert (queries("/orders"), queries(f"/orders/{many[-1].number}")) == one


# --- order and pages --------------------------------------------------------------------------


def test_orders_are_listed_newest_first(manager):
    orders = [create_order(customer_name=name) for name in ("Ann", "Bob", "Cid")]

    assert numbers(get_json(manager, "/orders")) == [order.number for order in reversed(orders)]


def test_pages_link_to_the_next_and_previous_page_keeping_the_filters(manager):
    orders = [create_order() for _ in range(5)]
    create_order(order_type="dine_in", table_number=3)  # filtered out
    newest_first = [order.number for order in reversed(orders)]

    first = get_json(manager, "/orders", order_type="takeout", limit=2)
    second = get_json(manager, first["next"])
    last = get_json(manager, second["next"])

    assert first["next"] == "http://testserver/orders?limit=2&order_type=takeout&page=2"
    assert first["previous"] is None
    assert (numbers(first), numbers(second), numbers(last)) == (newest_first[:2], newest_first[2:4], newest_first[4:])
    assert second["previous"] == "http://testserver/orders?limit=2&order_type=takeout&page=1"
    assert get_json(manager, last["previous"]) == second
    assert last["next"] is None


def test_the_default_page_is_20_orders_and_a_page_past_the_end_is_empty(manager):
    for _ in range(21):
        create_order()

    first = get_json(manager, "/orders")

    assert len(first["results"]) == 20
    assert first["next"] == "http://testserver/orders?page=2"
    assert get_json(manager, "/orders", page=3) == {
        "next": None,
        "previous": "http://testserver/orders?page=2",
        "results": [],
    }


# --- filters ----------------------------------------------------------------------------------

OLD = datetime(2024, 12, 16, 10, 0, tzinfo=UTC)
EVERY = {"old", "cooking", "cancelled", "dine_in", "delivery"}


@pytest.fixture
def mixed_orders() -> dict[str, Order]:
    """One order per case: `old` (made at OLD), `cooking`, `cancelled`, `dine_in`, `delivery` (made now)."""
    return {
        "old": created_at(create_order(), OLD),
        "cooking": create_order(status=OrderStatus.COOKING),
        "cancelled": create_order(status=OrderStatus.CANCELLED),
        "dine_in": create_order(order_type="dine_in", table_number=7),
        "delivery": create_order(order_type="delivery", delivery_address=ADDRESS),
    }


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"status": "cooking"}, {"cooking"}),
        ({"status": "cancelled"}, {"cancelled"}),
        ({"status": "received"}, {"old", "dine_in", "delivery"}),
        ({"status": "ready"}, set()),
        ({"order_type": "dine_in"}, {"dine_in"}),
        ({"order_type": "takeout"}, {"old", "cooking", "cancelled"}),
        ({"since": "2024-12-16T10:00:00Z"}, EVERY),
        ({"since": "2024-12-16T10:00:00.000001Z"}, EVERY - {"old"}),
        ({"since": "2999-01-01T00:00:00+00:00"}, set()),
        ({"status": "received", "order_type": "takeout"}, {"old"}),
        ({"status": "", "order_type": "", "since": "", "page": "", "limit": ""}, EVERY),
    ],
    ids=lambda value: urlencode(value) if isinstance(value, dict) else ",".join(sorted(value)) or "none",
)
def test_each_filter_keeps_only_its_orders(manager, mixed_orders, params, expected):
    page = get_json(manager, "/orders", **params)

    assert set(numbers(page)) == {mixed_orders[name].number for name in expected}


def test_since_without_an_offset_is_utc_and_with_one_is_converted(manager):
    order = created_at(create_order(), OLD)

    assert numbers(get_json(manager, "/orders", since="2024-12-16T10:00:00")) == [order.number]
    assert numbers(get_json(manager, "/orders", since="2024-12-16T11:00:01+01:00")) == []
    assert numbers(get_json(manager, "/orders", since="2024-12-16T11:00:00+01:00")) == [order.number]
    assert numbers(get_json(manager, "/orders", since="2024-12-16")) == [order.number]


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("status", "burnt"),
        ("status", "RECEIVED"),
        ("order_type", "pickup"),
        ("since", "yesterday"),
        ("since", "2024-13-01T00:00:00Z"),
        ("since", "2024-12-16T10:00:00 01:00"),  # a `+` sent unencoded arrives as a space
        ("limit", "0"),
        ("limit", "101"),
        ("limit", "-1"),
        ("limit", "ten"),
        ("page", "0"),
        ("page", "first"),
        ("page", "100001"),
    ],
)
def test_a_bad_parameter_is_a_400_naming_it(manager, param, value):
    body = get_json(manager, "/orders", 400, **{param: value})

    assert body["code"] == "validation_failed"
    assert list(body["errors"]) == [param]
    assert all(isinstance(message, str) and message for message in body["errors"][param])


def test_every_bad_parameter_is_named_at_once(manager):
    body = get_json(manager, "/orders", 400, status="x", order_type="y", since="z", page="0", limit="101")

    assert set(body["errors"]) == {"status", "order_type", "since", "page", "limit"}


def test_a_page_holds_up_to_100_orders(manager):
    for _ in range(101):
        create_order()

    first = get_json(manager, "/orders", limit=100)

    assert len(first["results"]) == 100
    assert len(get_json(manager, first["next"])["results"]) == 1


# --- who may read -----------------------------------------------------------------------------

READS = [
    pytest.param(f"{prefix}{path}", id=f"{prefix}{path}")
    for prefix in ("", "/api")
    for path in ("/orders", "/orders/{n}")
]


def read(client: Client, path: str):
    number = create_order().number
    return client.get(path.replace("{n}", number))


def assert_refused(response, status: int, code: str) -> None:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    assert response.json()["code"] == code
    assert set(response.json()) == {"code", "errors"}
    assert list(response.json()["errors"]) == ["detail"]


@pytest.mark.parametrize("path", READS)
def test_no_credentials_is_a_401_that_says_to_send_a_token(path):
    response = read(Client(), path)

    assert_refused(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"] == "Token"
    assert response.json()["errors"]["detail"] == ["Authentication credentials were not provided."]


@pytest.mark.parametrize(
    "client_of",
    [
        pytest.param(lambda: Client(headers={"Authorization": "Token not-a-token"}), id="unknown token"),
        pytest.param(lambda: token_client(MANAGER, active=False), id="inactive manager's token"),
        pytest.param(lambda: Client(headers={"Authorization": "Token"}), id="token header without a key"),
    ],
)
@pytest.mark.parametrize("path", READS)
def test_a_bad_or_inactive_token_is_a_401(client_of, path):
    response = read(client_of(), path)

    assert_refused(response, 401, "authentication_failed")
    assert response["WWW-Authenticate"] == "Token"


@pytest.mark.parametrize(
    "client_of",
    [
        pytest.param(lambda: logged_in(None), id="staff session without a role"),
        pytest.param(lambda: token_client(None), id="token of staff without a role"),
    ],
)
@pytest.mark.parametrize("path", READS)
def test_a_login_without_a_staff_role_is_a_403(client_of, path):
    assert_refused(read(client_of(), path), 403, "permission_denied")


def test_an_inactive_users_session_counts_as_no_login():
    client = Client()
    user = staff_user(MANAGER)
    client.force_login(user)
    user.is_active = False
    user.save()

    assert_refused(client.get("/orders"), 401, "not_authenticated")


def superuser_session() -> Client:
    client = Client()
    client.force_login(staff_user(None, "root", superuser=True))
    return client


@pytest.mark.parametrize(
    "client_of",
    [
        pytest.param(lambda: token_client(MANAGER), id="manager token"),
        pytest.param(lambda: token_client(KITCHEN), id="kitchen token"),
        pytest.param(lambda: token_client(FRONT_OF_HOUSE), id="front of house token"),
        pytest.param(lambda: logged_in(MANAGER), id="manager session"),
        pytest.param(lambda: logged_in(KITCHEN), id="kitchen session"),
        pytest.param(lambda: logged_in(FRONT_OF_HOUSE), id="front of house session"),
        pytest.param(superuser_session, id="superuser session"),
    ],
)
@pytest.mark.parametrize("path", READS)
def test_staff_roles_may_read_by_token_or_session(client_of, path):
    assert read(client_of(), path).status_code == 200


def test_the_back_office_login_opens_the_api_in_the_browser():
    user = staff_user(FRONT_OF_HOUSE, "fiona")
    user.set_password("secret-pass")
    user.save()
    client = Client()

    login = client.post("/admin/login/", {"username": "fiona", "password": "secret-pass", "next": "/admin/"})

    assert login.status_code == 302, login.content
    assert get_json(client, "/orders")["results"] == []


# --- POST /orders stays public ----------------------------------------------------------------


@pytest.mark.parametrize(
    "client_of",
    [
        pytest.param(Client, id="no credentials"),
        pytest.param(lambda: Client(headers={"Authorization": "Token not-a-token"}), id="bogus token"),
        pytest.param(lambda: Client(headers={"Authorization": "Bearer x"}), id="another scheme"),
        pytest.param(lambda: token_client(None, active=False), id="inactive user's token"),
        pytest.param(lambda: logged_in(MANAGER), id="a session, without a CSRF token"),
    ],
)
@pytest.mark.parametrize("prefix", PREFIXES)
def test_placing_an_order_needs_no_login_and_ignores_credentials(client_of, prefix):
    client = client_of()
    client.handler.enforce_csrf_checks = True

    response = client.post(f"{prefix}/orders", order_payload(), content_type="application/json")

    assert response.status_code == 201, response.content
    assert Order.objects.filter(number=response.json()["order_number"]).exists()


def test_the_list_and_the_intake_are_throttled_apart(manager, monkeypatch):
    # The throttle reads its rates once, at import; tests/settings.py turns the others off.
    monkeypatch.setattr(DatabaseRateThrottle, "rates", {"staff": (2, 60), "orders": None, "tracking": None})
    order = create_order()

    answers = [manager.get(path).status_code for path in ("/orders", f"/api/orders/{order.number}", "/orders")]
    posted = manager.post("/orders", order_payload(), content_type="application/json")

    assert answers == [200, 200, 429]
    assert posted.status_code == 201
    assert token_client(KITCHEN).get("/orders").status_code == 200  # counted per user


# --- create_api_token -------------------------------------------------------------------------


def create_api_token(*args: str) -> str:
    out = StringIO()
    call_command("create_api_token", *args, stdout=out)
    return out.getvalue().strip()


def test_the_command_prints_a_new_key_each_time_and_reset_revokes_the_others():
    staff_user(KITCHEN, "kim")

    key = create_api_token("kim")
    again = create_api_token("kim")

    assert len(key) == 64 and again != key
    assert [token_of(k).get("/orders").status_code for k in (key, again)] == [200, 200]
    new = create_api_token("kim", "--reset")
    assert [token_of(k).get("/orders").status_code for k in (key, again, new)] == [401, 401, 200]
    assert ApiToken.objects.get().expiry is None


def test_the_commands_token_expires_after_the_days_it_is_given():
    staff_user(KITCHEN, "kim")

    key = create_api_token("kim", "--days", "30")

    expiry = ApiToken.objects.get().expiry
    assert timedelta(days=30) - timedelta(minutes=1) < expiry - timezone.now() <= timedelta(days=30)
    assert token_of(key).get("/orders").status_code == 200


@pytest.mark.parametrize(
    ("username", "message"),
    [
        ("nobody", "no user 'nobody'"),
        ("gone", "user 'gone' is inactive"),
        ("clerk", "user 'clerk' is in no staff role"),
    ],
)
def test_the_command_refuses_an_unknown_or_inactive_user_or_one_in_no_role(username, message):
    user = staff_user(MANAGER, "gone")
    user.is_active = False
    user.save()
    staff_user(None, "clerk")

    with pytest.raises(CommandError, match=message):
        create_api_token(username)
    assert not ApiToken.objects.exists()


def test_the_command_exits_1_for_an_unknown_user(service_env):
    command = manage("create_api_token", "nobody")
    env = {**service_env, "LOG_LEVEL": "INFO"}
    result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=60)

    assert result.returncode == 1
    assert "no user 'nobody'" in result.stderr
    assert result.stdout == ""


# --- tokens in the admin ----------------------------------------------------------------------

TOKENS = "/admin/orders/apitoken/"


@pytest.mark.parametrize(
    ("client_of", "status"),
    [
        pytest.param(lambda: logged_in(MANAGER), 200, id="manager"),
        pytest.param(superuser_session, 200, id="superuser"),
        pytest.param(lambda: logged_in(FRONT_OF_HOUSE), 403, id="front of house"),
    ],
)
def test_only_managers_and_superusers_see_the_tokens(client_of, status):
    assert client_of().get(TOKENS).status_code == status


def test_knoxs_own_token_admin_is_not_a_way_in():
    assert logged_in(MANAGER).get("/admin/knox/authtoken/").status_code == 404


def shown_key(response) -> str:
    """The key in the message that follows a token's making."""
    [text] = [text for _, text in messages_of(response) if "shown this once" in text]
    return re.search(r"[0-9a-f]{64}", text).group()


def test_a_manager_makes_a_token_whose_key_is_shown_once_and_kept_only_hashed():
    cook = staff_user(KITCHEN, "kim")
    manager = logged_in(MANAGER)

    response = manager.post(f"{TOKENS}add/", {"user": cook.pk})

    assert response.status_code == 302, response.content
    key = shown_key(response)
    assert token_of(key).get("/orders").status_code == 200
    token = ApiToken.objects.get(user=cook)
    assert (token.token_key, token.expiry) == (key[:15], None)
    assert key not in {token.digest, token.token_key}  # the table holds no key
    assert manager.get(TOKENS).status_code == 200  # the page the message is shown on
    listing = manager.get(TOKENS)  # shown once: not on the next page
    assert f"{key[:15]}…" in listing.text and key not in listing.text
    detail = manager.get(f"{TOKENS}{token.pk}/change/")
    assert detail.status_code == 200 and key not in detail.text and "kim" in detail.text


def test_a_token_made_with_an_expiry_is_taken_until_then_and_refused_after():
    cook = staff_user(KITCHEN, "kim")
    when = timezone.now() + timedelta(days=7)

    response = logged_in(MANAGER).post(
        f"{TOKENS}add/", {"user": cook.pk, "expiry_0": when.strftime("%Y-%m-%d"), "expiry_1": when.strftime("%H:%M:%S")}
    )

    key = shown_key(response)
    assert token_of(key).get("/orders").status_code == 200
    ApiToken.objects.update(expiry=timezone.now() - timedelta(seconds=1))
    assert_refused(read(token_of(key), "/orders"), 401, "authentication_failed")


def test_an_expiry_in_the_past_is_refused():
    cook = staff_user(KITCHEN, "kim")
    past = timezone.now() - timedelta(hours=1)

    response = logged_in(MANAGER).post(
        f"{TOKENS}add/", {"user": cook.pk, "expiry_0": past.strftime("%Y-%m-%d"), "expiry_1": past.strftime("%H:%M:%S")}
    )

    assert response.status_code == 200 and "An expiry must be in the future." in response.text
    assert not ApiToken.objects.exists()


def test_a_manager_may_make_tokens_only_for_active_people_in_a_role():
    staff_user(KITCHEN, "kim"), staff_user(FRONT_OF_HOUSE, "fiona")
    inactive = staff_user(KITCHEN, "gone")
    inactive.is_active = False
    inactive.save()
    others = [inactive, staff_user(None, "clerk"), staff_user(None, "root", superuser=True)]
    manager = logged_in(MANAGER, "boss")

    offered = manager.get(f"{TOKENS}add/").context["adminform"].form.fields["user"].queryset

    assert sorted(user.username for user in offered) == ["boss", "fiona", "kim"]
    for user in others:
        refused = manager.post(f"{TOKENS}add/", {"user": user.pk})
        assert refused.status_code == 200 and "Select a valid choice." in refused.text
    assert not ApiToken.objects.exists()


def test_a_token_is_refused_once_its_user_leaves_their_role_or_is_deactivated():
    cook = staff_user(KITCHEN, "kim")
    key = api_token_create(user=cook)

    cook.groups.clear()
    assert_refused(read(token_of(key), "/orders"), 403, "permission_denied")
    cook.groups.add(Group.objects.get(name=KITCHEN))
    assert read(token_of(key), "/orders").status_code == 200
    cook.is_active = False
    cook.save()
    assert_refused(read(token_of(key), "/orders"), 401, "authentication_failed")


def test_a_token_is_deleted_in_the_admin_and_refused_at_once():
    key = api_token_create(user=staff_user(KITCHEN, "kim"))
    token = ApiToken.objects.get()

    deleted = logged_in(MANAGER).post(f"{TOKENS}{token.pk}/delete/", {"post": "yes"})

    assert deleted.status_code == 302 and not ApiToken.objects.exists()
    assert_refused(read(token_of(key), "/orders"), 401, "authentication_failed")


def test_a_token_is_never_changed_in_the_admin():
    key = api_token_create(user=staff_user(KITCHEN, "kim"))
    fiona = staff_user(FRONT_OF_HOUSE, "fiona")
    token = ApiToken.objects.get()

    logged_in(MANAGER).post(f"{TOKENS}{token.pk}/change/", {"user": fiona.pk})

    assert ApiToken.objects.get().user.username == "kim" and token_of(key).get("/orders").status_code == 200


# --- DRF's tokens, from before --------------------------------------------------------------------

OLD_TOKENS = """
CREATE TABLE authtoken_token (
    key varchar(40) PRIMARY KEY,
    created timestamp with time zone NOT NULL,
    user_id integer NOT NULL UNIQUE REFERENCES auth_user (id)
)
"""


def test_drfs_clear_keys_are_hashed_into_knoxs_table_and_keep_working_and_their_table_goes():
    cook = staff_user(KITCHEN, "kim")
    old_key = "9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b"
    made = timezone.now() - timedelta(days=100)
    with connection.cursor() as cursor:
        cursor.execute(OLD_TOKENS)
        cursor.execute("INSERT INTO authtoken_token VALUES (%s, %s, %s)", [old_key, made, cook.pk])
        cursor.execute("INSERT INTO django_migrations (app, name, applied) VALUES ('authtoken', '0001_initial', now())")
    migration = importlib.import_module("orders.migrations.0009_hashed_api_tokens")
    models_then = MigrationLoader(connection).project_state(("orders", "0009_hashed_api_tokens")).apps

    with connection.schema_editor() as editor:
        migration.hash_existing_keys(models_then, editor)

    token = ApiToken.objects.get()
    assert (token.user, token.token_key, token.created, token.expiry) == (cook, old_key[:15], made, None)
    assert token.digest != old_key and token_of(old_key).get("/orders").status_code == 200
    assert "authtoken_token" not in connection.introspection.table_names()
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM django_migrations WHERE app = 'authtoken'")
        assert cursor.fetchone() == (0,)
