"""The ASAP pause ("kitchen busy", issue 19) against the real database: while paused an ASAP order is
promised the first slot ending at least the pause's end + its lead, or refused with `kitchen_paused`
when that is past the ASAP horizon; an order for a requested time is taken as ever; a resume brings
ASAP back; only a Manager pauses (the back office's page and the expo's view); load_menu keeps the
pause; GET /slots says it. The expo's banner: tests/kitchen/test_pause_expo.py."""

import logging
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from django.utils import timezone

from menu.models import Kitchen
from orders.capacity import kitchen_clock
from orders.models import Order
from orders.pause import asap_pause, asap_resume
from orders.services import order_create
from tests.factories import (
    FRONT_OF_HOUSE,
    KITCHEN,
    MANAGER,
    load_test_menu,
    logged_in,
    menu_copy,
    order_input,
    post,
    staff_user,
)

pytestmark = pytest.mark.django_db

LEAD = timedelta(seconds=60 * 0.05)  # the oven's prep_seconds × the tests' COOKING_TIME_SCALE
SLOT = timedelta(minutes=15)
ADMIN_PAGE, EXPO_VIEW = "/admin/kitchen-busy/", "/kitchen/expo/pause/"
ASAP_LINES = ("asap_paused", "asap_resumed")


def kitchen_menu(**kitchen) -> dict:
    """The test menu with an oven of 6 units per slot (prep 60 s), pizzas of load 2, 15-minute slots in UTC."""
    menu = menu_copy()
    menu["stations"][0] |= {"capacity_per_slot": 6, "prep_seconds": 60}
    menu["categories"][0]["items"][0]["load"] = 2
    menu["kitchen"] = {"time_zone": "UTC", "slot_minutes": 15, **kitchen}
    return menu


def pizza(**fields) -> dict:
    return {
        "customer_name": "Jane",
        "order_type": "takeout",
        "items": [{"sku": "margherita", "quantity": 1, "modifiers": ["medium"]}],
    } | fields


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def slot_end_holding(moment: datetime) -> datetime:
    """The end of the 15-minute UTC slot that holds `moment` (start ≤ moment < end)."""
    start = moment.astimezone(UTC).replace(second=0, microsecond=0)
    start -= timedelta(minutes=start.minute % 15)
    return start + SLOT


def promised(answer) -> datetime:
    assert answer.status_code == 201, answer.content
    return datetime.fromisoformat(answer.json()["promised_at"])


def paused_until() -> datetime | None:
    return Kitchen.objects.values_list("paused_until", flat=True).first()


# --- the promise -----------------------------------------------------------------------------------


def test_while_paused_an_asap_order_is_promised_the_first_slot_ending_after_the_pause_and_its_lead(client):
    load_test_menu(kitchen_menu())
    until = asap_pause(minutes=30, paused_by="boss")

    answer = post(client, pizza())

    assert promised(answer) == slot_end_holding(until + LEAD)
    assert promised(answer) >= until + LEAD > promised(answer) - SLOT  # the first slot that ends late enough


def test_while_paused_an_order_is_still_written_in_one_statement(django_assert_num_queries):
    """The pause comes with the kitchen's clock, which a process reads every few seconds, not per order."""
    until = asap_pause(minutes=30, paused_by="boss")
    kitchen_clock()

    with django_assert_num_queries(1):
        order = order_create(data=order_input())

    assert order.promised_at >= until


def test_a_pause_past_the_asap_horizon_refuses_asap_with_kitchen_paused_and_when_to_ask_for(client):
    load_test_menu(kitchen_menu(asap_horizon_minutes=30))
    until = asap_pause(minutes=60, paused_by="boss")

    answer = post(client, pizza())

    assert answer.status_code == 409, answer.content
    body = answer.json()
    assert body["code"] == "kitchen_paused"
    assert body["paused_until"] == iso(until)
    assert "paused until" in body["errors"]["ready_at"][0]
    # The first slot after the pause with room for it: an order for that time is taken.
    assert body["next_available"] == iso(slot_end_holding(until + LEAD))
    assert not Order.objects.exists()
    assert promised(post(client, pizza(ready_at=body["next_available"]))) == slot_end_holding(until + LEAD)


def test_a_full_kitchen_after_the_pause_is_kitchen_paused_with_the_next_slot_that_has_room(client):
    """Paused for 10 minutes, the slots after it full: within a 30-minute horizon no slot fits."""
    load_test_menu(kitchen_menu(asap_horizon_minutes=30))
    until = asap_pause(minutes=10, paused_by="boss")
    first = slot_end_holding(until + LEAD)
    horizon_end, slot_end = timezone.now() + timedelta(minutes=30), first
    while slot_end - SLOT < horizon_end:  # every slot after the pause that starts within the horizon
        for _ in range(3):
            assert promised(post(client, pizza(ready_at=iso(slot_end)))) == slot_end  # fills the oven
        slot_end += SLOT

    answer = post(client, pizza())

    assert answer.status_code == 409 and answer.json()["code"] == "kitchen_paused", answer.content
    assert answer.json()["next_available"] == iso(slot_end)


def test_an_order_for_a_requested_time_is_taken_during_the_pause(client):
    load_test_menu(kitchen_menu())
    until = asap_pause(minutes=60, paused_by="boss")
    soon = slot_end_holding(timezone.now() + timedelta(minutes=16))  # well before the pause's end
    assert soon < until

    assert promised(post(client, pizza(ready_at=iso(soon)))) == soon


def test_after_a_resume_asap_is_promised_as_before(client):
    load_test_menu(kitchen_menu())
    asap_pause(minutes=60, paused_by="boss")
    asap_resume(resumed_by="boss")
    now = timezone.now()

    answer = post(client, pizza())

    assert slot_end_holding(now + LEAD) <= promised(answer) <= slot_end_holding(timezone.now() + LEAD)
    assert paused_until() is None


