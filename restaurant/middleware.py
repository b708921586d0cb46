import re

from django.conf import settings

from restaurant.api import DATABASE_DOWN_ERRORS, database_unavailable_response
from restaurant.logging import new_request_id, request_id_var

REQUEST_ID_HEADER = "X-Request-ID"
# A client's ID is kept only when it is short and plain, so it cannot forge log lines.
_VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


class RequestIDMiddleware:
    """Takes `X-Request-ID` (or makes one), puts it on every log line and returns it.

    It also turns a database outage outside a DRF view into the API's 503 JSON error.
    """

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        given = request.headers.get(REQUEST_ID_HEADER, "")
        request_id = given if _VALID_REQUEST_ID.fullmatch(given) else new_request_id()
        request.request_id = request_id
        token = request_id_var.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(token)
        response[REQUEST_ID_HEADER] = request_id
        return response

    def process_exception(self, request, exception):
        if isinstance(exception, DATABASE_DOWN_ERRORS):
            return database_unavailable_response(exception)
        return None


class ContentSecurityPolicyMiddleware:
    """Every answer carries settings.CONTENT_SECURITY_POLICY: scripts only from this site's own files
    (no page has inline script code: templates hand their values over with `json_script`)."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.setdefault("Content-Security-Policy", settings.CONTENT_SECURITY_POLICY)
        return response
