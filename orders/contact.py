"""A guest's contact, given with an order so they are told when it is ready (notifications/): a phone
number kept in E.164 (`+15555550123`, read by the phonenumbers library) and an email address
(Django's validator). Both are personal data: shown to staff, never on a public surface, in an order
message or in a log line (`masked` is how one may appear in a log)."""

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

PHONE_MESSAGE = "must be a phone number in international format, e.g. +15555550123"


def _parsed_phone(value: str) -> phonenumbers.PhoneNumber | None:
    """The number `value` writes, when its length fits its country's numbering plan (whether it
    exists is the SMS provider's to say). Without a leading + it is read as a number of
    PHONE_REGION, the restaurant's country, when that is set."""
    try:
        number = phonenumbers.parse(value, settings.PHONE_REGION or None)
    except phonenumbers.NumberParseException:
        return None
    return number if phonenumbers.is_possible_number(number) else None


def phone_error(value: str) -> str | None:
    if _parsed_phone(value) is None:
        return PHONE_MESSAGE + (f" (or a number of {settings.PHONE_REGION})" if settings.PHONE_REGION else "")
    return None


def phone_e164(value: str) -> str:
    """A phone number `phone_error` accepts, as E.164."""
    return phonenumbers.format_number(_parsed_phone(value), phonenumbers.PhoneNumberFormat.E164)


def email_error(value: str) -> str | None:
    try:
        validate_email(value.strip())
    except ValidationError:
        return "must be a valid email address, e.g. guest@example.com"
    return None


def masked(recipient: str) -> str:
    """A phone number or an address as a log line may show it: `+1555•••0123`, `g•••@example.com`."""
    if "@" in recipient:
        local, _, domain = recipient.rpartition("@")
        return f"{local[:1]}•••@{domain}"
    return f"{recipient[:4]}•••{recipient[-4:]}" if len(recipient) > 8 else "•••"
