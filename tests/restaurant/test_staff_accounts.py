"""Staff accounts (issue 17 item 7b): a role is all a person needs to log in, to the back office and
the kitchen screens alike (no "Staff status" tick); a Manager creates a person's login with its role
in the back office, changes the role, deactivates it, and can neither make nor touch a superuser nor
give any permission but a role's."""

import pytest
from django.contrib.auth import SESSION_KEY, get_user_model
from django.contrib.auth.models import Group, Permission
from django.test import Client
from django.urls import reverse

from restaurant.models import StaffAccount
from tests.factories import FRONT_OF_HOUSE, KITCHEN, MANAGER, logged_in, posted_back, staff_user

pytestmark = pytest.mark.django_db

PASSWORD = "grill-station-42"
ACCOUNTS = reverse("admin:restaurant_staffaccount_changelist")
ADD = reverse("admin:restaurant_staffaccount_add")
REFUSED = "Please enter the correct username and password for a staff account."


def change_url(user) -> str:
    return reverse("admin:restaurant_staffaccount_change", args=[user.pk])


def password_url(user) -> str:
    return reverse("admin:restaurant_staffaccount_password_change", args=[user.pk])


def with_password(user):
    user.set_password(PASSWORD)
    user.save()
    return user


def log_in(username: str, next_page: str) -> tuple[Client, object]:
    client = Client()
    response = client.post("/admin/login/", {"username": username, "password": PASSWORD, "next": next_page})
    return client, response


def roles_of(username: str) -> list[str]:
    return list(get_user_model().objects.get(username=username).groups.values_list("name", flat=True))


def new_account(**fields) -> dict:
    form = {"username": "ana", "first_name": "Ana", "role": KITCHEN, "password1": PASSWORD, "password2": PASSWORD}
    return form | fields


# --- logging in --------------------------------------------------------------------------------


def test_a_cook_without_staff_status_logs_in_and_reaches_the_kitchen_display():
    with_password(staff_user(KITCHEN, "cook", is_staff=False))

    client, login = log_in("cook", "/kitchen/")

    assert login.status_code == 302 and login["Location"] == "/kitchen/"
    assert client.get("/kitchen/").status_code == 200


def test_front_of_house_without_staff_status_logs_in_to_the_back_office():
    with_password(staff_user(FRONT_OF_HOUSE, "fiona", is_staff=False))

    client, login = log_in("fiona", "/admin/")

    assert login.status_code == 302 and login["Location"] == "/admin/"
    assert client.get(reverse("admin:orders_order_changelist")).status_code == 200


@pytest.mark.parametrize("inactive", [False, True], ids=["in no role", "inactive cook"])
def test_a_login_in_no_role_or_inactive_is_refused_as_django_refuses_one(inactive):
    user = with_password(staff_user(KITCHEN if inactive else None, "someone", is_staff=False))
    user.is_active = not inactive
    user.save()

    client, login = log_in("someone", "/kitchen/")

    assert login.status_code == 200 and REFUSED in login.text
    assert SESSION_KEY not in client.session


# --- the Manager's staff accounts ----------------------------------------------------------------


def test_a_manager_creates_a_cook_who_logs_in_without_staff_status_and_reaches_the_kitchen():
    manager = logged_in(MANAGER, "boss")
    assert manager.get(ADD).status_code == 200

    created = manager.post(ADD, new_account())

    assert created.status_code == 302, created.context and created.context["adminform"].form.errors
    cook = get_user_model().objects.get(username="ana")
    assert (cook.first_name, cook.is_staff, cook.is_superuser, cook.is_active) == ("Ana", False, False, True)
    assert roles_of("ana") == [KITCHEN]
    client, login = log_in("ana", "/kitchen/")
    assert login.status_code == 302 and client.get("/kitchen/").status_code == 200


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("a", "This password is too short. It must contain at least 8 characters."),
        ("password123", "This password is too common."),
        ("48151623", "This password is entirely numeric."),
        ("anastasia1", "The password is too similar to the username."),
    ],
)
def test_a_weak_password_is_refused_with_the_validators_message(password, message):
    manager = logged_in(MANAGER, "boss")

    refused = manager.post(ADD, new_account(username="anastasia", password1=password, password2=password))

    assert refused.status_code == 200 and message in refused.text
    assert not get_user_model().objects.filter(username="anastasia").exists()


