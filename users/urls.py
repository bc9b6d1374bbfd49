"""Account and token endpoints that are not viewsets (those are on the router in
chat_project/urls.py). Each path works with and without its trailing slash, because the
original README wrote some of them both ways."""

from django.urls import re_path

from users.views import (
    LoginOrRefreshView,
    LoginView,
    LogoutView,
    MeView,
    PasswordChangeView,
    RefreshView,
    RegistrationView,
    SessionLoginView,
    SessionLogoutView,
    SessionRefreshView,
)

urlpatterns = [
    re_path(r"^api/user/register/?$", RegistrationView.as_view(), name="user-register"),
    re_path(r"^api/user/me/?$", MeView.as_view(), name="user-me"),
    re_path(r"^api/user/password/?$", PasswordChangeView.as_view(), name="user-password"),
    re_path(r"^api/user/logout/?$", LogoutView.as_view(), name="user-logout"),
    re_path(r"^api/token/?$", LoginView.as_view(), name="token-obtain-pair"),
    re_path(r"^api/token/refresh/?$", RefreshView.as_view(), name="token-refresh"),
    re_path(r"^token/refresh/?$", LoginOrRefreshView.as_view(), name="legacy-login-or-refresh"),
    # The browser's: the refresh token in a cookie (users/browser_session.py).
    re_path(r"^api/session/?$", SessionLoginView.as_view(), name="session-login"),
    re_path(r"^api/session/refresh/?$", SessionRefreshView.as_view(), name="session-refresh"),
    re_path(r"^api/session/logout/?$", SessionLogoutView.as_view(), name="session-logout"),
]
