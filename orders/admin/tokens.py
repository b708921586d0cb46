"""The staff order API's tokens in the back office (Auth Token › Tokens)."""

from django.contrib import admin
from django.http import HttpRequest
from rest_framework.authtoken.admin import TokenAdmin
from rest_framework.authtoken.models import TokenProxy

from restaurant.roles import TOKEN_MANAGERS, has_role

# rest_framework.authtoken registers its admin first (it comes before orders in INSTALLED_APPS).
admin.site.unregister(TokenProxy)


@admin.register(TokenProxy)
class ApiTokenAdmin(TokenAdmin):
    """The staff order API's tokens: Managers and superusers only, whatever else a role was given: a
    token logs an app in as its user until it is deleted."""

    def _manages_tokens(self, request: HttpRequest) -> bool:
        return has_role(request.user, *TOKEN_MANAGERS)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self._manages_tokens(request)

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return self._manages_tokens(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self._manages_tokens(request)

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return self._manages_tokens(request)

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return self._manages_tokens(request)
