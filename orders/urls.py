from django.urls import path

from orders.apis import OrderCancelApi, OrderCollectionApi, OrderDetailApi

urlpatterns = [
    # GET lists (staff), POST takes an order (public): one path, one view.
    path("orders", OrderCollectionApi.as_view(), name="order-create"),
    path("orders/<str:number>", OrderDetailApi.as_view(), name="order-detail"),
    path("orders/<str:number>/cancel", OrderCancelApi.as_view(), name="order-cancel"),
]
