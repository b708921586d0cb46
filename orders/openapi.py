"""The OpenAPI description of POST /orders (SPEC §3), and the staff cancel's body, for drf-spectacular.

Documentation only: these serializers never see a request. The request body's serializers are built from the
rule table of orders/rules.py (which orders/validation.py enforces), so the schema cannot drift from the rules.
"""

from collections.abc import Mapping

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_field,
)
from rest_framework import serializers

from orders.models import OrderStatus
from orders.rules import CANCEL_RULES, CENT, ITEM_RULES, MENU_ITEM_RULES, ORDER_RULES, FieldRule, Kind
from restaurant.api import error_body
from restaurant.openapi import (
    DATABASE_DOWN,
    THROTTLED,
    ClosedSerializer,
    ErrorSerializer,
    error_response,
    retry_after_header,
)

MONEY = {"max_digits": 10, "decimal_places": 2, "coerce_to_string": False}


class ApiTokenScheme(OpenApiAuthenticationExtension):
    """The staff API's tokens (knox's, orders/tokens.py) under the name the schema has always given them,
    `tokenAuth`, in place of drf-spectacular's own for knox (`knoxApiToken`)."""

    target_class = "knox.auth.TokenAuthentication"
    name = "tokenAuth"
    priority = 1

    def get_security_definition(self, auto_schema):
        return build_bearer_security_scheme_object(header_name="Authorization", token_prefix="Token")


PRICE = ITEM_RULES["price"]


@extend_schema_field(
    {"type": "number", "minimum": float(PRICE.min), "maximum": float(PRICE.max), "multipleOf": float(CENT)}
)
class PriceField(serializers.DecimalField):
    def __init__(self, **kwargs) -> None:
        super().__init__(max_digits=5, decimal_places=2, coerce_to_string=False, **kwargs)


def _schema_field(rule: FieldRule) -> serializers.Field:
    """The serializer field that describes `rule` in the schema: its limits, choices and help text."""
    options = {"help_text": rule.help or None}
    if not rule.required:
        options |= {"required": False, "allow_null": True}
    if rule.kind is Kind.TEXT:
        return serializers.CharField(min_length=rule.min, max_length=rule.max, **options)
    if rule.kind is Kind.INTEGER:
        return serializers.IntegerField(min_value=rule.min, max_value=rule.max, **options)
    if rule.kind is Kind.PRICE:
        return PriceField(**options)
    if rule.kind is Kind.CHOICE:
        return serializers.ChoiceField(choices=rule.choices, **options)
    if rule.kind is Kind.OBJECT:
        name = f"{rule.name.capitalize()}RequestSerializer"
        return _closed_serializer(name, rule.help, rule.fields)(**options)
    if rule.kind is Kind.CODES:
        return serializers.ListField(child=serializers.CharField(), max_length=rule.max, **options)
    return serializers.ListField(child=OrderLineField(), min_length=rule.min, max_length=rule.max, **options)


def _closed_serializer(name: str, doc: str, rules: Mapping[str, FieldRule]) -> type[ClosedSerializer]:
    fields = {rule.name: _schema_field(rule) for rule in rules.values()}
    return type(ClosedSerializer)(name, (ClosedSerializer,), {"__doc__": doc, "__module__": __name__, **fields})


OrderItemRequestSerializer = _closed_serializer(
    "OrderItemRequestSerializer",
    "A free line (MENU_MODE=open only): name and price given; no other fields.",
    ITEM_RULES,
)
MenuItemRequestSerializer = _closed_serializer(
    "MenuItemRequestSerializer",
    "A line of the menu: name and unit price come from GET /menu; no other fields.",
    MENU_ITEM_RULES,
)


@extend_schema_field(
    PolymorphicProxySerializer(
        component_name="OrderLineRequest",
        serializers=[MenuItemRequestSerializer, OrderItemRequestSerializer],
        resource_type_field_name=None,
    )
)
class OrderLineField(serializers.JSONField):
    """One line of an order: a menu item (with `sku`) or a free item."""


OrderCreateRequestSerializer = _closed_serializer(
    "OrderCreateRequestSerializer", "A new order; unknown fields are rejected.", ORDER_RULES
)

OrderCancelRequestSerializer = _closed_serializer(
    "OrderCancelRequestSerializer", "Why the order is cancelled (optional); unknown fields are rejected.", CANCEL_RULES
)


class OrderCreatedSerializer(serializers.Serializer):
    order_number = serializers.CharField(
        help_text=(
            "`ORD_YYYYMMDD_NNN`: the UTC date (the restaurant's business day with `ORDER_NUMBER_DAY=local`), "
            "then the day's sequence number"
        )
    )
    status = serializers.ChoiceField(choices=OrderStatus.choices, help_text="always `received`")
    total_amount = serializers.DecimalField(**MONEY, help_text="Σ price × quantity")
    promised_at = serializers.DateTimeField(help_text="when it will be ready: the end of its kitchen slot (UTC)")


