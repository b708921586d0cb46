from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class RestaurantConfig(AppConfig):
    name = "restaurant"
    verbose_name = "Infrastructure"

    def ready(self) -> None:
        from restaurant import logins  # noqa: F401 (connects the lockout's log line)


class RestaurantAdminConfig(admin_apps.AdminConfig):
    """django.contrib.admin with our site (restaurant/admin_site.py) as the default one; named in
    INSTALLED_APPS in place of "django.contrib.admin"."""

    default = False  # RestaurantConfig stays this module's config for the "restaurant" app
    default_site = "restaurant.admin_site.RestaurantAdminSite"
