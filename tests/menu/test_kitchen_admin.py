"""The back office's kitchen page (Menu › Kitchen hours and slots, issue 19) and the capacity fields of
stations and items: a Manager sets the time zone, the slots and the opening hours, and GET /slots and
POST /orders use them at once; bad values are refused by load_menu's own rules, each on its field,
nothing saved; a pause under way is never touched; one row, no add, no delete; Front of house read
only, the Kitchen role not at all. And the page in a headless Chromium (artifacts/browser/74-*.png).
Real PostgreSQL; Django's test client."""

import importlib
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.apps import apps as django_apps
from django.contrib.auth.models import Group, Permission
from django.forms.models import model_to_dict
from django.urls import reverse
from django.utils import timezone

from menu.models import Kitchen, MenuItem, Station
from orders.pause import asap_pause
from tests.factories import (
    FRONT_OF_HOUSE,
    KITCHEN,
    MANAGER,
    load_test_menu,
    logged_in,
    menu_copy,
    messages_of,
    post,
    posted_back,
    staff_user,
    staff_with_password,
)
from tests.support import chromium, log_in, start_web

pytestmark = pytest.mark.django_db

PAGE = reverse("admin:menu_kitchen_change", args=[1])
LIST = reverse("admin:menu_kitchen_changelist")
EVERY_DAY = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
NEW_YORK = ZoneInfo("America/New_York")


def the_form(**changes) -> dict:
    """What a Manager posts: the kitchen's defaults, with `changes`."""
    form = {"time_zone": "UTC", "slot_minutes": "15", "asap_horizon_minutes": "120", "days_ahead": "7", "hours": ""}
    return form | changes


def errors_of(response) -> dict[str, list[str]]:
    """The errors of a change page that was refused (200, the form again), by field."""
    assert response.status_code == 200, response.status_code
    return {name: [str(e) for e in errors] for name, errors in response.context["adminform"].form.errors.items()}


def kitchen_row() -> dict | None:
    row = Kitchen.objects.filter(pk=1).first()
    return None if row is None else model_to_dict(row)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def pizza_at(moment: datetime) -> dict:
    items = [{"sku": "margherita", "quantity": 1, "modifiers": ["medium"]}]
    return {"customer_name": "Jane", "order_type": "takeout", "items": items, "ready_at": iso(moment)}


@pytest.fixture(autouse=True)
def menu():
    load_test_menu()


# --- a Manager sets the kitchen's clock ---------------------------------------------------------


