"""One error type and one error shape for every API answer that is not a success.

Every error body is `{"code": "...", "errors": {"<field or detail>": ["message", ...]}}`.
"""

import json
import math
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response

from restaurant.logging import service_logger

log = service_logger("order-service")

# Seconds a client should wait before retrying when the database is unavailable.
DATABASE_RETRY_AFTER = 2


class ApplicationError(Exception):
    def __init__(self, *, code: str, errors: dict[str, list[str]], status_code: int = 400) -> None:
        super().__init__(code)
        self.code = code
        self.errors = errors
        self.status_code = status_code


def error_body(code: str, errors: dict[str, list[str]]) -> dict[str, Any]:
    return {"code": code, "errors": errors}


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number")


def _object_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    data = dict(pairs)
    if len(data) != len(pairs):
        duplicates = sorted({key for key, _ in pairs if sum(1 for k, _ in pairs if k == key) > 1})
        raise ValueError(f"duplicate key {', '.join(duplicates)}")
    return data


def _has_lone_surrogate(data: Any) -> bool:
    """JSON may escape half of a UTF-16 pair (`"\\ud800"`); such a string is not text: it cannot be
    encoded as UTF-8, so it could be neither stored, logged nor echoed back in an error."""
    pending = [data]
    while pending:
        value = pending.pop()
        if isinstance(value, str):
            if any("\ud800" <= char <= "\udfff" for char in value):
                return True
        elif isinstance(value, dict):
            pending.extend(value)
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
    return False


def read_json_object(request) -> dict[str, Any]:
    """The request body as a JSON object, numbers with a fraction read as Decimal (never float)."""
    media_type = (request.content_type or "").split(";")[0].strip().lower()
    if media_type not in ("", "application/json"):
        raise ApplicationError(
            code="unsupported_media_type", errors={"body": ["must be sent as application/json"]}, status_code=415
        )
    try:
        raw = request.body
    except RequestDataTooBig:
        raw = None
    if raw is None or len(raw) > settings.MAX_ORDER_BODY_BYTES:
        limit = settings.MAX_ORDER_BODY_BYTES // 1024
        raise ApplicationError(
            code="body_too_large", errors={"body": [f"must be at most {limit} KiB"]}, status_code=413
        )
    if not raw.strip():
        raise ApplicationError(code="invalid_json", errors={"body": ["must not be empty"]})
    try:
        data = json.loads(
            raw.decode("utf-8"),
            parse_float=Decimal,
            parse_constant=_reject_constant,
            object_pairs_hook=_object_without_duplicates,
        )
        if _has_lone_surrogate(data):
            raise ValueError("a string holds an unpaired UTF-16 surrogate")
    except UnicodeDecodeError:
        raise ApplicationError(code="invalid_json", errors={"body": ["must be UTF-8 encoded JSON"]}) from None
    except (ValueError, RecursionError) as exc:
        raise ApplicationError(code="invalid_json", errors={"body": [f"is not valid JSON: {exc}"]}) from None
    if not isinstance(data, dict):
        raise ApplicationError(code="invalid_json", errors={"body": ["must be a JSON object"]})
    return data


DATABASE_UNAVAILABLE = error_body("database_unavailable", {"detail": ["the database is unavailable, retry shortly"]})


def database_unavailable_response() -> JsonResponse:
    response = JsonResponse(DATABASE_UNAVAILABLE, status=503)
    response["Retry-After"] = str(DATABASE_RETRY_AFTER)
    return response


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's EXCEPTION_HANDLER: every error in the shape above."""
    headers: dict[str, str] = {}
    if isinstance(exc, ApplicationError):
        log.info("validation_failed", "Request rejected", details={"code": exc.code, "errors": exc.errors})
        return Response(error_body(exc.code, exc.errors), status=exc.status_code)
    if isinstance(exc, (OperationalError, InterfaceError)):
        log.error("database_unavailable", "Database unavailable", exc_info=exc)
        return Response(DATABASE_UNAVAILABLE, status=503, headers={"Retry-After": str(DATABASE_RETRY_AFTER)})
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
