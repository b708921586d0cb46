"""One error type and one error shape for every API answer that is not a success.

Every error body is `{"code": "...", "errors": {"<field or detail>": ["message", ...]}}`.
"""

import math
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import Http404, HttpResponse, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response

from restaurant.logging import service_logger

log = service_logger("order-service")

# Seconds a client should wait before retrying when the database is unavailable.
DATABASE_RETRY_AFTER = 2


class ApplicationError(Exception):
    def __init__(
        self, *, code: str, errors: dict[str, list[str]], status_code: int = 400, extra: dict[str, Any] | None = None
    ) -> None:
        super().__init__(code)
        self.code = code
        self.errors = errors
        self.status_code = status_code
        self.extra = extra or {}  # more fields of the body, beside code and errors (`order_number`)


def error_body(code: str, errors: dict[str, list[str]]) -> dict[str, Any]:
    return {"code": code, "errors": errors}


# What a database outage raises (a lost connection, a refused one); any other DatabaseError is a bug.
DATABASE_DOWN_ERRORS = (OperationalError, InterfaceError)
DATABASE_UNAVAILABLE = error_body("database_unavailable", {"detail": ["the database is unavailable, retry shortly"]})


def database_unavailable_response(exc: Exception, response_class: type[HttpResponse] = JsonResponse) -> HttpResponse:
    """The one answer to a database outage (SPEC §3: 503 within 5 s), logged once. The DRF exception
    handler asks for a DRF `Response` (rendered like every other API error); the middleware, which
    catches an outage outside DRF views, for a plain `JsonResponse`."""
    log.error("database_unavailable", "Database unavailable", exc_info=exc)
    return response_class(DATABASE_UNAVAILABLE, status=503, headers={"Retry-After": str(DATABASE_RETRY_AFTER)})


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's EXCEPTION_HANDLER: every error in the shape above."""
    headers: dict[str, str] = {}
    if isinstance(exc, ApplicationError):
        log.info("validation_failed", "Request rejected", details={"code": exc.code, "errors": exc.errors})
        return Response(error_body(exc.code, exc.errors) | exc.extra, status=exc.status_code)
    if isinstance(exc, DATABASE_DOWN_ERRORS):
        return database_unavailable_response(exc, Response)
    if isinstance(exc, DatabaseError):
        return None  # a bug, not an outage: let it be a logged 500
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    if not isinstance(exc, exceptions.APIException):
        return None
    if getattr(exc, "wait", None):
        headers["Retry-After"] = str(math.ceil(exc.wait))  # never 0: that would invite an instant retry
    if auth_header := getattr(exc, "auth_header", None):  # set by DRF on a 401 (token or session login)
        headers["WWW-Authenticate"] = auth_header
    detail = exc.detail
    errors = detail if isinstance(detail, dict) else {"detail": detail if isinstance(detail, list) else [detail]}
    return Response(error_body(exc.default_code, errors), status=exc.status_code, headers=headers)


def json_error_view(status_code: int, code: str, message: str):
    def view(request, exception=None):
        return JsonResponse(error_body(code, {"detail": [message]}), status=status_code)

    return view


handler400 = json_error_view(status.HTTP_400_BAD_REQUEST, "bad_request", "bad request")
handler403 = json_error_view(status.HTTP_403_FORBIDDEN, "permission_denied", "permission denied")
handler404 = json_error_view(status.HTTP_404_NOT_FOUND, "not_found", "not found")
handler500 = json_error_view(status.HTTP_500_INTERNAL_SERVER_ERROR, "server_error", "internal server error")
