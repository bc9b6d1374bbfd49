from django.contrib import admin
from django.urls import include, path, re_path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView

from chat_project.apidocs import RedocView, SwaggerView
from chat_project.routers import OptionalSlashRouter
from threads.asyncapi import asyncapi_view
from threads.views import AttachmentViewSet, MessageSearchViewSet, SyncView, ThreadViewSet
from users.views import BlockViewSet, UserViewSet


def slash_optional(route: str, view, *, name: str) -> list:
    """`route/` (its name reverses to it) and `route`, answered alike with no redirect, as
    every API path is (chat_project/routers.py)."""
    return [path(f"{route}/", view, name=name), path(route, view)]


router = OptionalSlashRouter()
router.register("threads", ThreadViewSet, basename="thread")
router.register("messages", MessageSearchViewSet, basename="message")
router.register("attachments", AttachmentViewSet, basename="attachment")
router.register("users", UserViewSet, basename="user")
router.register("user/blocks", BlockViewSet, basename="block")

urlpatterns = [
    # The root leads a visitor to the chat page; the API's documentation is at /api/docs/.
    path("", RedirectView.as_view(pattern_name="webapp"), name="root"),
    path("app/", include("webapp.urls")),
    path("admin/", admin.site.urls),
    *slash_optional("api/schema", SpectacularAPIView.as_view(), name="schema"),
    *slash_optional("api/docs", SwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    *slash_optional("api/redoc", RedocView.as_view(url_name="schema"), name="redoc"),
    # The WebSocket's AsyncAPI document (docs/asyncapi.yaml).
    path("api/asyncapi.yaml", asyncapi_view, name="asyncapi"),
    re_path(r"^api/sync/?$", SyncView.as_view(), name="sync"),
    path("api/", include(router.urls)),
    path("", include("users.urls")),
]

# Errors outside DRF views (unknown URLs, bad Host headers, crashes) answer JSON too.
handler400 = "chat_project.errors.bad_request"
handler403 = "chat_project.errors.permission_denied"
handler404 = "chat_project.errors.not_found"
handler500 = "chat_project.errors.server_error"
