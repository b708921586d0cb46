from django.urls import path, re_path

from kitchen.consumers import BoardConsumer, ExpoConsumer, KitchenConsumer, MenuConsumer, OrderConsumer

websocket_urlpatterns = [
    path("ws/kitchen/", KitchenConsumer.as_asgi()),
    path("ws/kitchen/expo/", ExpoConsumer.as_asgi()),
    path("ws/board/", BoardConsumer.as_asgi()),
    path("ws/menu/", MenuConsumer.as_asgi()),
    # Group names allow only these characters: an order number is made of them.
    re_path(r"^ws/orders/(?P<number>[A-Za-z0-9_-]{1,32})/$", OrderConsumer.as_asgi()),
]
