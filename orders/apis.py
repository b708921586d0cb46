from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_serializer,
)
from knox.auth import TokenAuthentication
from rest_framework import serializers, status
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param
from rest_framework.views import APIView

from orders.models import OrderStatus, OrderType
from orders.openapi import MONEY, OrderCancelRequestSerializer, order_create_schema
from orders.parsers import OrderBodyNegotiation, OrderJSONParser, idempotency_key, optional_json, order_json
from orders.selectors import order_detail, order_list
from orders.services import order_cancel, order_create
from orders.validation import validate_cancel, validate_order
from restaurant.api import ApplicationError
from restaurant.openapi import (
    DATABASE_DOWN,
    FORBIDDEN,
    NOT_AUTHENTICATED,
    THROTTLED,
    WWW_AUTHENTICATE,
    error_response,
    retry_after_header,
)
from restaurant.roles import ORDER_CANCELLERS, ORDER_STAFF, has_role
from restaurant.throttling import CountedInTheWrite


class OrderCreateApi(CountedInTheWrite, APIView):
    """POST /orders (SPEC §3). Bad input raises ApplicationError, rendered by restaurant.api. Its rate
    limit is counted in `order_create`'s statement (restaurant/throttling.py)."""

    throttle_scope = "orders"
    parser_classes = [OrderJSONParser]
    content_negotiation_class = OrderBodyNegotiation

    @order_create_schema
    def post(self, request):
        key = idempotency_key(request)
        data = validate_order(order_json(request))
        order = order_create(data=data, rate_count=request.rate_count, idempotency_key=key)
        return Response(
            {
                "order_number": order.number,
                "status": order.status,
                "total_amount": order.total_amount,
                "promised_at": order.promised_at,
            },
            status=status.HTTP_201_CREATED,
            headers={"Location": f"/orders/{order.number}/status"},
        )


# --- the staff order API: GET /orders, GET /orders/{number}, POST /orders/{number}/cancel ---------

MAX_LIMIT = 100
# Deep pages are OFFSET scans; past this, narrow the list with `since` instead.
MAX_PAGE = 100_000


class IsOrderStaff(BasePermission):
    """An active superuser, or an active user in a staff role (the Kitchen role may read too)."""

    def has_permission(self, request, view) -> bool:
        return has_role(request.user, *ORDER_STAFF)


class StaffApi(APIView):
    """A staff login, by token (apps: orders/tokens.py, knox's, stored hashed) or session (the browser),
    and the `staff` throttle."""

    # Token first: DRF answers 401 with the first authenticator's WWW-Authenticate header, and a
    # session has none (DRF would answer 403 for a missing login).
    authentication_classes = [TokenAuthentication, SessionAuthentication]
    permission_classes = [IsOrderStaff]
    throttle_scope = "staff"


STAFF_RESPONSES = {401: NOT_AUTHENTICATED, 403: FORBIDDEN, 429: THROTTLED, 503: DATABASE_DOWN}
STAFF_PARAMETERS = [WWW_AUTHENTICATE, retry_after_header(429, 503)]
STAFF_DESCRIPTION = (
    "For staff: a session (the back office login) or `Authorization: Token <key>` (a token made in the admin "
    "or by `manage.py create_api_token USER`, its key shown once, unexpired) of an active user in the Manager, "
    "Front of house or Kitchen role, or a superuser. Limited by `STAFF_RATE_LIMIT` per user."
)


@extend_schema_serializer(component_name="OrderSummary")
class OrderSummarySerializer(serializers.Serializer):
    """An order without its items and history: a list entry, and the head of the detail."""

    order_number = serializers.CharField(source="number")
    status = serializers.ChoiceField(choices=OrderStatus.choices)
    order_type = serializers.ChoiceField(choices=OrderType.choices)
    customer_name = serializers.CharField()
    table_number = serializers.IntegerField(allow_null=True)
    delivery_address = serializers.CharField(allow_null=True)
    contact_phone = serializers.CharField(help_text="the guest's phone (E.164) to text, or empty")
    contact_email = serializers.CharField(help_text="the guest's email address, or empty")
    total_amount = serializers.DecimalField(**MONEY)
    priority = serializers.ChoiceField(choices=[(1, "1"), (5, "5"), (10, "10")])
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    processed_by = serializers.CharField(allow_null=True, help_text="the worker that took the order")
    estimated_completion = serializers.DateTimeField(allow_null=True)
    promised_at = serializers.DateTimeField(allow_null=True, help_text="the end of its kitchen slot")
    item_count = serializers.IntegerField(min_value=1, help_text="Σ quantity over the items")


