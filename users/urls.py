"""Account and token endpoints. Each path works with and without its trailing slash,
because the original README wrote some of them both ways."""

from django.urls import re_path
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

from users.views import LoginOrRefreshView, RegistrationView

urlpatterns = [
    re_path(r"^api/user/register/?$", RegistrationView.as_view(), name="user-register"),
    re_path(r"^api/token/?$", TokenObtainPairView.as_view(), name="token-obtain-pair"),
    re_path(r"^api/token/refresh/?$", TokenRefreshView.as_view(), name="token-refresh"),
    re_path(r"^token/refresh/?$", LoginOrRefreshView.as_view(), name="legacy-login-or-refresh"),
]