def test_a_manager_sets_the_zone_slots_and_hours_and_slots_and_orders_follow_at_once(client):
    manager = logged_in(MANAGER)
    assert client.get("/slots").json()["time_zone"] == "UTC"  # the clock is now kept by this process
    assert kitchen_row() is None  # the menu file had no "kitchen": the defaults, and no row yet

    listed = manager.get(LIST)
    page = manager.get(PAGE)
    hours = "mon-sun 11:00-14:00\nmon-sun 18:00-24:00"
    saved = manager.post(PAGE, the_form(time_zone="America/New_York", slot_minutes="30", days_ahead="3", hours=hours))

    assert listed.status_code == 302 and listed["Location"] == PAGE
    assert page.status_code == 200 and 'name="_save"' in page.text and "Time zone" in page.text
    assert saved.status_code == 302, errors_of(saved)
    row = Kitchen.objects.get()
    assert (row.pk, row.time_zone, row.slot_minutes, row.asap_horizon_minutes, row.days_ahead) == (
        1,
        "America/New_York",
        30,
        120,
        3,
    )
    assert row.hours == [
        {"days": EVERY_DAY, "open": "11:00", "close": "14:00"},
        {"days": EVERY_DAY, "open": "18:00", "close": "24:00"},
    ]
    # GET /slots at once (the row's post_save made this process forget the clock it kept for 5 s).
    tomorrow = (timezone.now().astimezone(NEW_YORK) + timedelta(days=1)).date()
    slots = client.get("/slots", {"date": tomorrow.isoformat()}).json()
    assert (slots["time_zone"], slots["slot_minutes"], len(slots["slots"])) == ("America/New_York", 30, 6 + 12)
    first = datetime.combine(tomorrow, time(11, 0), tzinfo=NEW_YORK)
    assert (slots["slots"][0]["start"], slots["slots"][-1]["end"]) == (
        iso(first),
        iso(datetime.combine(tomorrow + timedelta(days=1), time(0, 0), tzinfo=NEW_YORK)),
    )
    # POST /orders: 12:10 is in the 12:00–12:30 slot; 15:00 is closed until 18:00; 4 days ahead is too far.
    taken = post(client, pizza_at(datetime.combine(tomorrow, time(12, 10), tzinfo=NEW_YORK)))
    closed = post(client, pizza_at(datetime.combine(tomorrow, time(15, 0), tzinfo=NEW_YORK)))
    too_far = post(client, pizza_at(datetime.combine(tomorrow + timedelta(days=3), time(12, 10), tzinfo=NEW_YORK)))
    assert taken.status_code == 201, taken.json()
    assert taken.json()["promised_at"] == iso(datetime.combine(tomorrow, time(12, 30), tzinfo=NEW_YORK))
    assert closed.status_code == 409 and closed.json()["code"] == "closed"
    assert closed.json()["next_open"] == iso(datetime.combine(tomorrow, time(18, 0), tzinfo=NEW_YORK))
    assert too_far.status_code == 400 and "ready_at" in too_far.json()["errors"]
    assert messages_of(saved)[-1][0] == "success"


def test_the_hours_box_reads_the_menu_files_hours_and_saves_them_back_as_they_were():
    menu = menu_copy()
    hours = [
        {"days": ["mon", "tue", "wed", "thu", "fri"], "open": "11:30", "close": "14:30"},
        {"days": ["mon", "tue", "wed", "thu", "fri"], "open": "18:00", "close": "22:30"},
        {"days": ["sun", "sat"], "open": "12:00", "close": "24:00"},
    ]
    menu["kitchen"] = {"time_zone": "Europe/Rome", "slot_minutes": 10, "days_ahead": 14, "hours": hours}
    load_test_menu(menu)
    manager = logged_in(MANAGER)
    before = kitchen_row()

    page = manager.get(PAGE)
    saved = manager.post(PAGE, posted_back(page))

    assert page.context["adminform"].form["hours"].value() == (
        "mon-fri 11:30-14:30\nmon-fri 18:00-22:30\nsat,sun 12:00-24:00"
    )
    assert '<option value="Europe/Rome" selected>Europe/Rome</option>' in page.text
    assert saved.status_code == 302, errors_of(saved)
    assert kitchen_row() == before | {
        "hours": [*hours[:2], {"days": ["sat", "sun"], "open": "12:00", "close": "24:00"}]
    }


@pytest.mark.parametrize(
    ("typed", "saved"),
    [
        ("fri-mon 18:00-23:00", [{"days": ["mon", "fri", "sat", "sun"], "open": "18:00", "close": "23:00"}]),
        ("Sat, sun  9:00 - 12:00", [{"days": ["sat", "sun"], "open": "09:00", "close": "12:00"}]),
        ("\n  tue 00:00-24:00  \n\n", [{"days": ["tue"], "open": "00:00", "close": "24:00"}]),
        ("", []),  # open all day, every day
    ],
)
def test_the_hours_box_takes_ranges_across_the_weeks_end_capitals_spaces_and_an_hour_of_one_digit(typed, saved):
    response = logged_in(MANAGER).post(PAGE, the_form(hours=typed))

    assert response.status_code == 302, errors_of(response)
    assert Kitchen.objects.get().hours == saved


