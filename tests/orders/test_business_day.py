"""The restaurant's clock beyond its slots (issue 19): the order number's day (SPEC §3's UTC date, or
with ORDER_NUMBER_DAY=local the business day that turns at BUSINESS_DAY_STARTS on the restaurant's
clock), the settings that choose it, and the speed-of-service report's day and hours in the
restaurant's zone. Against the real database; only `timezone.now` is set to the moment under test."""

import os
import subprocess
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone

from orders.capacity import kitchen_clock, order_number_day
from orders.models import DailyOrderCounter, Order, OrderStatus, OrderStatusLog
from orders.services import order_create
from tests.factories import MANAGER, create_order, load_test_menu, logged_in, menu_copy, order_input
from tests.support import PYTHON, REPO

pytestmark = pytest.mark.django_db

NEW_YORK = ZoneInfo("America/New_York")


def new_york(*when: int, fold: int = 0) -> datetime:
    return datetime(*when, tzinfo=NEW_YORK, fold=fold)


# An evening in New York across UTC's midnight (00:00 UTC is 19:00 there) and its own midnight, into
# the night the clocks go forward (8 March 2026, 02:00 EST → 03:00 EDT), up to the next business day.
EVENING = [
    new_york(2026, 3, 7, 18, 59),  # 23:59 UTC on the 7th
    new_york(2026, 3, 7, 19, 0),  # 00:00 UTC on the 8th: SPEC's UTC day starts again here
    new_york(2026, 3, 7, 23, 30),
    new_york(2026, 3, 8, 3, 59),  # EDT already: 07:59 UTC
    new_york(2026, 3, 8, 4, 0),  # the next business day
]


@pytest.fixture
def new_york_kitchen():
    load_test_menu(menu_copy() | {"kitchen": {"time_zone": "America/New_York"}})


@pytest.fixture
def frozen_now(monkeypatch):
    """Sets what django.utils.timezone.now answers in this process (the services read it through it)."""

    def set_now(moment: datetime) -> None:
        monkeypatch.setattr(timezone, "now", lambda: moment.astimezone(UTC))

    return set_now


def numbers_at(moments: list[datetime], set_now) -> list[str]:
    numbers = []
    for moment in moments:
        set_now(moment)
        numbers.append(order_create(data=order_input()).number)
    return numbers


def test_local_numbering_keeps_the_evening_one_day_until_the_business_day_starts(
    settings, new_york_kitchen, frozen_now
):
    settings.ORDER_NUMBER_DAY, settings.BUSINESS_DAY_STARTS = "local", time(4, 0)

    numbers = numbers_at(EVENING, frozen_now)

    # 19:00 (UTC's midnight), 23:30 and 03:59 the next calendar day count on; 04:00 starts at 001.
    assert numbers == [
        "ORD_20260307_001",
        "ORD_20260307_002",
        "ORD_20260307_003",
        "ORD_20260307_004",
        "ORD_20260308_001",
    ]
    counters = dict(DailyOrderCounter.objects.values_list("day", "last_number"))
    assert {day.isoformat(): last for day, last in counters.items()} == {"2026-03-07": 4, "2026-03-08": 1}


def test_by_default_the_number_keeps_spec_s_utc_day(settings, new_york_kitchen, frozen_now):
    assert settings.ORDER_NUMBER_DAY == "utc"

    numbers = numbers_at(EVENING, frozen_now)

    # The UTC date: 18:59 in New York is the 7th, 19:00 already the 8th, restarting at 001 mid-dinner.
    assert numbers == [
        "ORD_20260307_001",
        "ORD_20260308_001",
        "ORD_20260308_002",
        "ORD_20260308_003",
        "ORD_20260308_004",
    ]


def test_local_numbering_keeps_intake_at_one_statement(settings, new_york_kitchen, django_assert_num_queries):
    settings.ORDER_NUMBER_DAY = "local"
    kitchen_clock()  # the zone is the kitchen's clock, read once per process every few seconds

    with django_assert_num_queries(1):
        order = order_create(data=order_input())

    assert order.number.startswith(f"ORD_{order_number_day(order.created_at):%Y%m%d}_")


@pytest.mark.parametrize(
    "starts, moment, day",
    [
        (time(4, 0), new_york(2026, 11, 1, 1, 30, fold=1), "2026-10-31"),  # the repeated hour (EST again)
        (time(4, 0), new_york(2026, 11, 1, 4, 0), "2026-11-01"),
        (time(0, 0), new_york(2026, 3, 7, 23, 59), "2026-03-07"),  # 00:00: the restaurant's calendar day
        (time(0, 0), new_york(2026, 3, 8, 0, 0), "2026-03-08"),
        (time(5, 30), new_york(2026, 3, 8, 5, 29), "2026-03-07"),
        (time(5, 30), new_york(2026, 3, 8, 5, 30), "2026-03-08"),
    ],
)
def test_the_business_day_turns_at_its_start_on_the_restaurants_clock(settings, new_york_kitchen, starts, moment, day):
    settings.ORDER_NUMBER_DAY, settings.BUSINESS_DAY_STARTS = "local", starts

    assert order_number_day(moment.astimezone(UTC)).isoformat() == day


