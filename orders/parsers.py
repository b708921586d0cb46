"""How POST /orders reads its body (SPEC §3): a JSON object of at most 64 KiB, sent as
`application/json`, numbers with a fraction read as Decimal (never float).

No other media type, and no missing Content-Type either: a body a browser may send cross-site without
a CORS preflight (a form, or `fetch` with text/plain or no type) must not place an order, so only a
request that a page of ours, or a real client, sends as JSON is read.

Every refusal is an `ApplicationError`, rendered by restaurant.api's one exception handler:
415 `unsupported_media_type`, 413 `body_too_large`, 400 `invalid_json`.
"""

import json
import re
from decimal import Decimal
from typing import Any, BinaryIO

from django.conf import settings
from django.http import HttpRequest
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.parsers import BaseParser
from rest_framework.request import Request

from restaurant.api import ApplicationError


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


class OrderJSONParser(BaseParser):
    """The order body as a JSON object. It judges the media type itself (see OrderBodyNegotiation)."""

    media_type = "application/json"

    def parse(self, stream: BinaryIO | None, media_type: str | None = None, parser_context=None) -> dict[str, Any]:
        media_type = (media_type or "").split(";")[0].strip().lower()
        if not media_type:
            raise ApplicationError(
                code="unsupported_media_type",
                errors={"body": ["must be sent with the header Content-Type: application/json"]},
                status_code=415,
            )
        if media_type != self.media_type:
            raise ApplicationError(
                code="unsupported_media_type", errors={"body": ["must be sent as application/json"]}, status_code=415
            )
        limit = settings.MAX_ORDER_BODY_BYTES
        # One byte past the limit is enough to know the body is too large, without reading all of it.
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise ApplicationError(
                code="body_too_large", errors={"body": [f"must be at most {limit // 1024} KiB"]}, status_code=413
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


class OrderBodyNegotiation(DefaultContentNegotiation):
    """Hands every body to the view's first parser. DRF's own matching would refuse a body sent
    without Content-Type (read as JSON since the first release) and give its own 415 body;
    OrderJSONParser refuses other media types itself, with the API's 415."""

    def select_parser(self, request: Request, parsers: list[BaseParser]) -> BaseParser:
        return parsers[0]


def order_json(request: Request) -> dict[str, Any]:
    """The order body, as OrderJSONParser reads it. DRF calls no parser for a request without
    Content-Length (it gives `{}`), so that one goes to the parser here: a chunked body has none.
    Under ASGI the parser reads Django's request itself; under WSGI Django reads nothing without
    Content-Length, so the parser reads the server's input, which ends with the body
    (`wsgi.input_terminated`, as granian says). Either way it reads at most the limit + 1 byte."""
    if request.stream is None:
        return OrderJSONParser().parse(_unlengthed_body(request._request), request.content_type)
    return request.data


def optional_json(request: Request) -> dict[str, Any]:
    """An optional body (the staff cancel's reason): `{}` when none is sent (no body, or an empty one
    with Content-Length: 0: DRF calls no parser then), else what OrderJSONParser reads. A chunked body
    has no Content-Length either, and DRF would take it for none: it is read as `order_json` reads it."""
    if request.stream is None and "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower():
        return order_json(request)
    return request.data


def _unlengthed_body(request: HttpRequest) -> BinaryIO:
    environ = getattr(request, "environ", {})
    if environ.get("wsgi.input_terminated") and not environ.get("CONTENT_LENGTH"):
        return environ["wsgi.input"]
    return request


IDEMPOTENCY_KEY = re.compile(r"[A-Za-z0-9_.:-]{8,64}")


def idempotency_key(request: Request) -> str | None:
    """The request's `Idempotency-Key` header (a client's random key for one order, e.g. a UUID), or None."""
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    if not IDEMPOTENCY_KEY.fullmatch(key):
        raise ApplicationError(
            code="validation_failed",
            errors={"Idempotency-Key": ["must be 8 to 64 characters of A-Z a-z 0-9 _ . : - (a UUID, say)"]},
        )
    return key
