from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from menu.selectors import menu_document, menu_version
from restaurant.openapi import DATABASE_DOWN, THROTTLED, retry_after_header

MONEY = {"max_digits": 5, "decimal_places": 2, "coerce_to_string": False}


class OptionSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    price_delta = serializers.DecimalField(**MONEY, help_text="added to the item's price when chosen")
    available = serializers.BooleanField()


class GroupSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    min = serializers.IntegerField(source="min_choices", help_text="options to choose at least")
    max = serializers.IntegerField(source="max_choices", allow_null=True, help_text="at most; null: no limit")
    options = OptionSerializer(many=True)


class ItemSerializer(serializers.Serializer):
    sku = serializers.CharField()
    name = serializers.CharField()
    description = serializers.CharField()
    price = serializers.DecimalField(**MONEY)
    station = serializers.CharField(source="station.code", help_text="the kitchen station that prepares it")
    available = serializers.BooleanField(help_text="false: sold out")
    modifier_groups = GroupSerializer(many=True)


class CategorySerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    items = ItemSerializer(many=True)


class MenuSerializer(serializers.Serializer):
    categories = CategorySerializer(many=True)


def menu_json(categories) -> dict:
    """The menu document of GET /menu (also the staff order page's picker data)."""
    return {"categories": CategorySerializer(categories, many=True).data}


def _etag(version: int) -> str:
    return f'"menu-{version}"'


def _matches(header: str, etag: str) -> bool:
    tags = {tag.strip().removeprefix("W/") for tag in header.split(",")}
    return "*" in tags or etag in tags


class MenuApi(APIView):
    """GET /menu: the catalog, public."""

    throttle_scope = "tracking"

    @extend_schema(
        summary="The menu",
        description=(
            "Categories with their items, modifier groups and options, in display order; sold-out items are "
            "listed with `available: false`. Prices are JSON numbers. The `ETag` changes with any change of "
            "the menu: send it back as `If-None-Match` to get `304` while nothing changed."
        ),
        tags=["menu"],
        parameters=[
            OpenApiParameter("If-None-Match", str, OpenApiParameter.HEADER, required=False),
            OpenApiParameter("ETag", str, OpenApiParameter.HEADER, response=[200, 304]),
            retry_after_header(429, 503),
        ],
        responses={
            200: MenuSerializer,
            304: OpenApiResponse(description="The menu has not changed since the `ETag` sent."),
            429: THROTTLED,
            503: DATABASE_DOWN,
        },
    )
    def get(self, request):
        version = menu_version()
        etag = _etag(version)
        headers = {"ETag": etag, "Cache-Control": "public, no-cache"}
        if _matches(request.headers.get("If-None-Match", ""), etag):
            return Response(status=304, headers=headers)
        return Response(menu_document(version, menu_json), headers=headers)