def test_without_a_kitchen_local_numbering_is_the_utc_day(settings):
    settings.ORDER_NUMBER_DAY, settings.BUSINESS_DAY_STARTS = "local", time(0, 0)

    assert order_number_day(datetime(2026, 3, 8, 0, 30, tzinfo=UTC)).isoformat() == "2026-03-08"


# --- the settings ----------------------------------------------------------------------------------


def read_settings(**env: str) -> subprocess.CompletedProcess:
    code = (
        "import django; django.setup(); from django.conf import settings; "
        "print(settings.ORDER_NUMBER_DAY, settings.BUSINESS_DAY_STARTS)"
    )
    return subprocess.run(
        [PYTHON, "-c", code],
        cwd=REPO,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "restaurant.settings", "DEBUG": "1", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_settings_read_the_numbers_day_and_when_the_business_day_starts():
    assert read_settings().stdout.split() == ["utc", "04:00:00"]
    assert read_settings(ORDER_NUMBER_DAY="Local", BUSINESS_DAY_STARTS="05:30").stdout.split() == ["local", "05:30:00"]


@pytest.mark.parametrize(
    "variable, value",
    [
        ("ORDER_NUMBER_DAY", "restaurant"),
        ("BUSINESS_DAY_STARTS", "4"),
        ("BUSINESS_DAY_STARTS", "24:00"),
        ("BUSINESS_DAY_STARTS", "04:60"),
        ("BUSINESS_DAY_STARTS", "4:00"),
        ("BUSINESS_DAY_STARTS", "04:00:00"),
    ],
)
def test_a_bad_value_stops_start_up_naming_the_variable(variable, value):
    started = read_settings(**{variable: value})

    assert started.returncode != 0
    assert f"ImproperlyConfigured: {variable}:" in started.stderr, started.stderr


# --- the speed-of-service report --------------------------------------------------------------------


def order_ready(received: datetime, minutes: float) -> Order:
    order = create_order(status=OrderStatus.READY)
    log = OrderStatusLog.objects.filter(order=order)
    log.filter(status__in=[OrderStatus.RECEIVED, OrderStatus.COOKING]).update(changed_at=received)
    log.filter(status=OrderStatus.READY).update(changed_at=received + timedelta(minutes=minutes))
    return order


def test_the_speed_report_counts_the_restaurants_day_by_its_hours(new_york_kitchen, frozen_now):
    order_ready(new_york(2026, 11, 29, 22, 20), 10)  # 22:30 the day before (03:30 UTC on the 30th)
    order_ready(new_york(2026, 11, 30, 9, 55), 10)  # 10:05: hour 10 (15:05 UTC)
    order_ready(new_york(2026, 11, 30, 23, 40), 5)  # 23:45: hour 23, though the 1st in UTC
    order_ready(new_york(2026, 12, 1, 0, 5), 5)  # the next day
    frozen_now(new_york(2026, 11, 30, 23, 50))  # 04:50 UTC on 1 December

    response = logged_in(MANAGER).get(reverse("admin:speed_of_service"))  # the restaurant's today

    assert response.status_code == 200
    assert response.context["day"].isoformat() == "2026-11-30"
    assert response.context["total"]["orders"] == 2
    assert [(hour["hour"], hour["orders"]) for hour in response.context["hours"]] == [(10, 1), (23, 1)]
    assert "<th>Hour (America/New_York)</th>" in response.text
    assert "<td>23:00</td><td>1</td><td>300</td>" in response.text


# --- the order list's days ------------------------------------------------------------------------


def test_the_order_lists_day_filter_and_times_are_the_restaurants(new_york_kitchen):
    evening = create_order()  # at 21:00 in New York on 7 March: 02:00 UTC on the 8th
    Order.objects.filter(pk=evening.pk).update(created_at=new_york(2026, 3, 7, 21, 0))
    client = logged_in(MANAGER)
    orders = reverse("admin:orders_order_changelist")

    def listed(day: int) -> list[str]:
        response = client.get(orders, {"created_at__year": 2026, "created_at__month": 3, "created_at__day": day})
        assert response.status_code == 200
        return [order.number for order in response.context["cl"].result_list]

    assert listed(7) == [evening.number]
    assert listed(8) == []
    assert "March 7, 2026, 9 p.m." in client.get(orders).text
    assert "March 7, 2026, 9 p.m." in client.get(reverse("admin:orders_order_change", args=[evening.pk])).text
