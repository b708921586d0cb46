"""OpenAPI (drf-spectacular) pieces shared by the apps: the one error shape, a base for request
bodies that refuse unknown fields, and the health endpoints, which are plain Django views that
drf-spectacular cannot see (a postprocessing hook adds them).

The serializers here describe the API for the schema; they never validate a request.
"""

import threading
from typing import Any, ClassVar

from django.conf import settings
from django.http import HttpResponse
from django.utils import translation
from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse
from drf_spectacular.views import SpectacularAPIView
from rest_framework import serializers

from restaurant.api import DATABASE_RETRY_AFTER, DATABASE_UNAVAILABLE, error_body


class ErrorSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="What went wrong, for programs: `validation_failed`, `not_found`, …")
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="Messages by offending field (`items[0].quantity`), or by `body` / `detail`.",
    )


class ClosedSerializer(serializers.Serializer):
    """A JSON object that may hold only the declared fields (`additionalProperties: false`)."""


class ClosedSerializerExtension(OpenApiSerializerExtension):
    target_class = ClosedSerializer
    match_subclasses = True

    def map_serializer(self, auto_schema, direction):
        schema = auto_schema._map_serializer(self.target, direction, bypass_extensions=True)
        return {**schema, "additionalProperties": False}


def error_response(description: str, code: str, errors: dict[str, list[str]]) -> OpenApiResponse:
    return OpenApiResponse(
        ErrorSerializer,
        description=description,
        examples=[OpenApiExample(code, value=error_body(code, errors), response_only=True)],
    )


THROTTLED = error_response(
    "Too many requests from this client IP; retry after `Retry-After` seconds.",
    "throttled",
    {"detail": ["Request was throttled. Expected available in 20 seconds."]},
)
DATABASE_DOWN = OpenApiResponse(
    ErrorSerializer,
    description="The database is unavailable (answered within 5 s); retry after `Retry-After` seconds.",
    examples=[OpenApiExample("database_unavailable", value=DATABASE_UNAVAILABLE, response_only=True)],
)


# The staff API's refusals, as DRF's authentication and permission checks raise them.
NOT_AUTHENTICATED = error_response(
    "No staff login: no session and no `Authorization: Token …` header, or a token that is unknown, expired "
    "or whose user is inactive. `WWW-Authenticate: Token` says how to log in.",
    "not_authenticated",
    {"detail": ["Authentication credentials were not provided."]},
)
FORBIDDEN = error_response(
    "Logged in, but in none of the staff roles allowed here.",
    "permission_denied",
    {"detail": ["You do not have permission to perform this action."]},
)
WWW_AUTHENTICATE = OpenApiParameter(
    "WWW-Authenticate",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    response=[401],
    description="`Token`: send `Authorization: Token <key>`.",
)


def retry_after_header(*statuses: int) -> OpenApiParameter:
    return OpenApiParameter(
        "Retry-After",
        OpenApiTypes.INT,
        OpenApiParameter.HEADER,
        response=list(statuses),
        description=f"Seconds to wait before retrying ({DATABASE_RETRY_AFTER} when the database is down).",
    )


# --- the health endpoints (restaurant/health.py) -------------------------------------------------

_CHECK = {"type": "string", "description": '`"ok"`, or `"error: <exception name>"`', "example": "ok"}
HEALTH_COMPONENTS: dict[str, dict[str, Any]] = {
    "Health": {
        "type": "object",
        "properties": {
            "status": {"type": "string", "enum": ["ok", "unavailable"]},
            "checks": {
                "type": "object",
                "properties": {"database": _CHECK, "broker": _CHECK},
                "required": ["database", "broker"],
            },
            "outbox": {
                "type": "object",
                "description": "Messages not yet published to RabbitMQ; present when the database answers.",
                "properties": {
                    "pending": {"type": "integer", "minimum": 0},
                    "oldest_pending_seconds": {"type": "number", "minimum": 0},
                },
                "required": ["pending", "oldest_pending_seconds"],
            },
        },
        "required": ["status", "checks"],
    },
    "Live": {
        "type": "object",
        "properties": {"status": {"type": "string", "enum": ["ok"]}},
        "required": ["status"],
    },
    "Ready": {
        "type": "object",
        "properties": {
            "status": {"type": "string", "enum": ["ok", "unavailable"]},
            "checks": {"type": "object", "properties": {"database": _CHECK}, "required": ["database"]},
        },
        "required": ["status", "checks"],
    },
}


