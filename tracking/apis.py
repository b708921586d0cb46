import re
from datetime import date, datetime

from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_serializer,
)
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from kitchen.models import WorkerStatus
from kitchen.selectors import public_names, worker_list
from orders.capacity import cart_need, day_slots, today
from orders.models import OrderStatus
from orders.selectors import order_get, order_history
from restaurant.api import ApplicationError
from restaurant.logging import service_logger
from restaurant.openapi import DATABASE_DOWN, THROTTLED, error_response, retry_after_header

log = service_logger("tracking-service")

ORDER_NUMBER = OpenApiParameter(
    "number", str, OpenApiParameter.PATH, description="The order number, e.g. `ORD_20241216_001`"
)
ORDER_NOT_FOUND = error_response("No such order.", "not_found", {"order_number": ["no order ORD_20241216_999"]})
# Every tracking endpoint may also be throttled, or find the database down.
COMMON_RESPONSES = {429: THROTTLED, 503: DATABASE_DOWN}
COMMON_PARAMETERS = [retry_after_header(429, 503)]


class TrackingApi(APIView):
    throttle_scope = "tracking"

    def initial(self, request, *args, **kwargs):
        log.debug("request_received", f"{request.method} {request.path}", details={"path": request.path})
        super().initial(request, *args, **kwargs)


class OrderStatusApi(TrackingApi):
    """GET /orders/{number}/status"""

    @extend_schema_serializer(component_name="OrderStatus")
    class OutputSerializer(serializers.Serializer):
        order_number = serializers.CharField(source="number")
        current_status = serializers.ChoiceField(source="status", choices=OrderStatus.choices)
        updated_at = serializers.DateTimeField()
        estimated_completion = serializers.DateTimeField(allow_null=True)
        promised_at = serializers.DateTimeField(
            allow_null=True, help_text="when the guest was told it will be ready: the end of its kitchen slot"
        )
        fire_at = serializers.SerializerMethodField(
            help_text="an order for later, held until the kitchen starts it at this time; null once it has fired"
        )
        processed_by = serializers.CharField(
            allow_null=True, help_text="the worker that took the order, or a person's first name (`kitchen` if none)"
        )

        def get_fire_at(self, order) -> datetime | None:
            return serializers.DateTimeField().to_representation(order.fire_at) if order.is_held() else None

    @extend_schema(
        summary="An order's current status",
        tags=["tracking"],
        parameters=[ORDER_NUMBER, *COMMON_PARAMETERS],
        responses={
            200: OpenApiResponse(
                OutputSerializer,
                description="Timestamps are ISO 8601 UTC.",
                examples=[
                    OpenApiExample(
                        "cooking",
                        value={
                            "order_number": "ORD_20241216_001",
                            "current_status": "cooking",
                            "updated_at": "2024-12-16T10:32:00.123456Z",
                            "estimated_completion": "2024-12-16T10:32:10.123456Z",
                            "promised_at": "2024-12-16T10:45:00Z",
                            "fire_at": None,
                            "processed_by": "chef_mario",
                        },
                    )
                ],
            ),
            404: ORDER_NOT_FOUND,
            **COMMON_RESPONSES,
        },
    )
    def get(self, request, number: str):
        order = order_get(number=number)
        data = self.OutputSerializer(order).data
        if data["processed_by"]:
            data["processed_by"] = public_names([data["processed_by"]])[data["processed_by"]]
        return Response(data)


class OrderHistoryApi(TrackingApi):
    """GET /orders/{number}/history, oldest first"""

    @extend_schema_serializer(component_name="OrderHistoryEntry")
    class OutputSerializer(serializers.Serializer):
        status = serializers.ChoiceField(choices=OrderStatus.choices)
        timestamp = serializers.DateTimeField(source="changed_at")
        changed_by = serializers.CharField(
            help_text="`order-service`, a worker's name, or a person's first name (`kitchen` if none): never a login"
        )

    @extend_schema(
        summary="An order's status changes, oldest first",
        tags=["tracking"],
        parameters=[ORDER_NUMBER, *COMMON_PARAMETERS],
        responses={
            200: OpenApiResponse(
                OutputSerializer(many=True),
                description="Timestamps are ISO 8601 UTC.",
                examples=[
                    # drf-spectacular shows each example as one entry of the list.
                    OpenApiExample(
                        "received",
                        value={
                            "status": "received",
                            "timestamp": "2024-12-16T10:30:00.000000Z",
                            "changed_by": "order-service",
                        },
                    ),
                    OpenApiExample(
                        "cooking",
                        value={
                            "status": "cooking",
                            "timestamp": "2024-12-16T10:30:01.000000Z",
                            "changed_by": "chef_mario",
                        },
                    ),
                ],
            ),
            404: ORDER_NOT_FOUND,
            **COMMON_RESPONSES,
        },
    )
    def get(self, request, number: str):
        rows = self.OutputSerializer(order_history(number=number), many=True).data
        shown = public_names(row["changed_by"] for row in rows)
        return Response([{**row, "changed_by": shown[row["changed_by"]]} for row in rows])