@extend_schema_serializer(component_name="OrderLine")
class OrderModifierSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    price_delta = serializers.DecimalField(**MONEY)


class OrderItemSerializer(serializers.Serializer):
    """One item of an order as staff read it: the one place its fields are listed."""

    name = serializers.CharField()
    quantity = serializers.IntegerField(min_value=1)
    price = serializers.DecimalField(**MONEY, help_text="unit price, with the chosen options' deltas")
    sku = serializers.CharField(allow_null=True, help_text="the menu item's sku; null for a free item")
    station = serializers.CharField(help_text="the station that prepares it; empty for a free item")
    modifiers = OrderModifierSerializer(many=True, help_text="the chosen options, as they were at order time")
    notes = serializers.CharField()


@extend_schema_serializer(component_name="OrderStatusChange")
class StatusChangeSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=OrderStatus.choices)
    timestamp = serializers.DateTimeField(source="changed_at")
    changed_by = serializers.CharField(help_text="`order-service`, a worker's name, or a staff user")


class PageSchema(AutoSchema):
    """A page is one object, so drf-spectacular would name its GET `…_retrieve`, like an order's."""

    def get_operation_id(self) -> str:
        operation_id = super().get_operation_id()
        return operation_id.removesuffix("_retrieve") + "_list" if self.method == "GET" else operation_id


class OrderListApi(StaffApi):
    """GET /orders: newest first, a page at a time. Reached through OrderCollectionApi."""

    schema = PageSchema()

    class FilterSerializer(serializers.Serializer):
        status = serializers.ChoiceField(choices=OrderStatus.choices, required=False)
        order_type = serializers.ChoiceField(choices=OrderType.choices, required=False)
        since = serializers.DateTimeField(
            required=False,
            help_text="ISO 8601; only orders created at or after it (UTC when no offset is given; send `+` as `%2B`)",
        )
        page = serializers.IntegerField(min_value=1, max_value=MAX_PAGE, default=1)
        limit = serializers.IntegerField(min_value=1, max_value=MAX_LIMIT, default=20)

    @extend_schema_serializer(component_name="OrderPage")
    class OutputSerializer(serializers.Serializer):
        next = serializers.URLField(allow_null=True, help_text="the next page, or null on the last")
        previous = serializers.URLField(allow_null=True, help_text="the page before, or null on the first")
        results = OrderSummarySerializer(many=True)

    @extend_schema(
        summary="Orders, newest first (staff)",
        description=f"{STAFF_DESCRIPTION} An empty parameter (`status=`) is the same as none.",
        tags=["staff"],
        parameters=[FilterSerializer, *STAFF_PARAMETERS],
        responses={
            200: OpenApiResponse(OutputSerializer, description="Timestamps are ISO 8601 UTC; no total count."),
            400: error_response(
                "A parameter is not valid (each one named).",
                "validation_failed",
                {"limit": ["Ensure this value is less than or equal to 100."]},
            ),
            **STAFF_RESPONSES,
        },
    )
    def get(self, request):
        query = self.FilterSerializer(data={key: value for key, value in request.query_params.items() if value})
        if not query.is_valid():
            errors = {field: [str(message) for message in messages] for field, messages in query.errors.items()}
            raise ApplicationError(code="validation_failed", errors=errors)
        filters = dict(query.validated_data)
        page, limit = filters.pop("page"), filters.pop("limit")
        # One row past the page says whether there is a next one, without counting them all.
        orders = list(order_list(**filters)[(page - 1) * limit : page * limit + 1])
        url = request.build_absolute_uri()
        body = {
            "next": replace_query_param(url, "page", page + 1) if len(orders) > limit else None,
            "previous": replace_query_param(url, "page", page - 1) if page > 1 else None,
            "results": orders[:limit],
        }
        return Response(self.OutputSerializer(body).data)


NUMBER_PARAMETER = OpenApiParameter(
    "number", str, OpenApiParameter.PATH, description="The order number, e.g. `ORD_20241216_001`"
)


class OrderDetailApi(StaffApi):
    """GET /orders/{number}: the whole order."""

    @extend_schema_serializer(component_name="OrderDetail")
    class OutputSerializer(OrderSummarySerializer):
        notes = serializers.CharField(help_text="the order's notes, for the whole order")
        items = OrderItemSerializer(many=True)
        history = StatusChangeSerializer(source="status_log", many=True, help_text="oldest first")

    @extend_schema(
        summary="One order with its items and status history (staff)",
        description=STAFF_DESCRIPTION,
        tags=["staff"],
        parameters=[NUMBER_PARAMETER, *STAFF_PARAMETERS],
        responses={
            200: OpenApiResponse(OutputSerializer, description="Timestamps are ISO 8601 UTC."),
            404: error_response("No such order.", "not_found", {"order_number": ["no order ORD_20241216_999"]}),
            **STAFF_RESPONSES,
        },
    )
    def get(self, request, number: str):
        return Response(self.OutputSerializer(order_detail(number=number)).data)


