from django.urls import path

from tracking.apis import OrderHistoryApi, OrderStatusApi, SlotsApi, WorkerStatusApi

urlpatterns = [
    path("orders/<str:number>/status", OrderStatusApi.as_view(), name="order-status"),
    path("orders/<str:number>/history", OrderHistoryApi.as_view(), name="order-history"),
    path("workers/status", WorkerStatusApi.as_view(), name="worker-status"),
    path("slots", SlotsApi.as_view(), name="slots"),
]
