"""Staff roles (SPEC §7) as Django groups: who may do what, in one place.

Two questions are asked of a user, both answered from here:
- "is this user in a role?" (`has_role`): the back office's login (restaurant/admin_site.py: a role is
  all a person needs, no "Staff status" tick), the staff order API (orders/apis.py), the kitchen and
  expo pages and sockets (kitchen/views.py, kitchen/consumers.py) and the API tokens' admin
  (orders/admin/tokens.py) let in the roles named below, and an active superuser;
- "does this user hold a permission?" (Django's `user.has_perm`): the back office (restaurant/admin_site.py
  and every app's admin) checks the permissions a role is given here (`ROLE_PERMISSIONS`).

The groups are made by data migrations (orders 0003, menu 0004, orders 0006, restaurant 0004, orders
0013, menu 0008, menu 0009, each granting the permissions of its day) and topped up by
`create_demo_staff` through `ensure_roles`, which only adds: a permission an operator gave a group by
hand is left alone. A Manager puts a person in a role in the back office (restaurant/admin.py: staff
accounts), through `user_set_role`.
"""

from django.apps import apps
from django.contrib.auth import SESSION_KEY, get_user_model
from django.contrib.auth.management import create_permissions
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.management import create_contenttypes
from django.contrib.sessions.models import Session
from django.utils import timezone

KITCHEN = "Kitchen"
FRONT_OF_HOUSE = "Front of house"
MANAGER = "Manager"

# Who may pass each door that asks for a role (an active superuser passes them all).
STAFF_ROLES = (MANAGER, FRONT_OF_HOUSE, KITCHEN)  # the login: a person in any role may log in
KITCHEN_STAFF = (KITCHEN, MANAGER)  # the kitchen display, and every action taken from a kitchen screen
EXPO_WATCHERS = (KITCHEN, MANAGER, FRONT_OF_HOUSE)  # the expo screen (Front of house watches only)
ORDER_STAFF = (MANAGER, FRONT_OF_HOUSE, KITCHEN)  # the staff order API: GET /orders, GET /orders/{number}
ORDER_CANCELLERS = (MANAGER, FRONT_OF_HOUSE)  # the staff order API's POST /orders/{number}/cancel
TOKEN_MANAGERS = (MANAGER,)  # the staff order API's tokens, in the back office

# "app_label.codename", or "app_label.*" for every permission on that app's models.
ROLE_PERMISSIONS: dict[str, tuple[str, ...]] = {
    # The kitchen display's bump button, and 86ing items during service: of the back office, the menu
    # items list and its two actions only (restaurant/admin_site.py `admit`, menu/admin.py).
    KITCHEN: ("orders.complete_order", "menu.view_menuitem", "menu.set_availability"),
    FRONT_OF_HOUSE: (
        "orders.view_order",
        "orders.add_order",
        "orders.cancel_order",
        "orders.complete_order",
        "orders.view_orderitem",
        "orders.view_orderstatuslog",
        "orders.view_table",
        "orders.view_capacity",  # the kitchen's capacity page: which slots still have room, for the phone
        "notifications.view_customernotification",
        "kitchen.view_worker",
        # The menu to answer the phone with; and they 86 what the pass tells them is out (the kitchen
        # is busy cooking), but prices and the catalog stay the Manager's.
        "menu.view_station",
        "menu.view_category",
        "menu.view_menuitem",
        "menu.view_modifiergroup",
        "menu.view_modifieroption",
        "menu.view_kitchen",  # the opening hours and slots (Menu › Kitchen hours and slots), read only
        "menu.set_availability",
    ),
    # restaurant.* holds the staff accounts (restaurant.StaffAccount: add, change, view; no delete): a
    # Manager creates a person's login, deactivates it and sets its role, and nothing more of it.
    MANAGER: ("orders.*", "kitchen.*", "restaurant.*", "menu.*", "notifications.*"),
}


def has_role(user, *roles: str) -> bool:
    """An active superuser, or an active user in one of `roles` (a group not created yet has no members)."""
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    return user.is_superuser or user.groups.filter(name__in=roles).exists()


def has_role_now(user, *roles: str) -> bool:
    """`has_role` of the user's row as the database holds it at this moment: a socket opened an hour
    ago must not act on a group, an activation or a superuser flag its user has since lost."""
    if user is None or not user.is_authenticated:
        return False
    return has_role(get_user_model().objects.filter(pk=user.pk).first(), *roles)


def session_has_role(session_key: str | None, user, *roles: str) -> bool:
    """`has_role_now`, and the login that opened a socket still stands: its session is in the database,
    unexpired and still this user's (a logout, even in another tab, deletes it)."""
    if session_key is None or user is None or not user.is_authenticated:
        return False
    session = Session.objects.filter(session_key=session_key, expire_date__gt=timezone.now()).first()
    if session is None or session.get_decoded().get(SESSION_KEY) != str(user.pk):
        return False
    return has_role_now(user, *roles)


def role_of(user) -> str | None:
    """The role the user is in (the first of STAFF_ROLES, should an operator have put them in two)."""
    names = {group.name for group in user.groups.all()}
    return next((role for role in STAFF_ROLES if role in names), None)


def user_set_role(*, user, role: str) -> None:
    """Put `user` in `role`'s group and out of every other role's, leaving any other group as it is."""
    if role not in STAFF_ROLES:
        raise ValueError(f"no role {role!r}")
    user.groups.remove(*Group.objects.filter(name__in=STAFF_ROLES).exclude(name=role))
    user.groups.add(Group.objects.get(name=role))


def ensure_roles() -> None:
    """Create the role groups if missing and give each its permissions (adding, never removing)."""
    # Content types and model permissions appear after `migrate` (post_migrate); a test database
    # emptied between tests may have none yet.
    for app_config in apps.get_app_configs():
        create_contenttypes(app_config, verbosity=0)
        create_permissions(app_config, verbosity=0)
    for role, names in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        wanted = []
        for name in names:
            app_label, codename = name.split(".")
            found = Permission.objects.filter(content_type__app_label=app_label)
            if codename != "*":
                found = found.filter(codename=codename)
                if not found.exists():
                    raise LookupError(f"role {role}: no permission {name}")
            wanted.extend(found)
        group.permissions.add(*wanted)
