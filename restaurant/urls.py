from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularSwaggerSplitView

from restaurant import health
from restaurant.openapi import SchemaApi

urlpatterns = [
    path("", include("orders.urls")),
    path("", include("menu.urls")),
    path("", include("tracking.urls")),
    path("", include("kitchen.urls")),  # the kitchen display and /track/ (served by the display process)
    path("api/", include("orders.urls")),
    path("api/", include("menu.urls")),
    path("api/", include("tracking.urls")),
    path("api/schema/", SchemaApi.as_view(), name="schema"),
    # Its script a file of its own (not inline): the Content-Security-Policy allows no inline script.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="swagger-ui"),
    path("health", health.health, name="health"),
    path("health/live", health.live, name="health-live"),
    path("health/ready", health.ready, name="health-ready"),
    path("admin/", admin.site.urls),
]

handler400 = "restaurant.api.handler400"
handler403 = "restaurant.api.handler403"
handler404 = "restaurant.api.handler404"
handler500 = "restaurant.api.handler500"
