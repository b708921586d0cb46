from django.urls import path

from menu.apis import MenuApi

urlpatterns = [
    path("menu", MenuApi.as_view(), name="menu"),
]
