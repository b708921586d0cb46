"""What a guest is told and how it leaves (issue 18), in-process against the real PostgreSQL: the rows of
an event (one per order, event and channel), their wording from the Manager's templates, and the
sending with its retries, against the file backend, Django's email and a local stand-in for Twilio."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest
from django.core import mail
from django.utils import timezone

from notifications.admin import MessageTemplateForm
from notifications.models import CustomerNotification, MessageTemplate, NotificationStatus
from notifications.services import ensure_templates, notifications_record, notifications_send_due
from notifications.wording import TemplateError, placeholders_used
from orders.models import Order
from tests.factories import create_order, logged_in

pytestmark = pytest.mark.django_db

PHONE, EMAIL = "+15555550123", "guest@example.com"


@pytest.fixture(autouse=True)
def backends(settings, tmp_path):
    settings.SMS_BACKEND = "file"
    settings.SMS_FILE_PATH = str(tmp_path / "sms.jsonl")
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.PUBLIC_BASE_URL = "https://order.example.com"
    settings.RESTAURANT_NAME = "Trattoria"
    settings.NOTIFY_ATTEMPTS = 3
    return settings


def texts(settings) -> list[dict]:
    try:
        with open(settings.SMS_FILE_PATH) as file:
            return [json.loads(line) for line in file]
    except FileNotFoundError:
        return []


def guest_order(**fields) -> Order:
    return create_order(contact={"phone": PHONE, "email": EMAIL}, **fields)


def rows(order: Order) -> list[tuple[str, str, str]]:
    return sorted(CustomerNotification.objects.filter(order=order).values_list("event", "channel", "status"))


# --- the rows of an event -------------------------------------------------------------------------


def test_an_event_writes_one_row_per_channel_and_a_repeat_writes_nothing():
    order = guest_order()

    assert notifications_record(number=order.number, event="received") == 2
    assert notifications_record(number=order.number, event="received") == 0

    assert rows(order) == [("received", "email", "pending"), ("received", "sms", "pending")]


def test_an_order_without_a_contact_or_an_unknown_one_gets_nothing():
    order = create_order()

    assert notifications_record(number=order.number, event="ready") == 0
    assert notifications_record(number="ORD_20000101_001", event="ready") == 0
    assert not CustomerNotification.objects.exists()


def test_only_the_channels_the_guest_gave_are_used():
    order = create_order(contact={"email": EMAIL})

    notifications_record(number=order.number, event="ready")

    assert [channel for _, channel, _ in rows(order)] == ["email"]


@pytest.mark.parametrize(
    "fields, words",
    [
        ({}, "ready for pick-up"),
        ({"order_type": "delivery", "delivery_address": "221B Baker Street, London"}, "on its way"),
        ({"order_type": "dine_in", "table_number": 7}, "being brought to table 7"),
    ],
)
def test_the_ready_text_says_how_the_food_reaches_the_guest(fields, words):
    order = guest_order(**fields)

    notifications_record(number=order.number, event="ready")

    sms = CustomerNotification.objects.get(order=order, channel="sms")
    assert words in sms.body
    assert f"https://order.example.com/track/{order.number}/" in sms.body
    assert sms.body.startswith("Trattoria: ")
    assert order.number.rpartition("_")[2] in sms.body


def test_the_received_text_gives_the_estimate_once_known():
    order = guest_order(status="cooking")
    notifications_record(number=order.number, event="received")

    sms = CustomerNotification.objects.get(order=order, channel="sms")
    assert f"at about {timezone.localtime(order.estimated_completion):%H:%M}" in sms.body


def test_a_managers_wording_is_used_and_a_template_may_name_only_the_placeholders():
    ensure_templates()
    MessageTemplate.objects.filter(event="ready", channel="sms").update(body="Pronto! {short_number} {handover}")
    order = guest_order()

    notifications_record(number=order.number, event="ready")

    sms = CustomerNotification.objects.get(order=order, channel="sms")
    assert sms.body == f"Pronto! {order.number.rpartition('_')[2]} ready for pick-up"
    for bad in ("{order_number.__class__}", "{nope}", "{0}", "{track_url[0]}", "an { alone"):
        with pytest.raises(TemplateError):
            placeholders_used(bad)


def test_the_admin_refuses_a_template_naming_an_unknown_placeholder():
    ensure_templates()
    template = MessageTemplate.objects.get(event="ready", channel="sms")

    form = MessageTemplateForm({"subject": "", "body": "Hi {secret_key}"}, instance=template)

    assert not form.is_valid() and "unknown placeholder {secret_key}" in form.errors["body"][0]


def test_the_order_page_in_the_admin_shows_its_notifications():
    order = guest_order()
    notifications_record(number=order.number, event="received")

    page = logged_in("Manager").get(f"/admin/orders/order/{order.pk}/change/").content.decode()

    assert "guest notifications" in page.lower() and PHONE in page and EMAIL in page


# --- sending --------------------------------------------------------------------------------------


def test_due_rows_are_sent_by_their_channel_and_marked_sent(backends):
    order = guest_order()
    notifications_record(number=order.number, event="received")

    assert notifications_send_due(channel="sms") == 1
    assert notifications_send_due(channel="email") == 1
    assert notifications_send_due(channel="sms") == 0

    [text] = texts(backends)
    assert (text["to"], text["order_number"], text["event"]) == (PHONE, order.number, "received")
    [email] = mail.outbox
    assert email.to == [EMAIL] and order.number in email.body and email.subject.startswith("Trattoria")
    sent = CustomerNotification.objects.filter(order=order)
    assert {row.status for row in sent} == {"sent"} and all(row.provider_id and row.sent_at for row in sent)


class Provider(BaseHTTPRequestHandler):
    """A stand-in for Twilio's Messages API: answers as `server.answers` says, next one first."""

    def do_POST(self):  # noqa: N802 (http.server's name)
        form = parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode())
        self.server.requests.append((self.path, self.headers.get("Authorization"), form))
        answer = self.server.answers.pop(0) if self.server.answers else "ok"
        if answer == "slow":
            time.sleep(3)
            answer = "ok"
        status, body = {
            "ok": (201, {"sid": f"SM{len(self.server.requests):032d}", "status": "queued"}),
            "500": (500, {"code": 20500, "message": "Internal Server Error"}),
            "400": (400, {"code": 21211, "message": f"The 'To' number {form['To'][0]} is not a valid phone number."}),
        }[answer]
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture
def twilio(backends):
    server = ThreadingHTTPServer(("127.0.0.1", 0), Provider)
    server.requests, server.answers = [], []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    backends.SMS_BACKEND = "twilio"
    backends.TWILIO_API_URL = f"http://127.0.0.1:{server.server_port}"
    backends.TWILIO_ACCOUNT_SID, backends.TWILIO_AUTH_TOKEN, backends.TWILIO_FROM = "AC123", "secret", "+15550006666"
    backends.NOTIFY_TIMEOUT_SECONDS = 1
    yield server
    server.shutdown()
    server.server_close()