def _health_operation(
    operation_id: str, summary: str, component: str, ok: dict, unavailable: dict | None
) -> dict[str, Any]:
    def response(description: str, example: dict) -> dict[str, Any]:
        return {
            "description": description,
            "content": {
                "application/json": {"schema": {"$ref": f"#/components/schemas/{component}"}, "example": example}
            },
        }

    responses = {"200": response("Healthy.", ok)}
    if unavailable is not None:
        responses["503"] = response("A check failed.", unavailable)
    return {"get": {"operationId": operation_id, "summary": summary, "tags": ["health"], "responses": responses}}


HEALTH_PATHS = {
    "/health": _health_operation(
        "health",
        "Database and broker checks, and the outbox backlog.",
        "Health",
        {
            "status": "ok",
            "checks": {"database": "ok", "broker": "ok"},
            "outbox": {"pending": 0, "oldest_pending_seconds": 0.0},
        },
        {
            "status": "unavailable",
            "checks": {"database": "ok", "broker": "error: AMQPConnectionError"},
            "outbox": {"pending": 3, "oldest_pending_seconds": 12.5},
        },
    ),
    "/health/live": _health_operation("health_live", "The process answers.", "Live", {"status": "ok"}, None),
    "/health/ready": _health_operation(
        "health_ready",
        "The process can take orders (needs only the database: the outbox holds messages while the broker is down).",
        "Ready",
        {"status": "ok", "checks": {"database": "ok"}},
        {"status": "unavailable", "checks": {"database": "error: OperationalError"}},
    ),
}


def add_health_paths(result: dict[str, Any], generator, request, public) -> dict[str, Any]:
    """drf-spectacular POSTPROCESSING_HOOKS entry: describe the plain Django health views."""
    result.setdefault("paths", {}).update(HEALTH_PATHS)
    result.setdefault("components", {}).setdefault("schemas", {}).update(HEALTH_COMPONENTS)
    return result


class SchemaApi(SpectacularAPIView):
    """GET /api/schema/: drf-spectacular's view, the schema built once per process and rendered once per
    format. Building it takes ~75 ms of CPU and rendering YAML ~55 ms: served anew to anyone, a few
    anonymous clients calling it in a loop took the web process's CPU from the orders. It depends on
    nothing in the request: the API has one version and one language, and the schema is public (what
    `manage.py spectacular` writes), so `?version=` or `?lang=` cannot make another one to build."""

    _lock = threading.Lock()
    _rendered: ClassVar[dict[type, bytes]] = {}

    def _get_schema_response(self, request):
        renderer = request.accepted_renderer
        with self._lock:  # the first caller builds it; callers meanwhile wait for it rather than build it too
            if type(renderer) not in self._rendered:
                with translation.override(settings.LANGUAGE_CODE):
                    generator = self.generator_class(urlconf=self.urlconf, patterns=self.patterns)
                    schema = generator.get_schema(request=request, public=self.serve_public)
                    context = self.get_renderer_context()
                    self._rendered[type(renderer)] = renderer.render(schema, renderer.media_type, context)
        charset = f"; charset={renderer.charset}" if renderer.charset else ""
        return HttpResponse(
            self._rendered[type(renderer)],
            content_type=f"{renderer.media_type}{charset}",
            headers={"Content-Disposition": f'inline; filename="{self._get_filename(request, None)}"'},
        )
