"""The staff order API's tokens in the back office (Orders › API tokens; orders/tokens.py says what a
token is). A key is shown once, in the message that follows its making; the list shows its first
characters only."""

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest
from django.utils import timezone
from knox.models import AuthToken

from orders.models import ApiToken
from orders.tokens import api_token_issue, token_holders
from restaurant.roles import TOKEN_MANAGERS, has_role

# knox registers its own admin first (it comes before orders in INSTALLED_APPS): it lists the digests,
# and would be a second way in. The tokens are listed here instead, under Orders.
admin.site.unregister(AuthToken)


class ApiTokenForm(forms.ModelForm):
    class Meta:
        model = ApiToken
        fields = ["user", "expiry"]
        labels = {"expiry": "Expires"}
        help_texts = {
            "user": "An active person in a staff role: the token reads orders as them.",
            "expiry": "Optional (UTC): the token is refused from then on. Empty: until it is deleted.",
        }

    def clean_expiry(self):
        expiry = self.cleaned_data["expiry"]
        if expiry is not None and expiry <= timezone.now():
            raise forms.ValidationError("An expiry must be in the future.")
        return expiry


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Managers and superusers only, whatever else a role was given: a token logs an app in as its user
    until it expires or is deleted. Made here or deleted (revoked), never changed."""

    form = ApiTokenForm
    list_display = ["key_starts", "user", "created", "expiry"]
    list_select_related = ["user"]
    search_fields = ["user__username", "token_key"]
    ordering = ["-created"]
    fields = ["key_starts", "user", "created", "expiry"]

    @admin.display(description="key starts with")
    def key_starts(self, token: ApiToken) -> str:
        return f"{token.token_key}…"

    def get_fields(self, request, obj=None):
        return ["user", "expiry"] if obj is None else self.fields

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.fields

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "user":
            kwargs["queryset"] = token_holders(superusers=request.user.is_superuser)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request, obj: ApiToken, form, change) -> None:
        key = api_token_issue(obj)
        self.message_user(
            request,
            f"The token's key, shown this once (only its hash is kept): {key}   "
            f"Send it as `Authorization: Token <key>`.",
            messages.WARNING,
        )

    def _manages_tokens(self, request: HttpRequest) -> bool:
        return has_role(request.user, *TOKEN_MANAGERS)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self._manages_tokens(request)

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return self._manages_tokens(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self._manages_tokens(request)

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return self._manages_tokens(request)
