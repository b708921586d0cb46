"""The outbox in the back office: read only, with how much waits to be published and since when."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from restaurant.models import OutboxMessage
from tests.factories import MANAGER, logged_in, make_order

pytestmark = pytest.mark.django_db

OUTBOX = reverse("admin:restaurant_outboxmessage_changelist")


def test_outbox_list_shows_pending_count_and_oldest_pending_age():
    make_order(), make_order(), make_order()
    first, second, third = OutboxMessage.objects.order_by("id")
    OutboxMessage.objects.filter(pk=first.pk).update(published_at=timezone.now())
    OutboxMessage.objects.filter(pk=second.pk).update(created_at=timezone.now() - timedelta(hours=2))
    client = logged_in(MANAGER)

    response = client.get(OUTBOX)

    assert response.status_code == 200
    assert (response.context["outbox_pending"], response.context["outbox_oldest_pending"]) == (
        2,
        OutboxMessage.objects.get(pk=second.pk).created_at,
    )
    assert "Pending: <strong>2</strong>" in response.text and "2\xa0hours" in response.text
    pending = client.get(OUTBOX, {"state": "pending"}).context["cl"].result_list
    assert sorted(row.pk for row in pending) == [second.pk, third.pk]


def test_outbox_rows_are_read_only():
    make_order()
    row = OutboxMessage.objects.get()
    client = logged_in(MANAGER)
    url = reverse("admin:restaurant_outboxmessage_change", args=[row.pk])

    page = client.get(url)

    assert page.status_code == 200 and "kitchen.takeout.1" in page.text and 'name="_save"' not in page.text
    assert client.post(url, {"routing_key": "x"}).status_code == 403
    assert client.get(reverse("admin:restaurant_outboxmessage_add")).status_code == 403
    assert client.post(reverse("admin:restaurant_outboxmessage_delete", args=[row.pk])).status_code == 403
    assert OutboxMessage.objects.get().routing_key == "kitchen.takeout.1"
