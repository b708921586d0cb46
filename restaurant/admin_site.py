"""The back office (SPEC §7): Django's admin for Managers and Front of house.

Installed as the default admin site by `restaurant.apps.RestaurantAdminConfig`, so every app's
`admin.py` registers on it as usual: models with `admin.site.register`, and pages that are not a
model's (kitchen's dead letters) with `admin.site.register_page`, and links to the live screens of
the display process with `admin.site.register_screen`. This module registers nothing itself: the
site class is imported while the default site is being built.

The back office asks for permissions, as Django's admin does; which role holds which is
restaurant/roles.py's `ROLE_PERMISSIONS`. Who may log in is restaurant/roles.py's too: an active person
in a role (`STAFF_ROLES`), or an active account with Django's "Staff status" (a superuser's, or one an
operator gave permissions of its own). A role is all a person needs: nothing asks for the tick.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.apps import apps
from django.conf import settings
from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import path, reverse
from django.views.decorators.http import require_http_methods

from restaurant.roles import STAFF_ROLES, has_role

# The back office starts at seeing orders: a staff account of the Kitchen role (the kitchen display's
# users) holds no such permission, so the admin refuses it like a non-staff account, but for the one
# app a permission it holds may let it into (`RestaurantAdminSite.admit`).
BACK_OFFICE_PERMISSION = "orders.view_order"
ACCOUNT_PAGES = ("logout", "password_change", "password_change_done")


def may_log_in(user) -> bool:
    """An active account in a role, or with Django's "Staff status" (see the module's docstring)."""
    return user.is_active and (user.is_staff or has_role(user, *STAFF_ROLES))


class StaffAuthenticationForm(AdminAuthenticationForm):
    """The back office's login (the kitchen screens send their users to it too): `may_log_in`, where
    Django's asks for "Staff status". A login refused is told as Django's tells it, whatever the reason."""

    def confirm_login_allowed(self, user) -> None:
        if not may_log_in(user):
            raise ValidationError(
                self.error_messages["invalid_login"],
                code="invalid_login",
                params={"username": self.username_field.verbose_name},
            )


@dataclass(frozen=True)
class AdminPage:
    """A page of an app that is not a model's: served at /admin/<route> as `admin:<url_name>` to
    those with `permission`, and listed with the app's models."""

    app_label: str
    route: str
    url_name: str
    name: str  # as listed, like a model's verbose_name_plural
    object_name: str  # as a model's, for the admin's CSS classes
    permission: str
    view: Callable[[admin.AdminSite, HttpRequest], HttpResponse]
    methods: tuple[str, ...] = ("GET", "POST")


@dataclass(frozen=True)
class ScreenLink:
    """A live screen linked from the admin's index for the users in one of its `roles` (none: for
    everyone); its URL is `url_name`'s path on the display process (settings.DISPLAY_URL)."""

    name: str
    url_name: str
    description: str
    roles: tuple[str, ...] = ()


class RestaurantAdminSite(admin.AdminSite):
    site_header = "Restaurant back office"
    site_title = "Restaurant back office"
    index_title = "Orders, kitchen and messaging"
    index_template = "admin/restaurant/index.html"
    login_form = StaffAuthenticationForm

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._pages: list[AdminPage] = []
        self._screens: list[ScreenLink] = []
        self._app_permissions: list[str] = []

    @property
    def site_url(self) -> str:
        """ "View site": the public customer board, on the display process (the web process serves no page at /)."""
        return f"{settings.DISPLAY_URL}{reverse('customer-board')}"

    def register_screen(self, screen: ScreenLink) -> None:
        self._screens.append(screen)

    def index(self, request: HttpRequest, extra_context=None) -> HttpResponse:
        screens = [
            {"name": s.name, "url": f"{settings.DISPLAY_URL}{reverse(s.url_name)}", "description": s.description}
            for s in self._screens
            if not s.roles or has_role(request.user, *s.roles)
        ]
        return super().index(request, {"screens": screens, **(extra_context or {})})

    def admit(self, permission: str) -> None:
        """Let a user who may log in and holds `permission` ("app_label.codename") but not the back office's into
        the pages of that permission's app (/admin/<app_label>/...) and their own account's, nothing
        else: what they see and do there is up to that app's ModelAdmins."""
        self._app_permissions.append(permission)

    def has_permission(self, request: HttpRequest) -> bool:
        user = request.user
        if not may_log_in(user):
            return False
        if user.has_perm(BACK_OFFICE_PERMISSION):
            return True
        apps = self._admitted_apps(request)
        return bool(apps) and (
            any(request.path.startswith(self._app_path(app)) for app in apps)
            or request.path in [reverse(f"admin:{name}", current_app=self.name) for name in ACCOUNT_PAGES]
        )

    def _admitted_apps(self, request: HttpRequest) -> list[str]:
        return [name.split(".")[0] for name in self._app_permissions if request.user.has_perm(name)]

    def _app_path(self, app_label: str) -> str:
        return f"{reverse('admin:index', current_app=self.name)}{app_label}/"

    def login(self, request: HttpRequest, extra_context=None) -> HttpResponse:
        response = super().login(request, extra_context)
        # Someone let into one app only would land on the index, which is not theirs: their app instead.
        index = reverse("admin:index", current_app=self.name)
        if request.method == "POST" and getattr(response, "url", None) == index and not self.has_permission(request):
            if apps := self._admitted_apps(request):
                return HttpResponseRedirect(self._app_path(apps[0]))
        return response

    def register_page(self, page: AdminPage) -> None:
        self._pages.append(page)

    def get_urls(self):
        pages = [path(page.route, self._page_view(page), name=page.url_name) for page in self._pages]
        return [*pages, *super().get_urls()]

    def _page_view(self, page: AdminPage):
        @require_http_methods(list(page.methods))
        def view(request: HttpRequest) -> HttpResponse:
            if not request.user.has_perm(page.permission):
                raise PermissionDenied
            return page.view(self, request)

        return self.admin_view(view)

    def get_app_list(self, request: HttpRequest, app_label: str | None = None) -> list[dict]:
        """The registered models, plus each page under its app for those allowed on it."""
        app_list = super().get_app_list(request, app_label)
        for page in self._pages:
            if app_label not in (None, page.app_label) or not request.user.has_perm(page.permission):
                continue
            url = reverse(f"admin:{page.url_name}", current_app=self.name)
            app = next((app for app in app_list if app["app_label"] == page.app_label), None)
            if app is None:
                name = apps.get_app_config(page.app_label).verbose_name
                app = {"name": name, "app_label": page.app_label, "app_url": url, "has_module_perms": True}
                app["models"] = []
                app_list = sorted([*app_list, app], key=lambda app: app["name"].lower())
            entry = {"name": page.name, "object_name": page.object_name, "admin_url": url, "add_url": None}
            app["models"] = sorted([*app["models"], {**entry, "view_only": True}], key=lambda m: m["name"])
        return app_list
