"""How a notification leaves: SMS through SMS_BACKEND (console, file or Twilio's REST API), email
through Django's email backend (EMAIL_URL). Each `send` returns the provider's id for the message, or
raises SendFailed: `permanent` when trying again cannot help (the provider refused the number)."""

import fcntl
import json
import sys
import uuid
from dataclasses import dataclass
from email.utils import make_msgid

import requests
from django.conf import settings
from django.core.mail import EmailMessage, get_connection

from notifications.models import Channel


class SendFailed(Exception):
    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


@dataclass(frozen=True)
class Outgoing:
    channel: str
    recipient: str
    subject: str
    body: str
    order_number: str
    event: str


def send(message: Outgoing) -> str:
    if message.channel == Channel.EMAIL:
        return _send_email(message)
    return SMS_BACKENDS[settings.SMS_BACKEND](message)


def _send_email(message: Outgoing) -> str:
    message_id = make_msgid(domain=settings.DEFAULT_FROM_EMAIL.rpartition("@")[2] or "localhost")
    email = EmailMessage(
        subject=message.subject,
        body=message.body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[message.recipient],
        headers={"Message-ID": message_id},
        connection=get_connection(timeout=settings.NOTIFY_TIMEOUT_SECONDS),
    )
    try:
        email.send()
    except (OSError, ValueError) as exc:  # smtplib's errors are OSErrors; a bad address a ValueError
        raise SendFailed(f"email not sent: {type(exc).__name__}: {exc}") from None
    return message_id


def _sms_console(message: Outgoing) -> str:
    """For `make run`: the text on the notifier's output (as Django's console email backend does)."""
    sys.stdout.write(f"SMS to {message.recipient}: {message.body}\n")
    sys.stdout.flush()
    return f"console-{uuid.uuid4().hex[:12]}"


def _sms_file(message: Outgoing) -> str:
    """A JSON line per message in SMS_FILE_PATH (tests and demos); locked, so notifiers may share it."""
    line = {"to": message.recipient, "body": message.body, "order_number": message.order_number}
    line["event"] = message.event
    try:
        with open(settings.SMS_FILE_PATH, "a", encoding="utf-8") as file:
            fcntl.flock(file, fcntl.LOCK_EX)
            file.write(json.dumps(line, ensure_ascii=False) + "\n")
    except OSError as exc:
        raise SendFailed(f"SMS file not written: {exc}") from None
    return f"file-{uuid.uuid4().hex[:12]}"


def _sms_twilio(message: Outgoing) -> str:
    """Twilio's Messages API: 201 with the message's `sid`. A 4xx but 429 is the provider refusing this
    message (a bad number, an opted-out one): permanent. A 429, a 5xx or no answer: try again."""
    url = f"{settings.TWILIO_API_URL}/2010-04-01/Accounts/{settings.TWILIO_ACCOUNT_SID}/Messages.json"
    try:
        response = requests.post(
            url,
            data={"To": message.recipient, "From": settings.TWILIO_FROM, "Body": message.body},
            auth=(settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN),
            timeout=settings.NOTIFY_TIMEOUT_SECONDS,
        )
    except requests.RequestException as exc:
        raise SendFailed(f"SMS provider unreachable: {type(exc).__name__}") from None
    if response.status_code in (200, 201):
        try:
            return str(response.json()["sid"])[:100]
        except (ValueError, KeyError, TypeError):
            raise SendFailed("SMS provider answered without a message sid") from None
    detail = _provider_error(response)
    permanent = 400 <= response.status_code < 500 and response.status_code != 429
    raise SendFailed(f"SMS provider answered {response.status_code}: {detail}", permanent=permanent)


def _provider_error(response: requests.Response) -> str:
    try:
        body = response.json()
        return f"{body.get('code')} {body.get('message')}"[:200]
    except (ValueError, AttributeError):
        return response.text[:200]


SMS_BACKENDS = {"console": _sms_console, "file": _sms_file, "twilio": _sms_twilio}