def make_due(order: Order) -> None:
    CustomerNotification.objects.filter(order=order).update(next_attempt_at=timezone.now())


def test_twilio_gets_the_message_and_its_sid_is_kept(twilio):
    order = guest_order()
    notifications_record(number=order.number, event="ready")

    notifications_send_due(channel="sms")

    [(path, authorization, form)] = twilio.requests
    assert path == "/2010-04-01/Accounts/AC123/Messages.json" and authorization.startswith("Basic ")
    assert form["To"] == [PHONE] and form["From"] == ["+15550006666"] and "ready" in form["Body"][0]
    row = CustomerNotification.objects.get(order=order, channel="sms")
    assert (row.status, row.provider_id) == ("sent", "SM" + "1".zfill(32))


@pytest.mark.parametrize("failure", ["500", "slow"])
def test_a_failing_provider_is_retried_with_back_off_then_marked_failed_while_email_goes(twilio, failure, caplog):
    order = guest_order()
    notifications_record(number=order.number, event="ready")
    twilio.answers = [failure] * 3

    notifications_send_due(channel="sms")
    row = CustomerNotification.objects.get(order=order, channel="sms")
    assert (row.status, row.attempts) == ("pending", 1) and row.last_error
    assert row.next_attempt_at > timezone.now()
    assert notifications_send_due(channel="sms") == 0  # not due yet: the back-off holds

    assert notifications_send_due(channel="email") == 1  # email does not wait for SMS
    assert len(mail.outbox) == 1

    for _ in range(2):  # attempts 2 and 3
        make_due(order)
        notifications_send_due(channel="sms")
    row.refresh_from_db()
    assert (row.status, row.attempts) == ("failed", 3)
    assert "5555550123" not in caplog.text


def test_a_refused_number_fails_at_once_and_the_log_masks_it(twilio, caplog):
    order = guest_order()
    notifications_record(number=order.number, event="ready")
    twilio.answers = ["400"]

    notifications_send_due(channel="sms")

    row = CustomerNotification.objects.get(order=order, channel="sms")
    assert (row.status, row.attempts) == ("failed", 1) and "21211" in row.last_error
    assert "5555550123" not in caplog.text and "5555550123" not in row.last_error


def test_a_failed_notification_is_sent_again_from_the_admin(twilio):
    order = guest_order()
    notifications_record(number=order.number, event="ready")
    twilio.answers = ["400"]
    notifications_send_due(channel="sms")
    row = CustomerNotification.objects.get(order=order, channel="sms")

    logged_in("Manager").post(
        "/admin/notifications/customernotification/", {"action": "send_again", "_selected_action": [row.pk]}
    )
    notifications_send_due(channel="sms")

    row.refresh_from_db()
    assert row.status == NotificationStatus.SENT and row.attempts == 1


def test_a_row_claimed_by_a_sender_that_died_is_sent_once_its_lease_is_over(backends):
    order = guest_order()
    notifications_record(number=order.number, event="ready")
    CustomerNotification.objects.filter(order=order).update(
        status="sending", claimed_until=timezone.now() - timezone.timedelta(seconds=1)
    )

    assert notifications_send_due(channel="sms") == 1
    assert [text["event"] for text in texts(backends)] == ["ready"]