def test_a_pause_that_has_ended_changes_nothing(client):
    load_test_menu(kitchen_menu(asap_horizon_minutes=30))
    asap_pause(minutes=60, paused_by="boss", now=timezone.now() - timedelta(minutes=61))

    assert promised(post(client, pizza())) <= timezone.now() + SLOT + LEAD


def test_load_menu_never_ends_a_pause():
    load_test_menu(kitchen_menu())
    until = asap_pause(minutes=30, paused_by="boss")

    load_test_menu(kitchen_menu(slot_minutes=10))
    load_test_menu(menu_copy())  # a menu file without "kitchen"

    kitchen = Kitchen.objects.get()
    assert (kitchen.paused_until, kitchen.paused_by, kitchen.slot_minutes) == (until, "boss", 10)


def test_get_slots_says_until_when_asap_is_paused(client):
    load_test_menu(kitchen_menu())
    assert client.get("/slots").json()["paused_until"] is None

    until = asap_pause(minutes=15, paused_by="boss")
    assert client.get("/slots").json()["paused_until"] == iso(until)

    asap_resume(resumed_by="boss")
    assert client.get("/slots").json()["paused_until"] is None


# --- the back office's page --------------------------------------------------------------------------


def test_a_manager_pauses_and_resumes_from_the_back_office_and_both_are_logged(
    caplog, django_capture_on_commit_callbacks
):
    manager = logged_in(MANAGER, "boss")
    page = manager.get(ADMIN_PAGE)
    assert page.status_code == 200 and "New ASAP orders are taken." in page.text
    assert ADMIN_PAGE in manager.get("/admin/").text  # listed with the orders' pages

    with caplog.at_level(logging.INFO), django_capture_on_commit_callbacks(execute=True):
        before = timezone.now()
        answer = manager.post(ADMIN_PAGE, {"minutes": "10"})
        assert answer.status_code == 302
        assert (
            before + timedelta(minutes=10) - timedelta(seconds=1)
            <= paused_until()
            <= timezone.now() + timedelta(minutes=10)
        )
        assert "paused until" in manager.get(ADMIN_PAGE).text
        assert manager.post(ADMIN_PAGE, {"action": "resume"}).status_code == 302
    assert paused_until() is None

    lines = {record.action: record.details for record in caplog.records if getattr(record, "action", "") in ASAP_LINES}
    assert lines["asap_paused"]["paused_by"] == "boss" and lines["asap_paused"]["minutes"] == 10
    assert lines["asap_resumed"]["resumed_by"] == "boss" and lines["asap_resumed"]["paused_until"] is not None


@pytest.mark.parametrize("minutes", ["0", "241", "ten", "", "1.5", "-5"])
def test_a_bad_number_of_minutes_is_a_400_naming_it_and_changes_nothing(minutes):
    manager = logged_in(MANAGER, "boss")

    page = manager.post(ADMIN_PAGE, {"minutes": minutes})
    expo = manager.post(EXPO_VIEW, {"minutes": minutes})

    assert page.status_code == 400 and "Minutes: must be a whole number of minutes from 1 to 240" in page.text
    assert expo.status_code == 400 and set(expo.json()["errors"]) == {"minutes"}
    assert paused_until() is None


@pytest.mark.parametrize("role", [FRONT_OF_HOUSE, KITCHEN])
def test_only_a_manager_may_pause(role):
    someone = logged_in(role, "someone")

    page = someone.post(ADMIN_PAGE, {"minutes": "15"})
    expo = someone.post(EXPO_VIEW, {"minutes": "15"})
    anonymous = Client().post(EXPO_VIEW, {"minutes": "15"})

    # Front of house may use the back office but not this page: 403; the Kitchen role may not use
    # the back office at all, and is sent to its login.
    assert page.status_code == (403 if role == FRONT_OF_HOUSE else 302)
    assert expo.status_code == 403 and anonymous.status_code == 403
    assert paused_until() is None
    asap_pause(minutes=15, paused_by="boss")
    assert someone.post(EXPO_VIEW, {"action": "resume"}).status_code == 403
    assert paused_until() is not None


def test_the_expo_view_pauses_and_resumes_for_a_manager_and_answers_the_pause():
    manager = logged_in(MANAGER, "boss")

    paused = manager.post(EXPO_VIEW, {"minutes": "15"})
    resumed = manager.post(EXPO_VIEW, {"action": "resume"})

    assert paused.status_code == 200 and paused.json()["paused_until"] == paused_until_text(paused)
    assert paused.json()["paused_by"] == "boss" and len(paused.json()["until_local"]) == 5
    assert resumed.status_code == 200 and resumed.json()["paused_until"] is None
    assert paused_until() is None


def paused_until_text(answer) -> str:
    moment = datetime.fromisoformat(answer.json()["paused_until"])
    assert timedelta(minutes=14) < moment - timezone.now() <= timedelta(minutes=15)
    return moment.isoformat()


def test_the_expo_view_wants_the_csrf_token():
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(staff_user(MANAGER, "boss"))

    assert browser.post(EXPO_VIEW, {"minutes": "15"}).status_code == 403
    assert paused_until() is None
    assert browser.get(EXPO_VIEW).status_code == 405


def test_the_expo_page_has_the_pause_buttons_for_a_manager_only():
    manager, cook = logged_in(MANAGER, "boss"), logged_in(KITCHEN, "cook")

    assert 'id="pause-controls"' in manager.get("/kitchen/expo/").text
    assert 'id="pause-controls"' not in cook.get("/kitchen/expo/").text
    assert 'id="pause-controls"' not in manager.get("/kitchen/").text  # the station screens show the banner only
