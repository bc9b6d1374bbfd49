from collections.abc import Mapping

from rest_framework import permissions, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.serializers import (
    TokenObtainPairSerializer,
    TokenRefreshSerializer,
)
from rest_framework_simplejwt.views import TokenViewBase

from users.serializers import RegistrationSerializer
from users.services import user_create


class RegistrationView(APIView):
    """`POST {username, password}` creates an account and answers `{id, username}`."""

    # Anyone may register; a stale Authorization header must not turn sign-up into a 401.
    authentication_classes = ()
    permission_classes = (permissions.AllowAny,)

    def post(self, request: Request) -> Response:
        serializer = RegistrationSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = user_create(
            username=serializer.validated_data["username"],
            password=serializer.validated_data["password"],
        )
        return Response(RegistrationSerializer(user).data, status=status.HTTP_201_CREATED)


class LoginOrRefreshView(TokenViewBase):
    """The original README's login path, `POST /token/refresh/`.

    Clients written against that README send `{username, password}` here and expect a token
    pair; SimpleJWT's convention sends `{refresh}` to the same path for a new access token.
    Both are honoured: a body with a refresh token and no username is a refresh, anything
    else is a login (and gets the login's field errors when it is incomplete).
    """

    def get_serializer_class(self):
        data = self.request.data
        if isinstance(data, Mapping) and "refresh" in data and "username" not in data:
            return TokenRefreshSerializer
        return TokenObtainPairSerializer
