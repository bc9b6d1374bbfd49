"""Access tokens are decoded once per process (users.authentication.VerifiedTokens), and a
token served from that cache passes every per-request check an undecoded one does:
expiry, the token's own verification, the account's state."""

import time
from datetime import timedelta
from unittest import mock

import pytest
from rest_framework_simplejwt.backends import TokenBackend
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from users.authentication import JWTAuthentication, VerifiedTokens, verified_tokens

pytestmark = pytest.mark.django_db

ME = "/api/user/me/"


@pytest.fixture(autouse=True)
def _empty_cache():
    verified_tokens.clear()
    yield
    verified_tokens.clear()


def bearer(token) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def decodings():
    return mock.patch.object(TokenBackend, "decode", autospec=True, side_effect=TokenBackend.decode)


def test_a_token_is_decoded_once(anon_client, alice):
    token = str(AccessToken.for_user(alice))

    with decodings() as decode:
        responses = [anon_client.get(ME, **bearer(token)) for _ in range(3)]

    assert [response.status_code for response in responses] == [200, 200, 200]
    assert decode.call_count == 1


def test_a_cached_token_is_the_token_decoding_gives(alice):
    raw = str(AccessToken.for_user(alice)).encode()
    authentication = JWTAuthentication()

    decoded = authentication.get_validated_token(raw)
    cached = authentication.get_validated_token(raw)

    assert cached is not decoded
    assert type(cached) is type(decoded) is AccessToken
    assert cached.token == decoded.token == raw
    assert cached.payload == decoded.payload
    assert cached.payload is not decoded.payload
    assert cached.current_time >= decoded.current_time


def test_an_expired_token_is_refused_as_without_the_cache(anon_client, alice):
    token = AccessToken.for_user(alice)
    token.set_exp(lifetime=timedelta(seconds=2))
    assert anon_client.get(ME, **bearer(token)).status_code == 200  # now cached

    time.sleep(max(0.0, token["exp"] - time.time()) + 0.05)
    refused = anon_client.get(ME, **bearer(token))
    verified_tokens.clear()
    uncached = anon_client.get(ME, **bearer(token))

    assert refused.status_code == uncached.status_code == 401
    assert refused.content == uncached.content
    assert b"Token is expired" in refused.content


def test_a_token_the_cache_holds_still_expires_by_the_clock(alice):
    raw = str(AccessToken.for_user(alice)).encode()
    authentication = JWTAuthentication()
    token = authentication.get_validated_token(raw)
    later = token.current_time + timedelta(minutes=16)  # access tokens last 15

    with (
        mock.patch("users.authentication.aware_utcnow", return_value=later),
        mock.patch("rest_framework_simplejwt.tokens.aware_utcnow", return_value=later),
        mock.patch("jwt.api_jwt.datetime") as clock,
    ):
        clock.now.return_value = later
        with pytest.raises(Exception, match="Given token not valid"):
            authentication.get_validated_token(raw)
    assert verified_tokens.get(raw) is None


def test_the_account_is_checked_on_every_request(anon_client, alice):
    token = str(AccessToken.for_user(alice))
    assert anon_client.get(ME, **bearer(token)).status_code == 200

    alice.set_password("another-password-1")
    alice.save()
    changed = anon_client.get(ME, **bearer(token))
    alice.is_active = False
    alice.save()
    inactive = anon_client.get(ME, **bearer(token))

    assert changed.status_code == inactive.status_code == 401
    assert changed.json()["code"] == "password_changed"


def test_an_inactive_account_is_refused_with_a_cached_token(anon_client, alice):
    token = str(AccessToken.for_user(alice))
    assert anon_client.get(ME, **bearer(token)).status_code == 200

    alice.is_active = False
    alice.save()

    assert anon_client.get(ME, **bearer(token)).json()["code"] == "user_inactive"


def test_tokens_that_fail_are_never_cached(anon_client, alice):
    token = str(AccessToken.for_user(alice))
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    refresh = str(RefreshToken.for_user(alice))

    for raw in (forged, refresh, "not-a-token"):
        assert anon_client.get(ME, **bearer(raw)).status_code == 401
        assert verified_tokens.get(raw.encode()) is None


def test_the_cache_is_bounded(alice):
    cache = VerifiedTokens(size=3)
    tokens = [AccessToken.for_user(alice) for _ in range(5)]

    for token in tokens:
        cache.add(str(token).encode(), token)

    assert len(cache.entries) == 3
    assert [cache.get(str(token).encode()) is not None for token in tokens] == [
        False,
        False,
        True,
        True,
        True,
    ]