order_create_schema = extend_schema(
    summary="Place an order",
    description=(
        "Validates the order (every offending field is named in one `400`), writes it with its items, its "
        "`received` status row and its kitchen message in one transaction, and answers `201`. The message "
        "reaches RabbitMQ through the outbox, so an order is accepted even while the broker is down. "
        "Unknown fields are rejected; bodies above 64 KiB get `413`."
    ),
    tags=["orders"],
    request=OrderCreateRequestSerializer,
    parameters=[
        OpenApiParameter(
            "Location",
            OpenApiTypes.STR,
            OpenApiParameter.HEADER,
            response=[201],
            description="`/orders/{order_number}/status`",
        ),
        retry_after_header(429, 503),
    ],
    responses={
        201: OpenApiResponse(
            OrderCreatedSerializer,
            description="Accepted.",
            examples=[
                OpenApiExample(
                    "created",
                    value={"order_number": "ORD_20241216_001", "status": "received", "total_amount": 24.98},
                    response_only=True,
                )
            ],
        ),
        400: OpenApiResponse(
            ErrorSerializer,
            description="Not valid JSON, not an object, or a rule of SPEC §3 broken (every offending field named).",
            examples=[
                OpenApiExample(
                    "validation_failed",
                    value=error_body(
                        "validation_failed",
                        {
                            "items[0].quantity": ["must be between 1 and 10"],
                            "table_number": ["is required for dine_in orders"],
                        },
                    ),
                    response_only=True,
                ),
                OpenApiExample(
                    "invalid_json",
                    value=error_body("invalid_json", {"body": ["must be a JSON object"]}),
                    response_only=True,
                ),
            ],
        ),
        409: OpenApiResponse(
            ErrorSerializer,
            description=(
                "The kitchen cannot promise the order, nothing written (orders/capacity.py): `slot_full` (no "
                "room; `next_available`: the next slot end with room for it), `closed` (outside the opening "
                "hours; `next_open`), `kitchen_paused` (a Manager paused new ASAP orders and no slot after "
                "the pause fits within the ASAP horizon; `paused_until`, and `next_available`: the first "
                "slot end after the pause with room, to ask for as `ready_at`, or null). Times ISO 8601 UTC."
            ),
            examples=[
                OpenApiExample(
                    "slot_full",
                    value={
                        **error_body("slot_full", {"ready_at": ["that slot is full"]}),
                        "next_available": "2024-12-16T19:45:00Z",
                    },
                    response_only=True,
                ),
                OpenApiExample(
                    "closed",
                    value={
                        **error_body("closed", {"ready_at": ["the restaurant is closed then"]}),
                        "next_open": "2024-12-17T10:30:00Z",
                    },
                    response_only=True,
                ),
                OpenApiExample(
                    "kitchen_paused",
                    value={
                        **error_body(
                            "kitchen_paused",
                            {"ready_at": ["new orders for as soon as possible are paused until 2024-12-16T19:30:00Z"]},
                        ),
                        "paused_until": "2024-12-16T19:30:00Z",
                        "next_available": "2024-12-16T19:45:00Z",
                    },
                    response_only=True,
                ),
            ],
        ),
        413: error_response("The body is larger than 64 KiB.", "body_too_large", {"body": ["must be at most 64 KiB"]}),
        415: error_response(
            "The body is not sent as `application/json` (no `Content-Type` header, or another type).",
            "unsupported_media_type",
            {"body": ["must be sent as application/json"]},
        ),
        429: THROTTLED,
        503: DATABASE_DOWN,
    },
    examples=[
        OpenApiExample(
            "takeout",
            value={
                "customer_name": "Jane Doe",
                "order_type": "takeout",
                "items": [{"name": "Margherita Pizza", "quantity": 1, "price": 15.99}],
            },
            request_only=True,
        ),
        OpenApiExample(
            "dine_in",
            value={
                "customer_name": "José O'Brien-Smith",
                "order_type": "dine_in",
                "table_number": 12,
                "items": [{"name": "Caesar Salad", "quantity": 2, "price": 8.50}],
            },
            request_only=True,
        ),
        OpenApiExample(
            "delivery",
            value={
                "customer_name": "Анна Петрова",
                "order_type": "delivery",
                "delivery_address": "12 Baker Street, London",
                "items": [
                    {"name": "Margherita Pizza", "quantity": 1, "price": 15.99},
                    {"name": "Tiramisu", "quantity": 2, "price": 4.50},
                ],
            },
            request_only=True,
        ),
    ],
)
