from collections.abc import Mapping

from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, permissions, status, viewsets
from rest_framework.generics import RetrieveAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView, TokenViewBase

from chat_project.routers import ID_PATTERN
from chat_project.schema import THROTTLED, validation_error
from chat_project.throttling import AuthRateThrottle
from users.browser_session import (
    session_cookie_set,
    session_refresh_token,
    session_request_check,
    session_response,
)
from users.errors import NotBlocked
from users.schema import (
    ACCESS,
    BLOCK,
    CROSS_ORIGIN,
    LOGIN_REQUEST,
    NEW_ACCESS,
    NEW_REFRESH,
    NO_BODY_NEEDED,
    PASSWORD,
    REFRESH,
    REFRESH_REQUEST,
    REFRESHED_PAIR,
    SESSION_COOKIE_SENT,
    SESSION_COOKIE_SET,
    SESSION_REFRESH_REFUSED,
    TOKEN_PAIR,
    USER_ALICE,
    USER_BOB,
    session_cookie_deleted,
)
from users.selectors import blocks_made_by, user_directory
from users.serializers import (
    AccountDeleteSerializer,
    BlockCreateSerializer,
    BlockSerializer,
    MeSerializer,
    PasswordChangeSerializer,
    RegistrationSerializer,
    SearchQuerySerializer,
    SessionAccessSerializer,
    TokenPairSerializer,
    UserSerializer,
)
from users.services import (
    block_create,
    block_delete,
    user_create,
    user_delete,
    user_password_change,
)
from users.tokens import (
    LoginSerializer,
    LogoutSerializer,
    RefreshSerializer,
    SessionCookieMissing,
    refresh_token_revoke,
)


@extend_schema(tags=["Accounts"])
class RegistrationView(APIView):
    """`POST {username, password}` creates an account and answers `{id, username}`."""

    # Anyone may register; a stale Authorization header must not turn sign-up into a 401.
    authentication_classes = ()
    permission_classes = (permissions.AllowAny,)
    throttle_classes = (AuthRateThrottle,)

    @extend_schema(
        summary="Sign up",
        request=RegistrationSerializer,
        responses={201: RegistrationSerializer},
        examples=[
            OpenApiExample(
                "alice signs up",
                value={"username": "alice", "password": PASSWORD},
                request_only=True,
            ),
            OpenApiExample("her account", value=USER_ALICE, response_only=True),
        ],
    )
    def post(self, request: Request) -> Response:
        serializer = RegistrationSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = user_create(
            username=serializer.validated_data["username"],
            password=serializer.validated_data["password"],
        )
        return Response(RegistrationSerializer(user).data, status=status.HTTP_201_CREATED)


@extend_schema_view(
    # The response named: drf-spectacular describes SimpleJWT's own serializer's answer,
    # not that of our subclass (users.tokens.LoginSerializer).
    post=extend_schema(
        summary="Log in",
        responses={200: TokenPairSerializer},
        examples=[LOGIN_REQUEST, TOKEN_PAIR],
    ),
)
@extend_schema(tags=["Accounts"])
class LoginView(TokenObtainPairView):
    """`POST {username, password}` answers a token pair `{access, refresh}`: send the access
    token as `Authorization: Bearer <access>`, and the refresh token to
    `POST /api/token/refresh/` for a new pair when the access token expires (after 15
    minutes by default)."""

    throttle_classes = (AuthRateThrottle,)


@extend_schema_view(
    post=extend_schema(
        summary="Refresh the access token", examples=[REFRESH_REQUEST, REFRESHED_PAIR]
    ),
)
@extend_schema(tags=["Accounts"])
class RefreshView(TokenRefreshView):
    """`POST {refresh}` answers `{access, refresh}`: refresh tokens rotate, so the one sent
    is revoked and the new one must be used next time."""

    throttle_classes = (AuthRateThrottle,)


@extend_schema(tags=["Accounts"])
class LoginOrRefreshView(TokenViewBase):
    """The original README's login path, `POST /token/refresh/`.

    Clients written against that README send `{username, password}` here and expect a token
    pair; SimpleJWT's convention sends `{refresh}` to the same path for a new access token.
    Both are honoured: a body with a refresh token and no username is a refresh, anything
    else is a login (and gets the login's field errors when it is incomplete).
    """

    throttle_classes = (AuthRateThrottle,)

    @extend_schema(
        summary="Log in or refresh (the original README's path)",
        request=PolymorphicProxySerializer(
            component_name="LoginOrRefresh",
            serializers=[LoginSerializer, RefreshSerializer],
            resource_type_field_name=None,
        ),
        responses={200: TokenPairSerializer},
        examples=[LOGIN_REQUEST, TOKEN_PAIR, REFRESH_REQUEST, REFRESHED_PAIR],
    )
    def post(self, request: Request, *args, **kwargs) -> Response:
        return super().post(request, *args, **kwargs)

    def get_serializer_class(self):
        data = self.request.data
        if isinstance(data, Mapping) and "refresh" in data and "username" not in data:
            return RefreshSerializer
        return LoginSerializer


