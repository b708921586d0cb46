"""The OpenAPI description of POST /orders (SPEC §3), for drf-spectacular.

Documentation only: these serializers never see a request. The rules are enforced by
orders/validation.py, whose limits they quote so that the two cannot drift apart.
"""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import serializers

from orders import validation as rules
from orders.models import OrderStatus, OrderType
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


@extend_schema_field(
    {
        "type": "number",
        "minimum": float(rules.PRICE_MIN),
        "maximum": float(rules.PRICE_MAX),
        "multipleOf": 0.01,
    }
)
class PriceField(serializers.DecimalField):
    def __init__(self, **kwargs) -> None:
        super().__init__(max_digits=5, decimal_places=2, coerce_to_string=False, **kwargs)


class OrderItemRequestSerializer(ClosedSerializer):
    """One line of an order; no other fields."""

    name = serializers.CharField(
        min_length=1, max_length=rules.ITEM_NAME_MAX, help_text=f"1–{rules.ITEM_NAME_MAX} characters after trimming"
    )
    quantity = serializers.IntegerField(
        min_value=rules.QUANTITY_MIN, max_value=rules.QUANTITY_MAX, help_text='an integer: not 2.5, not "2", not true'
    )
    price = PriceField(help_text="a JSON number with at most 2 decimal places, read as an exact decimal")


class OrderCreateRequestSerializer(ClosedSerializer):
    """A new order; unknown fields are rejected."""

    customer_name = serializers.CharField(
        min_length=1,
        max_length=rules.NAME_MAX,
        help_text=(
            f"1–{rules.NAME_MAX} characters after trimming: letters (any alphabet), spaces, hyphens and "
            "apostrophes only"
        ),
    )
    order_type = serializers.ChoiceField(choices=OrderType.choices)
    items = serializers.ListField(
        child=OrderItemRequestSerializer(),
        min_length=1,
        max_length=rules.ITEMS_MAX,
        help_text=f"1–{rules.ITEMS_MAX} items",
    )
    table_number = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=rules.TABLE_MIN,
        max_value=rules.TABLE_MAX,
        help_text="required for `dine_in`; absent or null otherwise",
    )
    delivery_address = serializers.CharField(
        required=False,
        allow_null=True,
        min_length=rules.ADDRESS_MIN,
        max_length=rules.ADDRESS_MAX,
        help_text="required for `delivery`; absent or null otherwise",
    )


class OrderCreatedSerializer(serializers.Serializer):
    order_number = serializers.CharField(help_text="`ORD_YYYYMMDD_NNN`: UTC date, then the day's sequence number")
    status = serializers.ChoiceField(choices=OrderStatus.choices, help_text="always `received`")
    total_amount = serializers.DecimalField(**MONEY, help_text="Σ price × quantity")


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
        413: error_response("The body is larger than 64 KiB.", "body_too_large", {"body": ["must be at most 64 KiB"]}),
        415: error_response(
            "The body is not sent as `application/json`.",
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
