"""Speed of service: received → ready figures from the status log, against a known set of orders whose
figures are worked out by hand here; the admin report renders them with its chart, for Managers only."""

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from kitchen.screens import kitchen_speed
from orders.models import Order, OrderItem, OrderStatus, OrderStatusLog
from orders.selectors import speed_of_service, speed_of_service_by_hour, station_speed
from tests.factories import FRONT_OF_HOUSE, KITCHEN, MANAGER, create_order, logged_in

pytestmark = pytest.mark.django_db

DAY = datetime(2026, 11, 30, tzinfo=UTC)
REPORT = reverse("admin:speed_of_service")
# (received at, minutes to ready, minutes the kitchen promised): ready in hour 10 or 11 of DAY.
KNOWN = [
    (DAY.replace(hour=10, minute=0), 5, 10),
    (DAY.replace(hour=10, minute=5), 10, 10),
    (DAY.replace(hour=10, minute=10), 15, 10),  # late: 15 > 10
    (DAY.replace(hour=10, minute=20), 20, 12),  # late; ready 10:40
    (DAY.replace(hour=11, minute=0), 8, 7.5),  # not late: 30 s past its estimate is within the minute
]


def order_ready(received: datetime, minutes: float, promised: float) -> Order:
    order = create_order(status=OrderStatus.READY)
    ready = received + timedelta(minutes=minutes)
    log = OrderStatusLog.objects.filter(order=order)
    log.filter(status=OrderStatus.RECEIVED).update(changed_at=received)
    log.filter(status=OrderStatus.COOKING).update(changed_at=received)
    log.filter(status=OrderStatus.READY).update(changed_at=ready)
    Order.objects.filter(pk=order.pk).update(estimated_completion=received + timedelta(minutes=promised))
    return order


@pytest.fixture
def known_orders():
    return [order_ready(*row) for row in KNOWN]


def test_the_figures_of_a_known_day_are_those_worked_out_by_hand(known_orders):
    # Durations (s): 300, 600, 900, 1200, 480 → sorted 300, 480, 600, 900, 1200. Nearest rank: the
    # median is the ceil(0.5 × 5) = 3rd (600), the 90th percentile the ceil(0.9 × 5) = 5th (1200).
    assert speed_of_service(since=DAY, until=DAY + timedelta(days=1)) == {
        "orders": 5,
        "median_seconds": 600,
        "p90_seconds": 1200,
        "late": 2,
    }
    hours = {row["hour"]: row for row in speed_of_service_by_hour(day=DAY.date(), zone=UTC)}
    # Hour 10: 300, 600, 900, 1200 → median the 2nd (600), p90 the ceil(3.6) = 4th (1200).
    assert hours[10] == {"hour": 10, "orders": 4, "median_seconds": 600, "p90_seconds": 1200, "late": 2}
    assert hours[11] == {"hour": 11, "orders": 1, "median_seconds": 480, "p90_seconds": 480, "late": 0}
    assert hours[9] == {"hour": 9, "orders": 0, "median_seconds": None, "p90_seconds": None, "late": 0}


def test_an_order_not_yet_ready_and_one_ready_another_day_are_not_counted(known_orders):
    create_order(status=OrderStatus.COOKING)
    order_ready(DAY - timedelta(hours=2), 30, 10)  # ready 22:30 the day before

    assert speed_of_service(since=DAY, until=DAY + timedelta(days=1))["orders"] == 5


def test_a_recalled_order_counts_its_first_ready(known_orders):
    order = known_orders[0]
    OrderStatusLog.objects.filter(order=order, status=OrderStatus.READY).update(superseded=True)
    OrderStatusLog.objects.create(
        order=order, status=OrderStatus.READY, changed_by="cook", changed_at=DAY.replace(hour=12)
    )

    assert speed_of_service(since=DAY, until=DAY + timedelta(days=1))["median_seconds"] == 600


def test_the_report_shows_the_day_and_its_chart_to_a_manager(known_orders):
    response = logged_in(MANAGER).get(REPORT, {"day": "2026-11-30"})

    assert response.status_code == 200
    assert response.context["total"] == {"orders": 5, "median_seconds": 600, "p90_seconds": 1200, "late": 2}
    assert [hour["hour"] for hour in response.context["hours"]] == [10, 11]
    page = response.text
    assert '<svg class="chart"' in page and page.count('<rect class="median"') == 24
    assert "<td>10:00</td><td>4</td><td>600</td><td>1200</td><td>2</td>" in page


def test_the_report_is_refused_to_kitchen_and_front_of_house():
    kitchen = logged_in(KITCHEN).get(REPORT)
    front = logged_in(FRONT_OF_HOUSE).get(REPORT)

    assert kitchen.status_code == 302 and kitchen["Location"].startswith(reverse("admin:login"))  # no back office
    assert front.status_code == 403  # in the back office, without the report's permission


def test_the_kitchen_screens_figures_are_the_last_hours_and_the_overdue_orders_now():
    now = DAY.replace(hour=11, minute=30)
    order_ready(now - timedelta(minutes=50), 10, 15)  # ready 40 min ago in 10 min: on time
    order_ready(now - timedelta(minutes=30), 20, 10)  # ready 10 min ago in 20 min: late
    order_ready(now - timedelta(hours=3), 5, 10)  # ready over an hour ago: not counted
    overdue = create_order(status=OrderStatus.COOKING)
    Order.objects.filter(pk=overdue.pk).update(estimated_completion=now - timedelta(minutes=2))
    on_time = create_order(status=OrderStatus.COOKING)
    Order.objects.filter(pk=on_time.pk).update(estimated_completion=now - timedelta(seconds=30))  # within the minute

    # 600 s and 1200 s: the median is the 1st by nearest rank (ceil(0.5 × 2)), the 90th the 2nd.
    assert kitchen_speed(now=now) == {
        "orders": 2,
        "median_seconds": 600,
        "p90_seconds": 1200,
        "late": 1,
        "overdue": 1,
        "stations": {},  # no item was marked at a station
    }


def test_station_figures_run_from_the_orders_receipt_to_each_items_mark():
    received = DAY.replace(hour=12)
    marks = [("oven", 4), ("oven", 6), ("oven", 9), ("bar", 1), ("", 3)]  # minutes after receipt; "" a free item
    order = order_ready(received, 10, 12)
    for station, minutes in marks:
        OrderItem.objects.create(
            order=order,
            name="x",
            quantity=1,
            price=1,
            station=station,
            prepared_at=received + timedelta(minutes=minutes),
        )

    figures = station_speed(since=DAY, until=DAY + timedelta(days=1))

    # oven: 240, 360, 540 s → median the 2nd (360), p90 the ceil(2.7) = 3rd (540); bar: 60 s alone.
    assert figures == {
        "bar": {"items": 1, "median_seconds": 60, "p90_seconds": 60},
        "oven": {"items": 3, "median_seconds": 360, "p90_seconds": 540},
    }
    page = logged_in(MANAGER).get(REPORT, {"day": "2026-11-30"}).text
    assert "<td>oven</td><td>3</td><td>360</td><td>540</td>" in page


@pytest.mark.parametrize("day", ["9999-12-31", "2026-02-30", "tomorrow"])
def test_a_day_the_report_cannot_show_falls_back_to_today_with_a_message_not_a_500(day):
    response = logged_in(MANAGER).get(REPORT, {"day": day})

    assert response.status_code == 200
    assert response.context["day"] == timezone.now().date()
    assert [str(message) for message in response.context["messages"]] == ["Choose a day as YYYY-MM-DD."]