@extend_schema(tags=["Accounts"])
class LogoutView(TokenViewBase):
    """`POST {refresh}` revokes that refresh token (and so the session it belongs to).
    Answers 205; the token can no longer be refreshed. Access tokens already issued stay
    valid until they expire (minutes)."""

    serializer_class = LogoutSerializer
    throttle_classes = (AuthRateThrottle,)

    @extend_schema(
        summary="Log out",
        request=LogoutSerializer,
        responses={205: None},
        examples=[OpenApiExample("alice's refresh token", value={"refresh": REFRESH})],
    )
    def post(self, request: Request, *args, **kwargs) -> Response:
        super().post(request, *args, **kwargs)
        return Response(status=status.HTTP_205_RESET_CONTENT)


# The browser session endpoints (users/browser_session.py): the same logins, refreshes and
# logouts as above, with the refresh token in an HttpOnly cookie instead of the body.


class SessionRequestChecks:
    """The browser session endpoints' first step: refuse a request from a page of another
    origin or with a body that is not JSON, before anything else reads it."""

    def initial(self, request: Request, *args, **kwargs) -> None:
        session_request_check(request)
        super().initial(request, *args, **kwargs)


class SessionLoginView(SessionRequestChecks, LoginView):
    """`POST {username, password}` logs a browser in: answers `{access}` and sets the
    refresh token in the HttpOnly cookie `chat_refresh`. The same checks as
    `POST /api/token/` (wrong credentials 401, the lockout, the rate limit). A session
    cookie the browser already had is revoked: the new one replaces it."""

    @extend_schema(
        summary="Log a browser in",
        request=LoginSerializer,
        responses={
            200: OpenApiResponse(SessionAccessSerializer, description="Logged in."),
            403: CROSS_ORIGIN,
        },
        parameters=[SESSION_COOKIE_SET],
        examples=[
            LOGIN_REQUEST,
            OpenApiExample("the access token", value={"access": ACCESS}, response_only=True),
        ],
    )
    def post(self, request: Request, *args, **kwargs) -> Response:
        pair = super().post(request, *args, **kwargs).data
        if previous := session_refresh_token(request):
            refresh_token_revoke(previous)
        return session_response(pair)


class SessionRefreshView(SessionRequestChecks, RefreshView):
    """`POST` (no body, or `{}`) with the session cookie: answers a new `{access}` and a new
    cookie; the cookie's refresh token rotates exactly as at `POST /api/token/refresh/`.
    Without a cookie, or with one that is expired or revoked: 401, and the cookie is
    deleted."""

    @extend_schema(
        summary="Renew a browser's session",
        request=NO_BODY_NEEDED,
        responses={
            200: OpenApiResponse(
                SessionAccessSerializer,
                description="The session goes on.",
                examples=[OpenApiExample("a new access token", value={"access": NEW_ACCESS})],
            ),
            401: SESSION_REFRESH_REFUSED,
            403: CROSS_ORIGIN,
        },
        parameters=[
            SESSION_COOKIE_SENT,
            SESSION_COOKIE_SET,
            session_cookie_deleted(401),
        ],
    )
    def post(self, request: Request, *args, **kwargs) -> Response:
        refresh = session_refresh_token(request)
        if refresh is None:
            raise SessionCookieMissing
        serializer = self.get_serializer(data={"refresh": refresh})
        try:
            serializer.is_valid(raise_exception=True)
        except TokenError as error:
            raise InvalidToken(error.args[0]) from error
        return session_response(serializer.validated_data)

    def handle_exception(self, exc: Exception) -> Response:
        response = super().handle_exception(exc)
        if response.status_code == status.HTTP_401_UNAUTHORIZED:
            # The cookie can never work again: the browser may as well drop it.
            session_cookie_set(response, None)
        return response


@extend_schema(tags=["Accounts"])
class SessionLogoutView(SessionRequestChecks, APIView):
    """`POST` (no body, or `{}`) ends the browser's session: the cookie's refresh token is
    revoked and the cookie deleted. 204, with or without a cookie (logging out twice is
    fine). Access tokens already issued stay valid until they expire (minutes).

    Example: `POST /api/session/logout/` with the cookie `chat_refresh=eyJhbGciOi...`
    answers 204 with `Set-Cookie: chat_refresh=""; ...; Max-Age=0`."""

    authentication_classes = ()
    permission_classes = ()
    throttle_classes = (AuthRateThrottle,)

    @extend_schema(
        summary="Log a browser out",
        request=NO_BODY_NEEDED,
        responses={204: None, 403: CROSS_ORIGIN},
        parameters=[SESSION_COOKIE_SENT, session_cookie_deleted(204)],
    )
    def post(self, request: Request) -> Response:
        if refresh := session_refresh_token(request):
            refresh_token_revoke(refresh)
        response = Response(status=status.HTTP_204_NO_CONTENT)
        session_cookie_set(response, None)
        return response


