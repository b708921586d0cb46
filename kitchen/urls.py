from django.urls import path, re_path

from kitchen import views

urlpatterns = [
    path("kitchen/", views.kitchen_display, name="kitchen-display"),
    path("kitchen/expo/", views.kitchen_expo, name="kitchen-expo"),
    path("kitchen/expo/pause/", views.kitchen_pause, name="kitchen-pause"),
    path("board/", views.customer_board, name="customer-board"),
    path("order/", views.order_page, name="order-page"),
    re_path(r"^track/(?P<number>[A-Za-z0-9_-]{1,32})/$", views.track_order, name="track-order"),
]
