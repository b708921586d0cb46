"""The customer notifications in the back office: the wording a Manager edits, and the history of
every message (also on each order's page), with the failed ones to send again."""

from django import forms
from django.contrib import admin, messages
from django.utils import timezone

from notifications.models import CustomerNotification, MessageTemplate, NotificationStatus
from notifications.wording import PLACEHOLDERS, TemplateError, placeholders_used
from orders.admin.orders import OrderAdmin
from restaurant.admin import ReadOnlyAdmin, ReadOnlyInline

PLACEHOLDER_HELP = "Placeholders: " + "; ".join(f"{{{name}}}: {meaning}" for name, meaning in PLACEHOLDERS.items())


class MessageTemplateForm(forms.ModelForm):
    class Meta:
        model = MessageTemplate
        fields = ["subject", "body"]
        help_texts = {"body": PLACEHOLDER_HELP}

    def _placeholders_checked(self, name: str) -> str:
        text = self.cleaned_data[name]
        try:
            placeholders_used(text)
        except TemplateError as exc:
            raise forms.ValidationError(str(exc)) from None
        return text

    def clean_subject(self) -> str:
        return self._placeholders_checked("subject")

    def clean_body(self) -> str:
        return self._placeholders_checked("body")


@admin.register(MessageTemplate)
class MessageTemplateAdmin(admin.ModelAdmin):
    form = MessageTemplateForm
    list_display = ["event", "channel", "subject", "body"]
    list_filter = ["event", "channel"]
    readonly_fields = ["event", "channel"]
    fields = ["event", "channel", "subject", "body"]

    def has_add_permission(self, request) -> bool:
        return False  # one per event and channel, all made by the notifier (ensure_templates)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


NOTIFICATION_FIELDS = [
    "event",
    "channel",
    "recipient",
    "status",
    "attempts",
    "provider_id",
    "last_error",
    "created_at",
    "sent_at",
]


@admin.register(CustomerNotification)
class CustomerNotificationAdmin(ReadOnlyAdmin):
    list_display = ["order", *NOTIFICATION_FIELDS]
    list_filter = ["status", "channel", "event", "created_at"]
    search_fields = ["=order__number", "=recipient"]
    readonly_fields = ["order", *NOTIFICATION_FIELDS, "next_attempt_at", "subject", "body"]
    list_select_related = ["order"]
    actions = ["send_again"]
    show_full_result_count = False

    def has_resend_permission(self, request) -> bool:
        return request.user.has_perm("notifications.change_customernotification")

    @admin.action(description="Send the failed ones again", permissions=["resend"])
    def send_again(self, request, queryset) -> None:
        count = queryset.filter(status=NotificationStatus.FAILED).update(
            status=NotificationStatus.PENDING, attempts=0, next_attempt_at=timezone.now()
        )
        self.message_user(request, f"{count} notification(s) will be sent again.", messages.SUCCESS)


class CustomerNotificationInline(ReadOnlyInline):
    model = CustomerNotification
    verbose_name_plural = "guest notifications"
    fields = readonly_fields = NOTIFICATION_FIELDS


# The order's page shows its notifications. Added from here: notifications depends on orders, never
# the other way round.
OrderAdmin.inlines = [*OrderAdmin.inlines, CustomerNotificationInline]
