from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.forms import UserChangeForm, UserCreationForm
from django.contrib.auth.models import Group
from django.db.models import Count, Min
from django.urls import path

from restaurant.models import OutboxMessage, StaffAccount
from restaurant.roles import STAFF_ROLES, role_of, user_set_role


class ReadOnlyMixin:
    """For what the system writes itself: staff may look, never add, change or delete. For a
    ModelAdmin and an inline alike (an inline's has_add_permission also gets the parent object)."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class ReadOnlyAdmin(ReadOnlyMixin, admin.ModelAdmin):
    """A model the system writes: its list and its pages, read only."""


class ReadOnlyInline(ReadOnlyMixin, admin.TabularInline):
    """Rows the system writes along with their parent: shown on its page, never edited there."""

    extra = 0
    can_delete = False


class OutboxStateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("pending", "Pending"), ("published", "Published")]

    def queryset(self, request, queryset):
        if self.value() == "pending":
            return queryset.filter(published_at__isnull=True)
        if self.value() == "published":
            return queryset.filter(published_at__isnull=False)
        return queryset


@admin.register(OutboxMessage)
class OutboxMessageAdmin(ReadOnlyAdmin):
    """Read-only: rows are written with the changes they announce and published by run_outbox_relay."""

    list_display = ["id", "exchange", "routing_key", "created_at", "published_at", "attempts", "last_error"]
    list_filter = [OutboxStateFilter, "exchange"]
    search_fields = ["=routing_key", "body"]
    ordering = ["-id"]
    readonly_fields = [field.name for field in OutboxMessage._meta.fields]
    # The table grows with every order: no COUNT(*) of all of it on each page.
    show_full_result_count = False

    def changelist_view(self, request, extra_context=None):
        pending = OutboxMessage.objects.filter(published_at__isnull=True).aggregate(
            count=Count("id"), oldest=Min("created_at")
        )
        extra_context = {
            **(extra_context or {}),
            "outbox_pending": pending["count"],
            "outbox_oldest_pending": pending["oldest"],
        }
        return super().changelist_view(request, extra_context)


# --- staff accounts: the Manager's ---------------------------------------------------------------

ROLE_HELP = (
    "What the person may open once logged in: Kitchen, the kitchen display and the menu's sold-out "
    "switches; Front of house, orders, the expo screen and the menu; Manager, all of the back office, "
    "staff accounts and API tokens included."
)


def role_field() -> forms.ChoiceField:
    return forms.ChoiceField(choices=[(role, role) for role in STAFF_ROLES], help_text=ROLE_HELP)


class StaffAccountCreationForm(UserCreationForm):
    """A new person: a username, a first name (what the tracking page names them by), a password that
    passes AUTH_PASSWORD_VALIDATORS, and a role."""

    role = role_field()

    class Meta(UserCreationForm.Meta):
        model = StaffAccount
        fields = ("username", "first_name")


class StaffAccountChangeForm(UserChangeForm):
    role = role_field()

    class Meta(UserChangeForm.Meta):
        model = StaffAccount
        fields = ("username", "password", "first_name", "last_name", "is_active")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if "role" in self.fields:
            self.fields["role"].initial = role_of(self.instance)


class RoleFilter(admin.SimpleListFilter):
    title = "role"
    parameter_name = "role"

    def lookups(self, request, model_admin):
        return [(role, role) for role in STAFF_ROLES]

    def queryset(self, request, queryset):
        return queryset.filter(groups__name=self.value()) if self.value() else queryset


@admin.register(StaffAccount)
class StaffAccountAdmin(UserAdmin):
    """A Manager creates a person's login with its role, changes the role and the name, sets a new
    password (the validators apply), and deactivates it (their sockets close within seconds: item 4);
    never deletes it (its name stays on the orders it moved).

    Only accounts that hold nothing beyond a role are listed and changed here: no superuser, no
    permission of their own, no group but the roles' (`get_queryset`). Setting another's password would
    otherwise let a Manager log in as someone who holds more; such accounts, and every flag and
    permission, are the superusers' (Authentication and Authorization › Users). Nor may a Manager take
    their own role or deactivate themselves here."""

    add_form = StaffAccountCreationForm
    form = StaffAccountChangeForm
    add_fieldsets = (
        (None, {"classes": ("wide",), "fields": ("username", "first_name", "role", "password1", "password2")}),
    )
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        ("Person", {"fields": ("first_name", "last_name")}),
        ("Access", {"fields": ("role", "is_active")}),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    readonly_fields = ("last_login", "date_joined")
    list_display = ("username", "first_name", "role", "is_active", "last_login")
    list_filter = (RoleFilter, "is_active")
    search_fields = ("username", "first_name", "last_name")
    filter_horizontal = ()

    def get_queryset(self, request):
        beyond_a_role = Group.objects.exclude(name__in=STAFF_ROLES)
        return (
            super()
            .get_queryset(request)
            .filter(is_superuser=False)
            .exclude(user_permissions__isnull=False)
            .exclude(groups__in=beyond_a_role)
            .prefetch_related("groups")
        )

    def get_readonly_fields(self, request, obj=None):
        own = obj is not None and obj.pk == request.user.pk
        return (*self.readonly_fields, "role", "is_active") if own else self.readonly_fields

    @admin.display(description="role")
    def role(self, obj: StaffAccount) -> str:
        return role_of(obj) or "—"

    def save_related(self, request, form, formsets, change) -> None:
        super().save_related(request, form, formsets, change)
        if "role" in form.cleaned_data:
            user_set_role(user=form.instance, role=form.cleaned_data["role"])

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def get_urls(self):
        # UserAdmin names its password page `auth_user_password_change`, as Django's own user admin's:
        # this one's gets a name of its own.
        _password, *others = super().get_urls()
        page = path(
            "<id>/password/",
            self.admin_site.admin_view(self.user_change_password),
            name="restaurant_staffaccount_password_change",
        )
        return [page, *others]