class WorkerStatusApi(TrackingApi):
    """GET /workers/status"""

    @extend_schema_serializer(component_name="WorkerStatus")
    class OutputSerializer(serializers.Serializer):
        worker_name = serializers.CharField()
        status = serializers.ChoiceField(
            choices=WorkerStatus.choices, help_text="`offline` too when silent for over 2 × its heartbeat interval"
        )
        orders_processed = serializers.IntegerField(min_value=0)
        last_seen = serializers.DateTimeField()

    @extend_schema(
        summary="Every kitchen worker, with the status an operator should believe",
        tags=["tracking"],
        parameters=COMMON_PARAMETERS,
        responses={
            200: OpenApiResponse(
                OutputSerializer(many=True),
                description="Timestamps are ISO 8601 UTC.",
                examples=[
                    OpenApiExample(
                        "online",
                        value={
                            "worker_name": "chef_mario",
                            "status": "online",
                            "orders_processed": 31,
                            "last_seen": "2024-12-16T10:31:55.000000Z",
                        },
                    ),
                    OpenApiExample(
                        "offline",
                        value={
                            "worker_name": "chef_luigi",
                            "status": "offline",
                            "orders_processed": 12,
                            "last_seen": "2024-12-16T09:58:30.000000Z",
                        },
                    ),
                ],
            ),
            **COMMON_RESPONSES,
        },
    )
    def get(self, request):
        return Response(self.OutputSerializer(worker_list(), many=True).data)


CART_LINE = re.compile(r"([A-Za-z0-9_-]{1,50}):([0-9]{1,2})")


@extend_schema_serializer(component_name="Slot")
class SlotSerializer(serializers.Serializer):
    start = serializers.DateTimeField()
    end = serializers.DateTimeField(help_text="the promised time of an order in this slot")
    full = serializers.BooleanField(help_text="a station of it has no unit left")
    stations = serializers.DictField(
        child=serializers.DictField(child=serializers.IntegerField()),
        help_text="per station with a capacity: {capacity, used} in load units",
    )
    fits = serializers.BooleanField(required=False, help_text="with `items`: whether that cart fits")


@extend_schema_serializer(component_name="Slots")
class SlotsSerializer(serializers.Serializer):
    date = serializers.DateField()
    time_zone = serializers.CharField()
    slot_minutes = serializers.IntegerField()
    paused_until = serializers.DateTimeField(
        allow_null=True,
        help_text="while a Manager pauses new ASAP orders, until when (an ASAP order is then promised a slot "
        "ending at least this + its cooking time); null when not paused",
    )
    slots = SlotSerializer(many=True)


class SlotsApi(TrackingApi):
    """GET /slots: the kitchen's open slots of a day and how full each station is (orders/capacity.py)."""

    @extend_schema(
        summary="The kitchen's slots of a day",
        description=(
            "The open slots of `date` (the restaurant's today by default) with each station's capacity and "
            "booked units; with `items=<sku>:<qty>,…` each slot says whether that cart `fits`."
        ),
        tags=["tracking"],
        parameters=[
            OpenApiParameter("date", str, description="YYYY-MM-DD, in the restaurant's time zone"),
            OpenApiParameter("items", str, description="a cart: `margherita:2,cola:1`"),
            *COMMON_PARAMETERS,
        ],
        responses={
            200: SlotsSerializer,
            400: error_response("A parameter is not valid.", "validation_failed", {"date": ["must be YYYY-MM-DD"]}),
            **COMMON_RESPONSES,
        },
    )
    def get(self, request):
        errors: dict[str, list[str]] = {}
        day = today()
        if raw_date := request.query_params.get("date"):
            try:
                day = date.fromisoformat(raw_date)
                date.fromordinal(day.toordinal() + 1)  # the calendar's last day has no slots to end it
            except (ValueError, OverflowError):
                errors["date"] = ["must be a date YYYY-MM-DD"]
        need = None
        if (raw_items := request.query_params.get("items")) is not None:
            lines = [CART_LINE.fullmatch(line) for line in raw_items.split(",")]
            if not raw_items or not all(lines) or len(lines) > 20:
                errors["items"] = ["must be up to 20 lines <sku>:<quantity>, comma-separated"]
            else:
                need = cart_need([(match[1], int(match[2])) for match in lines])
        if errors:
            raise ApplicationError(code="validation_failed", errors=errors)
        try:
            return Response(day_slots(day, need))
        except OverflowError:  # a day at the calendar's edge, in a zone that moves it past it
            raise ApplicationError(code="validation_failed", errors={"date": ["is out of range"]}) from None