class IsOrderCanceller(BasePermission):
    """An active superuser, or an active Manager or Front of house user (the Kitchen role reads only)."""

    def has_permission(self, request, view) -> bool:
        return has_role(request.user, *ORDER_CANCELLERS)


class OrderCancelApi(StaffApi):
    """POST /orders/{number}/cancel: staff cancel an order through `order_cancel` (the rule every
    cancel follows, admin's included), which frees its kitchen units in the same transaction. Its
    optional body is read as POST /orders' is (JSON only, at most 64 KiB); an empty one is no reason.
    A session must send its CSRF token (DRF's SessionAuthentication checks it); a token needs none."""

    permission_classes = [IsOrderCanceller]
    parser_classes = [OrderJSONParser]
    content_negotiation_class = OrderBodyNegotiation

    @extend_schema(
        summary="Cancel an order (staff)",
        description=(
            "For staff in the Manager or Front of house role, or a superuser (the Kitchen role gets `403`), by "
            "`Authorization: Token <key>` or a session (which must send its CSRF token, `X-CSRFToken`). Limited "
            "by `STAFF_RATE_LIMIT` per user. A `received` or `cooking` order becomes `cancelled`, logged with "
            "the user's name and the `reason` (optional) as its notes, the guest told; its kitchen slot's units "
            "are free for other orders at once. An order already cancelled is answered `200` as it is (nothing "
            "written: a double tap, a retry); a `ready` or `completed` one is refused with `409`."
        ),
        tags=["staff"],
        request=OrderCancelRequestSerializer,
        parameters=[NUMBER_PARAMETER, *STAFF_PARAMETERS],
        responses={
            200: OpenApiResponse(
                OrderDetailApi.OutputSerializer, description="The order, cancelled, as GET /orders/{number} shows it."
            ),
            400: error_response(
                "The body is not a JSON object, or its `reason` breaks a rule (named).",
                "validation_failed",
                {"reason": ["must be at most 200 characters"]},
            ),
            404: error_response("No such order.", "not_found", {"order_number": ["no order ORD_20241216_999"]}),
            409: error_response(
                "The order can no longer be cancelled (it is `ready` or `completed`).",
                "transition_not_allowed",
                {"status": ["cannot go from ready to cancelled"]},
            ),
            413: error_response(
                "The body is larger than 64 KiB.", "body_too_large", {"body": ["must be at most 64 KiB"]}
            ),
            415: error_response(
                "A body not sent as `application/json`.",
                "unsupported_media_type",
                {"body": ["must be sent as application/json"]},
            ),
            **STAFF_RESPONSES,
        },
    )
    def post(self, request, number: str):
        reason = validate_cancel(optional_json(request))
        order_cancel(number=number, changed_by=request.user.get_username(), reason=reason)
        return Response(OrderDetailApi.OutputSerializer(order_detail(number=number)).data)


class OrderCollectionApi(OrderListApi, OrderCreateApi):
    """The `orders` path: GET is the staff list (OrderListApi), POST the public intake (OrderCreateApi,
    as it was). DRF takes authentication, permissions and the throttle scope from the view, not the
    method, so each method takes them from its own view class: POST stays without authentication
    (an `Authorization` header is ignored there, and no session means no CSRF check)."""

    # The view class whose policies serve each method (HEAD is GET's); any other method (OPTIONS, a
    # 405 answer) takes POST's. (The docstring above is also the body of an OPTIONS answer: DRF's.)
    METHOD_VIEWS: dict[str, type[APIView]] = {"GET": OrderListApi, "HEAD": OrderListApi}

    def initialize_request(self, request, *args, **kwargs):
        # DRF asks for the authenticators in here, before the view has a request of its own.
        method_view = self.METHOD_VIEWS.get(request.method, OrderCreateApi)
        self.authentication_classes = method_view.authentication_classes
        self.permission_classes = method_view.permission_classes
        self.throttle_scope = method_view.throttle_scope
        self.counted_in_the_write = getattr(method_view, "counted_in_the_write", False)
        return super().initialize_request(request, *args, **kwargs)