def test_a_manager_can_neither_make_a_superuser_nor_give_permissions_nor_a_group_but_a_roles():
    manager = logged_in(MANAGER, "boss")
    auditors = Group.objects.create(name="Auditors")
    anything = Permission.objects.get(codename="change_user")
    escalation = {"is_superuser": "on", "is_staff": "on", "user_permissions": [anything.pk], "groups": [auditors.pk]}

    created = manager.post(ADD, new_account(**escalation))
    other_group = manager.post(ADD, new_account(username="ben", role="Auditors"))

    assert created.status_code == 302
    ana = get_user_model().objects.get(username="ana")
    assert (ana.is_superuser, ana.is_staff, list(ana.user_permissions.all())) == (False, False, [])
    assert roles_of("ana") == [KITCHEN]
    assert other_group.status_code == 200 and "Select a valid choice." in other_group.text
    # Nor through the change page.
    page = manager.get(change_url(ana))
    changed = manager.post(change_url(ana), posted_back(page, **escalation))
    assert changed.status_code == 302
    ana.refresh_from_db()
    assert (ana.is_superuser, ana.is_staff, list(ana.user_permissions.all())) == (False, False, [])
    assert roles_of("ana") == [KITCHEN]


def test_a_manager_neither_sees_nor_changes_an_account_that_holds_more_than_a_role():
    root = with_password(staff_user(None, "root", superuser=True))
    clerk = with_password(staff_user(None, "clerk"))
    clerk.user_permissions.add(Permission.objects.get(codename="change_user"))
    auditor = with_password(staff_user(KITCHEN, "auditor"))
    auditor.groups.add(Group.objects.create(name="Auditors"))
    staff_user(FRONT_OF_HOUSE, "fiona", is_staff=False)
    manager = logged_in(MANAGER, "boss")

    listed = manager.get(ACCOUNTS).context["cl"].result_list

    assert sorted(user.username for user in listed) == ["boss", "fiona"]
    for user in (root, clerk, auditor):
        assert manager.get(change_url(user)).status_code == 302  # "does not exist"
        assert manager.post(change_url(user), {"username": user.username, "is_active": ""}).status_code == 302
        refused = manager.post(password_url(user), {"password1": "x-new-pass-77", "password2": "x-new-pass-77"})
        assert refused.status_code == 404
        user.refresh_from_db()
        assert user.is_active and user.check_password(PASSWORD)


def test_a_manager_changes_a_cooks_role_then_deactivates_the_login():
    cook = staff_user(KITCHEN, "cook", is_staff=False)
    cooks_client = Client()
    cooks_client.force_login(cook)
    manager = logged_in(MANAGER, "boss")

    page = manager.get(change_url(cook))
    assert page.context["adminform"].form["role"].value() == KITCHEN
    moved = manager.post(change_url(cook), posted_back(page, role=FRONT_OF_HOUSE))
    assert moved.status_code == 302 and roles_of("cook") == [FRONT_OF_HOUSE]
    assert cooks_client.get("/kitchen/").status_code == 403

    page = manager.get(change_url(cook))
    deactivated = manager.post(change_url(cook), posted_back(page, is_active=None))

    assert deactivated.status_code == 302
    cook.refresh_from_db()
    assert not cook.is_active
    assert cooks_client.get("/kitchen/")["Location"].startswith("/admin/login/")  # logged out
    assert StaffAccount.objects.filter(username="cook").exists()  # never deleted


def test_a_manager_sets_a_new_password_that_passes_the_validators():
    cook = with_password(staff_user(KITCHEN, "cook", is_staff=False))
    manager = logged_in(MANAGER, "boss")

    weak = manager.post(password_url(cook), {"password1": "a", "password2": "a"})
    strong = manager.post(password_url(cook), {"password1": "oven-door-1977", "password2": "oven-door-1977"})

    assert weak.status_code == 200 and "This password is too short." in weak.text
    assert strong.status_code == 302
    cook.refresh_from_db()
    assert cook.check_password("oven-door-1977")


def test_a_manager_neither_takes_their_own_role_nor_deactivates_themselves():
    manager = logged_in(MANAGER, "boss")
    boss = get_user_model().objects.get(username="boss")

    page = manager.get(change_url(boss))
    manager.post(change_url(boss), posted_back(page, role=KITCHEN, is_active=None, first_name="Bo"))

    boss.refresh_from_db()
    assert (boss.first_name, boss.is_active, roles_of("boss")) == ("Bo", True, [MANAGER])


@pytest.mark.parametrize("role", [FRONT_OF_HOUSE, KITCHEN])
def test_only_managers_manage_staff_accounts(role):
    client = logged_in(role, "someone")

    assert client.get(ACCOUNTS).status_code in (302, 403)
    assert client.post(ADD, new_account()).status_code in (302, 403)
    assert not get_user_model().objects.filter(username="ana").exists()
