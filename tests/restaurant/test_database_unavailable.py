"""A database outage gets one answer (restaurant/api.py), whether it is raised in a DRF view (the
exception handler) or anywhere else (the request-ID middleware)."""

import json

import pytest
from django.db import InterfaceError, OperationalError
from django.test import RequestFactory

from restaurant.api import exception_handler
from restaurant.middleware import RequestIDMiddleware

BODY = {"code": "database_unavailable", "errors": {"detail": ["the database is unavailable, retry shortly"]}}


def through_drf(exc: Exception):
    response = exception_handler(exc, {})
    return response.status_code, response.data, response.headers


def through_middleware(exc: Exception):
    response = RequestIDMiddleware(lambda request: None).process_exception(RequestFactory().get("/admin/"), exc)
    return response.status_code, json.loads(response.content), response.headers


@pytest.mark.parametrize("answer", [through_drf, through_middleware])
@pytest.mark.parametrize("exc", [OperationalError("connection refused"), InterfaceError("connection already closed")])
def test_database_outage_is_a_503_with_retry_after_and_one_error_line(caplog, answer, exc):
    status, body, headers = answer(exc)

    assert (status, body, headers["Retry-After"]) == (503, BODY, "2")
    [line] = [record for record in caplog.records if record.name == "restaurant.order-service"]
    assert (line.levelname, line.action, line.exc_info[1]) == ("ERROR", "database_unavailable", exc)
