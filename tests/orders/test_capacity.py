"""Honest ready times (issue 19) against the real database: the kitchen's clock from the menu file,
slots filled by load units per station, the 409s that say when there is room or when the restaurant
opens, a cancel that frees its units, and no overbooking under a burst of concurrent orders."""

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import requests
from django.core.management import CommandError, call_command
from django.utils import timezone

from menu.models import Kitchen
from orders.capacity import kitchen_clock
from orders.models import Order, SlotLoad, SlotReservation
from orders.services import order_cancel, order_create
from orders.validation import validate_order
from tests.factories import as_api_reads, load_test_menu, menu_copy, post

pytestmark = pytest.mark.django_db

ROME = ZoneInfo("Europe/Rome")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def kitchen_menu(**kitchen) -> dict:
    """The test menu with an oven of 6 units per slot, pizzas of load 2, a bar without a limit."""
    menu = menu_copy()
    menu["stations"][0] |= {"capacity_per_slot": 6, "prep_seconds": 60}
    menu["categories"][0]["items"][0]["load"] = 2
    menu["kitchen"] = {"time_zone": "UTC", "slot_minutes": 15, **kitchen}
    return menu


def pizza(**fields) -> dict:
    return {"customer_name": "Jane", "order_type": "takeout", "items": [margheritas(1)]} | fields


def margheritas(quantity: int) -> dict:
    return {"sku": "margherita", "quantity": quantity, "modifiers": ["medium"]}


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def next_slot_end(after: datetime, minutes: int = 15) -> datetime:
    """The end of the first 15-minute slot (UTC) that starts after `after` + 1 minute, and some room."""
    start = (after + timedelta(minutes=minutes + 1)).replace(second=0, microsecond=0)
    start -= timedelta(minutes=start.minute % minutes)
    return start + timedelta(minutes=minutes)


# --- the menu file's kitchen ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "kitchen, field",
    [
        ({"time_zone": "Mars/Olympus"}, "kitchen.time_zone"),
        ({"slot_minutes": 0}, "kitchen.slot_minutes"),
        ({"slot_minutes": 61}, "kitchen.slot_minutes"),
        ({"hours": [{"days": ["mon"], "open": "22:00", "close": "11:00"}]}, "kitchen.hours[0].close"),
        ({"hours": [{"days": ["someday"], "open": "11:00", "close": "22:00"}]}, "kitchen.hours[0].days"),
        ({"hours": [{"days": ["mon"], "open": "25:00", "close": "26:00"}]}, "kitchen.hours[0].open"),
        ({"nonsense": 1}, "kitchen.nonsense"),
    ],
)
def test_load_menu_refuses_a_bad_kitchen_naming_the_field_and_writes_nothing(tmp_path, kitchen, field):
    menu = menu_copy() | {"kitchen": kitchen}
    path = tmp_path / "menu.json"
    path.write_text(json.dumps(menu, default=str))

    with pytest.raises(CommandError, match=field.replace("[", r"\[").replace("]", r"\]")):
        call_command("load_menu", str(path))
    assert not Kitchen.objects.exists()


def test_load_menu_takes_capacity_load_and_the_kitchens_clock():
    load_test_menu(kitchen_menu(hours=[{"days": ["sat", "sun"], "open": "18:00", "close": "24:00"}]))

    kitchen = Kitchen.objects.get()
    assert (kitchen.time_zone, kitchen.slot_minutes, kitchen.hours[0]["close"]) == ("UTC", 15, "24:00")


# --- slots ---------------------------------------------------------------------------------------


def test_three_pizzas_of_load_two_fill_an_oven_of_six_and_the_fourth_goes_to_the_next_slot(client):
    load_test_menu(kitchen_menu())
    when = next_slot_end(timezone.now())

    answers = [post(client, pizza(ready_at=iso(when))) for _ in range(3)]
    assert [answer.status_code for answer in answers] == [201] * 3
    assert {answer.json()["promised_at"] for answer in answers} == {iso(when)}
    full = post(client, pizza(ready_at=iso(when)))

    assert full.status_code == 409 and full.json()["code"] == "slot_full"
    assert full.json()["next_available"] == iso(when + timedelta(minutes=15))
    assert SlotLoad.objects.get(slot_start=when - timedelta(minutes=15), station="oven").used == 6
    assert Order.objects.count() == 3


