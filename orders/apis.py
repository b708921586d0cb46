from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from orders.openapi import order_create_schema
from orders.parsers import OrderBodyNegotiation, OrderJSONParser, order_json
from orders.services import order_create
from orders.validation import validate_order


class OrderCreateApi(APIView):
    """POST /orders (SPEC §3). Bad input raises ApplicationError, rendered by restaurant.api."""

    throttle_scope = "orders"
    parser_classes = [OrderJSONParser]
    content_negotiation_class = OrderBodyNegotiation

    @order_create_schema
    def post(self, request):
        data = validate_order(order_json(request))
        order = order_create(data=data)
        return Response(
            {"order_number": order.number, "status": order.status, "total_amount": order.total_amount},
            status=status.HTTP_201_CREATED,
            headers={"Location": f"/orders/{order.number}/status"},
        )