# --- refused: load_menu's rules, on the field ---------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("time_zone", "Mars/Olympus", "Must be an IANA time zone, e.g. Europe/Rome."),
        ("slot_minutes", "0", "Must be a whole number from 1 to 60."),
        ("slot_minutes", "61", "Must be a whole number from 1 to 60."),
        ("asap_horizon_minutes", "1441", "Must be a whole number from 1 to 1440."),
        ("days_ahead", "91", "Must be a whole number from 0 to 90."),
        ("slot_minutes", "ten", "Enter a whole number."),
        (
            "hours",
            "mon 11:00-15:00\nmon 22:00-18:00",
            'Line 2, "mon 22:00-18:00": close must be after open (24:00 for the end of the day).',
        ),
        (
            "hours",
            "mon,tues 11:00-15:00",
            "Line 1, \"mon,tues 11:00-15:00\": days must be a list of mon, tue, wed, thu, fri, sat, sun (not 'tues').",
        ),
        (
            "hours",
            "mon 24:30-24:00",
            'Line 1, "mon 24:30-24:00": open must be a time HH:MM (24:00 for the end of the day).',
        ),
        (
            "hours",
            "every day",
            'Line 1, "every day": write the days, then the times, e.g. mon-fri 11:30-22:30.',
        ),
    ],
)
def test_a_bad_value_is_refused_on_its_field_and_nothing_is_saved(field, value, error):
    menu = menu_copy()
    menu["kitchen"] = {"time_zone": "Europe/Rome", "hours": [{"days": ["mon"], "open": "18:00", "close": "23:00"}]}
    load_test_menu(menu)
    before = kitchen_row()

    response = logged_in(MANAGER).post(PAGE, the_form(**{field: value}))

    assert errors_of(response) == {field: [error]}
    assert kitchen_row() == before


def test_every_bad_field_is_named_at_once_even_with_a_line_that_is_no_range():
    response = logged_in(MANAGER).post(
        PAGE, the_form(time_zone="Mars/Olympus", slot_minutes="0", hours="mon 11:00-15:00\nlunch")
    )

    assert sorted(errors_of(response)) == ["hours", "slot_minutes", "time_zone"]
    assert kitchen_row() is None


# --- the pause is not the page's ----------------------------------------------------------------


def test_a_pause_under_way_is_kept_by_a_save_and_shown_in_the_kitchens_time():
    menu = menu_copy()
    menu["kitchen"] = {"time_zone": "Europe/Rome"}
    load_test_menu(menu)
    until = asap_pause(minutes=30, paused_by="maria")
    manager = logged_in(MANAGER)

    page = manager.get(PAGE)
    # Posted with the pause's fields too (a crafted form): they are not the page's to write.
    saved = manager.post(
        PAGE, the_form(time_zone="Europe/Rome", slot_minutes="20", paused_until="", paused_by="mallory")
    )

    refused = manager.post(PAGE, the_form(time_zone="Mars/Olympus", hours="mon 18:00-23:00"))

    local = until.astimezone(ZoneInfo("Europe/Rome")).strftime("%H:%M")
    assert f"Paused until {local} (Europe/Rome) by maria." in page.text
    assert f"Paused until {local} (Europe/Rome) by maria." in refused.text  # the row's zone, not the one refused
    assert list(errors_of(refused)) == ["time_zone"]
    assert f'<a href="{reverse("admin:kitchen_busy")}">Orders › Kitchen busy</a>' in page.text
    assert "paused_until" not in page.context["adminform"].form.fields
    assert saved.status_code == 302, errors_of(saved)
    row = Kitchen.objects.get()
    assert (row.slot_minutes, row.paused_until, row.paused_by) == (20, until, "maria")


# --- one row: no add, no delete -----------------------------------------------------------------


def test_the_kitchen_is_one_row_that_is_neither_added_nor_deleted():
    manager = logged_in(MANAGER)
    manager.post(PAGE, the_form(time_zone="Europe/Rome"))

    assert manager.get(reverse("admin:menu_kitchen_add")).status_code == 403
    assert manager.post(reverse("admin:menu_kitchen_add"), the_form()).status_code == 403
    assert manager.post(reverse("admin:menu_kitchen_delete", args=[1]), {"post": "yes"}).status_code == 403
    other = manager.get(reverse("admin:menu_kitchen_change", args=[2]))
    assert other.status_code == 302 and other["Location"] == reverse("admin:index")
    assert list(Kitchen.objects.values_list("pk", "time_zone")) == [(1, "Europe/Rome")]
    menu_index = manager.get(reverse("admin:app_list", args=["menu"])).text
    assert f'href="{LIST}"' in menu_index and "Kitchen hours and slots" in menu_index
    assert reverse("admin:menu_kitchen_add") not in menu_index