def test_asap_takes_the_earliest_slot_with_room(client):
    load_test_menu(kitchen_menu())
    first = [post(client, pizza(items=[margheritas(3)])) for _ in range(2)]

    promised = [datetime.fromisoformat(answer.json()["promised_at"]) for answer in first]
    assert promised[1] - promised[0] == timedelta(minutes=15)  # the first filled its slot
    assert promised[0] >= timezone.now() + timedelta(seconds=60 * 0.05)  # at least now + the lead


def test_a_drink_on_a_station_without_a_limit_is_never_refused(client):
    load_test_menu(kitchen_menu())
    for _ in range(5):
        post(client, pizza(items=[margheritas(3)]))

    answer = post(client, pizza(items=[{"sku": "cola", "quantity": 10}]))

    assert answer.status_code == 201


@pytest.mark.django_db(transaction=True)  # autocommit, as the web process runs: no savepoint
def test_an_order_that_books_its_units_is_still_the_one_statement(django_assert_num_queries):
    """The reservation is part of the intake's statement, and the loads are not read before it: a
    slot with room costs what an order without capacity costs (one round trip)."""
    load_test_menu(kitchen_menu())
    data = validate_order(as_api_reads(pizza(items=[margheritas(2)])))
    kitchen_clock()

    with django_assert_num_queries(1):
        order = order_create(data=data)

    assert [(r.station, r.units) for r in SlotReservation.objects.filter(order=order)] == [("oven", 4)]
    assert SlotLoad.objects.get(station="oven").used == 4


@pytest.mark.django_db(transaction=True)
def test_a_full_first_slot_costs_one_read_of_the_loads_and_books_the_next(django_assert_num_queries):
    load_test_menu(kitchen_menu())
    first = order_create(data=validate_order(as_api_reads(pizza(items=[margheritas(3)]))))
    data = validate_order(as_api_reads(pizza()))
    kitchen_clock()

    with django_assert_num_queries(3):  # refused by the CHECK, the loads read, the next slot
        second = order_create(data=data)

    assert second.promised_at == first.promised_at + timedelta(minutes=15)
    assert sorted(SlotLoad.objects.values_list("used", flat=True)) == [2, 6]


def test_a_cancel_frees_its_units_at_once(client):
    load_test_menu(kitchen_menu())
    when = next_slot_end(timezone.now())
    numbers = [post(client, pizza(ready_at=iso(when))).json()["order_number"] for _ in range(3)]
    assert post(client, pizza(ready_at=iso(when))).status_code == 409

    order_cancel(number=numbers[0], changed_by="manager")

    assert SlotLoad.objects.get(station="oven").used == 4
    assert not SlotReservation.objects.filter(order__number=numbers[0]).exists()
    assert post(client, pizza(ready_at=iso(when))).status_code == 201


@pytest.mark.parametrize(
    "ready_at, message",
    [
        ("2020-01-01T12:00:00Z", "in the past"),
        ("soon", "ISO 8601"),
        ("2030-01-01T12:00:00", "offset"),
        ("+30 days", "ISO 8601"),
    ],
)
def test_a_bad_ready_at_is_a_400_naming_it(client, ready_at, message):
    load_test_menu(kitchen_menu())

    answer = post(client, pizza(ready_at=ready_at))

    assert answer.status_code == 400 and message in answer.json()["errors"]["ready_at"][0]
    assert not Order.objects.exists()


def test_too_soon_and_too_far_are_400s(client):
    load_test_menu(kitchen_menu(days_ahead=2))
    now = timezone.now()

    soon = post(client, pizza(ready_at=iso(now + timedelta(seconds=1))))
    far = post(client, pizza(ready_at=iso(now + timedelta(days=3))))

    assert soon.status_code == 400 and "too soon" in soon.json()["errors"]["ready_at"][0]
    assert far.status_code == 400 and "too far" in far.json()["errors"]["ready_at"][0]


