from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from restaurant.logging import service_logger
from tracking import selectors

log = service_logger("tracking-service")


class TrackingApi(APIView):
    throttle_scope = "tracking"

    def initial(self, request, *args, **kwargs):
        log.debug("request_received", f"{request.method} {request.path}", details={"path": request.path})
        super().initial(request, *args, **kwargs)


class OrderStatusApi(TrackingApi):
    """GET /orders/{number}/status"""

    class OutputSerializer(serializers.Serializer):
        order_number = serializers.CharField(source="number")
        current_status = serializers.CharField(source="status")
        updated_at = serializers.DateTimeField()
        estimated_completion = serializers.DateTimeField(allow_null=True)
        processed_by = serializers.CharField(allow_null=True)

    def get(self, request, number: str):
        order = selectors.order_get(number=number)
        return Response(self.OutputSerializer(order).data)


class OrderHistoryApi(TrackingApi):
    """GET /orders/{number}/history, oldest first"""

    class OutputSerializer(serializers.Serializer):
        status = serializers.CharField()
        timestamp = serializers.DateTimeField(source="changed_at")
        changed_by = serializers.CharField()

    def get(self, request, number: str):
        history = selectors.order_history(number=number)
        return Response(self.OutputSerializer(history, many=True).data)


class WorkerStatusApi(TrackingApi):
    """GET /workers/status"""

    class OutputSerializer(serializers.Serializer):
        worker_name = serializers.CharField()
        status = serializers.CharField()
        orders_processed = serializers.IntegerField()
        last_seen = serializers.DateTimeField()

    def get(self, request):
        return Response(self.OutputSerializer(selectors.worker_list(), many=True).data)