@extend_schema(tags=["Accounts"])
class PasswordChangeView(APIView):
    """`POST {current_password, new_password}` changes the password and answers a fresh
    token pair; every other session of the account ends."""

    throttle_classes = (AuthRateThrottle,)

    @extend_schema(
        summary="Change my password",
        request=PasswordChangeSerializer,
        responses={200: TokenPairSerializer},
        examples=[
            OpenApiExample(
                "a new password",
                value={"current_password": PASSWORD, "new_password": "battery-staple-horse"},
                request_only=True,
            ),
            OpenApiExample(
                "this client's new pair",
                value={"access": NEW_ACCESS, "refresh": NEW_REFRESH},
                response_only=True,
            ),
        ],
    )
    def post(self, request: Request) -> Response:
        serializer = PasswordChangeSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        pair = user_password_change(
            user=request.user, new_password=serializer.validated_data["new_password"]
        )
        return Response(pair)


@extend_schema_view(
    get=extend_schema(
        summary="Show my account",
        examples=[
            OpenApiExample(
                "alice",
                value={**USER_ALICE, "date_joined": "2026-12-02T03:12:36.750747Z"},
            )
        ],
    )
)
@extend_schema(tags=["Accounts"])
class MeView(RetrieveAPIView):
    """The requester's own account. `DELETE {current_password}` deletes it."""

    serializer_class = MeSerializer
    request_body_on_delete = True  # for the schema (chat_project/schema.py)

    def get_object(self):
        return self.request.user

    def get_throttles(self):
        # DELETE checks the password: it is throttled like the other password checks.
        if self.request.method == "DELETE":
            return [AuthRateThrottle()]
        return super().get_throttles()

    @extend_schema(
        summary="Delete my account",
        description="Deletes the requester's account, its password checked again: 204. The "
        "people it talked to keep their conversations (its name becomes `deleted-<id>`); "
        "every token of the account is revoked and its sockets close.",
        request=AccountDeleteSerializer,
        responses={204: None, 400: validation_error("Wrong or missing password."), 429: THROTTLED},
        examples=[OpenApiExample("the password", value={"current_password": PASSWORD})],
    )
    def delete(self, request: Request) -> Response:
        serializer = AccountDeleteSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        user_delete(user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema_view(
    list=extend_schema(
        summary="Find users",
        description="The user directory, by username; paged with `limit` and `offset`.",
        examples=[
            OpenApiExample(
                "second page",
                summary="?limit=1&offset=1: the second of three users",
                value=USER_BOB,
            )
        ],
        parameters=[
            OpenApiParameter(
                "search",
                str,
                description="Part of a username (prefix matches come first); at most 200 "
                "characters.",
            )
        ],
        responses={200: UserSerializer(many=True), 400: validation_error("Invalid search.")},
    ),
    retrieve=extend_schema(
        summary="Show a user",
        description="One person of the user directory.",
        examples=[OpenApiExample("bob", value=USER_BOB)],
    ),
)
@extend_schema(tags=["Users"])
class UserViewSet(viewsets.ReadOnlyModelViewSet):
    """The user directory: find the id of the person to start a thread with."""

    serializer_class = UserSerializer
    lookup_value_regex = ID_PATTERN

    def get_queryset(self):
        if self.action != "list":
            return user_directory()
        query = SearchQuerySerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        return user_directory(search=query.validated_data.get("search", ""))


@extend_schema_view(
    list=extend_schema(
        summary="List the users I blocked",
        description="The users the requester has blocked, newest first; paged with `limit` "
        "and `offset`.",
        examples=[
            OpenApiExample(
                "second page", summary="?limit=1&offset=1: the second of three blocks", value=BLOCK
            )
        ],
    )
)
@extend_schema(tags=["Blocks"])
class BlockViewSet(
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """The users the requester has blocked. `DELETE /api/user/blocks/<user id>/` unblocks."""

    serializer_class = BlockSerializer
    lookup_field = "blocked_id"
    lookup_url_kwarg = "user_id"
    lookup_value_regex = ID_PATTERN

    def get_queryset(self):
        return blocks_made_by(self.request.user)

    @extend_schema(
        summary="Block a user",
        description="The blocked user can then neither start a thread with the requester "
        "nor post, react or upload in their thread (403); the requester still can. 201, or "
        "200 with the existing block.",
        request=BlockCreateSerializer,
        responses={201: BlockSerializer, 200: BlockSerializer},
        examples=[
            OpenApiExample("block carol", value={"user": 3}, request_only=True),
            OpenApiExample("carol is blocked", value=BLOCK, response_only=True),
        ],
    )
    def create(self, request: Request) -> Response:
        serializer = BlockCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        block, created = block_create(
            blocker=request.user, blocked=serializer.validated_data["user"]
        )
        return Response(
            BlockSerializer(block).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )

    @extend_schema(
        summary="Unblock a user",
        description="Example: `DELETE /api/user/blocks/3/` unblocks the user 3 and answers "
        "204; 404 if they were not blocked.",
        responses={204: None},
    )
    def destroy(self, request: Request, user_id: str) -> Response:
        if not block_delete(blocker=request.user, blocked_id=int(user_id)):
            raise NotBlocked  # nothing to undo
        return Response(status=status.HTTP_204_NO_CONTENT)