def test_outside_the_opening_hours_in_the_restaurants_zone_an_order_is_refused_with_when_it_opens(client):
    """Open only from 18:00 to 24:00 in Rome, on a day that is not today or tomorrow there: ASAP is
    closed, and next_open is that day's 18:00 Rome time."""
    local_today = timezone.now().astimezone(ROME).date()
    open_day = local_today + timedelta(days=3)
    day_name = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[open_day.weekday()]
    hours = [{"days": [day_name], "open": "18:00", "close": "24:00"}]
    load_test_menu(kitchen_menu(time_zone="Europe/Rome", hours=hours))

    closed = post(client, pizza())

    assert closed.status_code == 409 and closed.json()["code"] == "closed"
    opens = datetime.combine(open_day, datetime.min.time().replace(hour=18), tzinfo=ROME)
    assert closed.json()["next_open"] == iso(opens)
    late = datetime.combine(open_day, datetime.min.time().replace(hour=23, minute=50), tzinfo=ROME)
    answer = post(client, pizza(ready_at=late.isoformat()))
    assert answer.status_code == 201  # the last slot before "24:00"
    assert answer.json()["promised_at"] == iso(late + timedelta(minutes=10))


def test_the_status_shows_the_promised_time(client):
    load_test_menu(kitchen_menu())
    answer = post(client, pizza()).json()

    status = client.get(f"/orders/{answer['order_number']}/status").json()

    assert status["promised_at"] == answer["promised_at"]


@pytest.mark.django_db(transaction=True)
def test_a_hundred_concurrent_orders_for_one_slot_never_overbook_it(web_url):
    load_test_menu(kitchen_menu())
    when = next_slot_end(timezone.now(), 15) + timedelta(minutes=15)

    def place(_):
        return requests.post(f"{web_url}/orders", json=pizza(ready_at=iso(when)), timeout=30)

    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(pool.map(place, range(100)))

    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [201] * 3 + [409] * 97, {answer.status_code: answer.text for answer in answers}
    refused = [answer.json() for answer in answers if answer.status_code == 409]
    assert {body["code"] for body in refused} == {"slot_full"}
    assert {body["next_available"] for body in refused} == {iso(when + timedelta(minutes=15))}
    load = SlotLoad.objects.get(slot_start=when - timedelta(minutes=15), station="oven")
    assert load.used == 6 == sum(SlotReservation.objects.values_list("units", flat=True))


# --- GET /slots ----------------------------------------------------------------------------------


def test_slots_list_the_days_open_slots_with_each_stations_load_and_whether_a_cart_fits(client):
    load_test_menu(
        kitchen_menu(time_zone="Europe/Rome", hours=[{"days": list(DAYS), "open": "18:00", "close": "19:00"}])
    )
    day = (timezone.now().astimezone(ROME) + timedelta(days=1)).date()
    first = datetime.combine(day, datetime.min.time().replace(hour=18), tzinfo=ROME)
    assert post(client, pizza(ready_at=iso(first + timedelta(minutes=15)), items=[margheritas(2)])).status_code == 201

    body = client.get("/slots", {"date": day.isoformat(), "items": "margherita:2,cola:1"}).json()

    assert (body["date"], body["time_zone"], body["slot_minutes"]) == (day.isoformat(), "Europe/Rome", 15)
    assert [slot["start"] for slot in body["slots"]] == [iso(first + timedelta(minutes=15 * k)) for k in range(4)]
    assert body["slots"][0]["stations"] == {"oven": {"capacity": 6, "used": 4}}
    assert [slot["fits"] for slot in body["slots"]] == [False, True, True, True]
    assert not any(slot["full"] for slot in body["slots"])


@pytest.mark.parametrize(
    "query, field", [({"date": "tomorrow"}, "date"), ({"date": "9999-12-31"}, "date"), ({"items": "pizza"}, "items")]
)
def test_slots_refuse_a_bad_parameter_naming_it(client, query, field):
    answer = client.get("/slots", query)

    assert answer.status_code == 400 and set(answer.json()["errors"]) == {field}


def test_slots_default_to_the_restaurants_today_open_all_day(client):
    body = client.get("/slots").json()

    assert body["time_zone"] == "UTC" and len(body["slots"]) == 96
    assert body["date"] == timezone.now().date().isoformat()