# --- who may ------------------------------------------------------------------------------------


def test_front_of_house_sees_the_hours_and_changes_nothing_and_the_kitchen_role_sees_nothing():
    menu = menu_copy()
    hours = [{"days": ["mon", "tue", "wed", "thu", "fri"], "open": "11:30", "close": "22:30"}]
    menu["kitchen"] = {"time_zone": "Europe/Rome", "hours": hours}
    load_test_menu(menu)
    before = kitchen_row()
    front = logged_in(FRONT_OF_HOUSE, "frank")
    kitchen = logged_in(KITCHEN, "kit")

    page = front.get(PAGE)

    assert page.status_code == 200 and 'name="_save"' not in page.text
    assert "mon-fri 11:30-22:30" in page.text and "Europe/Rome" in page.text
    assert front.get(LIST).status_code == 302
    assert front.post(PAGE, the_form(time_zone="UTC")).status_code == 403
    assert kitchen.get(PAGE).status_code == 403 and kitchen.get(LIST).status_code == 403
    assert kitchen.post(PAGE, the_form(time_zone="UTC")).status_code == 403
    assert kitchen_row() == before


def test_the_migration_grants_the_page_to_managers_and_a_look_to_front_of_house():
    staff_user(MANAGER)  # the role groups, made again after an earlier test emptied the tables
    permissions = Permission.objects.filter(codename__in=["view_kitchen", "change_kitchen"])
    for group in Group.objects.all():
        group.permissions.remove(*permissions)

    importlib.import_module("menu.migrations.0009_kitchen_hours_page").grant(django_apps, None)

    def holders(codename: str) -> set[str]:
        return set(Group.objects.filter(permissions__codename=codename).values_list("name", flat=True))

    assert holders("change_kitchen") == {MANAGER}
    assert holders("view_kitchen") == {MANAGER, FRONT_OF_HOUSE}


# --- a station's capacity and an item's load ----------------------------------------------------


def test_a_manager_sets_a_stations_capacity_and_an_items_load_and_slots_count_them(client):
    manager = logged_in(MANAGER)
    oven = Station.objects.get(code="oven")
    station_url = reverse("admin:menu_station_change", args=[oven.pk])
    item_url = reverse("admin:menu_menuitem_change", args=[MenuItem.objects.get(sku="margherita").pk])

    capacity = manager.post(station_url, posted_back(manager.get(station_url), capacity_per_slot="4"))
    load = manager.post(item_url, posted_back(manager.get(item_url), load="2"))

    assert capacity.status_code == 302 and load.status_code == 302
    assert (Station.objects.get(code="oven").capacity_per_slot, MenuItem.objects.get(sku="margherita").load) == (4, 2)
    two, three = (client.get("/slots", {"items": f"margherita:{n}"}).json()["slots"][-1] for n in (2, 3))
    assert two["stations"] == {"oven": {"capacity": 4, "used": 0}}
    assert (two["fits"], three["fits"]) == (True, False)  # 2 × 2 fit in 4, 3 × 2 do not
    stations = manager.get(reverse("admin:menu_station_changelist"))
    items = manager.get(reverse("admin:menu_menuitem_changelist"))
    assert "capacity_per_slot" in stations.context["cl"].list_display and "load units" in manager.get(station_url).text
    assert "load" in items.context["cl"].list_display
    # Emptied: no limit again; a load of 0: takes no station time.
    manager.post(station_url, posted_back(manager.get(station_url), capacity_per_slot=""))
    manager.post(item_url, posted_back(manager.get(item_url), load="0"))
    assert (Station.objects.get(code="oven").capacity_per_slot, MenuItem.objects.get(sku="margherita").load) == (
        None,
        0,
    )


