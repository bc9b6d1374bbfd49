"""drf-spectacular: describe our JWTAuthentication (a SimpleJWT subclass) the way its
built-in extension describes SimpleJWT's own: the HTTP bearer scheme `jwtAuth`."""

from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme


class ChatJWTScheme(SimpleJWTScheme):
    target_class = "users.authentication.JWTAuthentication"