@pytest.mark.parametrize(
    ("model", "field", "value", "error"),
    [
        ("station", "capacity_per_slot", "0", "Ensure this value is greater than or equal to 1."),
        ("station", "capacity_per_slot", "100001", "Ensure this value is less than or equal to 100000."),
        ("menuitem", "load", "1001", "Ensure this value is less than or equal to 1000."),
        ("menuitem", "load", "-1", "Ensure this value is greater than or equal to 0."),
    ],
)
def test_a_capacity_or_a_load_out_of_load_menus_bounds_is_refused(model, field, value, error):
    manager = logged_in(MANAGER)
    row = Station.objects.get(code="oven") if model == "station" else MenuItem.objects.get(sku="margherita")
    url = reverse(f"admin:menu_{model}_change", args=[row.pk])
    before = model_to_dict(row)

    response = manager.post(url, posted_back(manager.get(url), **{field: value}))

    assert response.status_code == 200
    assert response.context["adminform"].form.errors[field] == [error]
    row.refresh_from_db()
    assert model_to_dict(row) == before


# --- in a browser -------------------------------------------------------------------------------


def test_the_page_in_a_browser(processes, browser_artifacts):
    from playwright.sync_api import expect

    staff_with_password(MANAGER, "maria")
    staff_with_password(FRONT_OF_HOUSE, "frank")
    menu = menu_copy()
    hours = [
        {"days": ["mon", "tue", "wed", "thu", "fri"], "open": "11:30", "close": "14:30"},
        {"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "open": "18:00", "close": "23:00"},
    ]
    menu["kitchen"] = {"time_zone": "Europe/Rome", "hours": hours}
    load_test_menu(menu)
    asap_pause(minutes=30, paused_by="maria")
    url = start_web(processes)

    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("response", lambda r: r.status >= 400 and not r.url.endswith("/favicon.ico") and errors.append(r.url))
        log_in(page, url, LIST, "maria")
        expect(page.locator("#id_time_zone")).to_have_value("Europe/Rome", timeout=15_000)
        expect(page.locator("#id_hours")).to_have_value("mon-fri 11:30-14:30\nmon-sun 18:00-23:00")
        page.screenshot(path=browser_artifacts / "74-admin-kitchen-hours.png", full_page=True)

        page.fill("#id_hours", "mon-fri 11:30-14:30\nmon-sun 23:00-18:00")
        page.click("input[name=_save]")
        expect(page.locator(".errorlist")).to_contain_text('Line 2, "mon-sun 23:00-18:00": close must be after open')
        page.screenshot(path=browser_artifacts / "75-admin-kitchen-hours-refused.png", full_page=True)

        page.select_option("#id_time_zone", "America/New_York")
        page.fill("#id_hours", "mon-fri 11:30-14:30\nmon-sun 18:00-24:00")
        page.click("input[name=_save]")
        expect(page.locator(".messagelist .success")).to_be_visible()
        expect(page.locator("#id_hours")).to_have_value("mon-fri 11:30-14:30\nmon-sun 18:00-24:00")
        page.screenshot(path=browser_artifacts / "76-admin-kitchen-hours-saved.png", full_page=True)

        # Front of house: the same page, read only (the hours as the box writes them), dark.
        front = browser.new_page(viewport={"width": 1280, "height": 900}, color_scheme="dark")
        log_in(front, url, LIST, "frank")
        expect(front.locator(".field-opening_hours .readonly")).to_contain_text("mon-sun 18:00-24:00", timeout=15_000)
        assert front.locator("input[name=_save]").count() == 0
        front.screenshot(path=browser_artifacts / "77-admin-kitchen-hours-front-of-house-dark.png", full_page=True)
        assert errors == [], errors

    row = Kitchen.objects.get()
    assert (row.time_zone, row.hours[1]["close"], row.paused_by) == ("America/New_York", "24:00", "maria")
