"""An account changed by two requests at once: the second acts on what the first left, not
on the account as it was when it authenticated."""

import pytest
from django.contrib.auth import get_user_model

from conftest import WORKERS, client_for, run_concurrently
from users.tests.factories import DEFAULT_PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_account_deleted_twice_at_once_is_deleted_once(alice):
    client = client_for(alice)

    responses = run_concurrently(
        [lambda: client.delete("/api/user/me/", {"current_password": DEFAULT_PASSWORD})] * WORKERS
    )

    statuses = sorted(r.status_code for r in responses)
    # The others checked the password before it went (400) or found the token dead (401).
    assert statuses[0] == 204
    assert set(statuses[1:]) <= {400, 401}


def test_two_password_changes_at_once_one_wins_and_its_tokens_work(alice):
    client = client_for(alice)

    responses = run_concurrently(
        [
            lambda n=n: client.post(
                "/api/user/password/",
                {"current_password": DEFAULT_PASSWORD, "new_password": f"new-passphrase-{n}-xyz"},
            )
            for n in range(WORKERS)
        ]
    )

    statuses = sorted(r.status_code for r in responses)
    assert statuses[0] == 200
    assert set(statuses[1:]) <= {400, 401}
    (won,) = [r for r in responses if r.status_code == 200]
    winner = client_for(None)
    winner.credentials(HTTP_AUTHORIZATION=f"Bearer {won.data['access']}")
    assert winner.get("/api/user/me/").status_code == 200


def test_a_password_change_racing_the_deletion_does_not_undo_it(alice):
    """Whichever commits first wins; the other finds the password it checked gone."""
    client = client_for(alice)
    body = {"current_password": DEFAULT_PASSWORD}

    changed, deleted = run_concurrently(
        [
            lambda: client.post(
                "/api/user/password/", {**body, "new_password": "a-new-passphrase-xyz"}
            ),
            lambda: client.delete("/api/user/me/", body),
        ]
    )

    alice = get_user_model().objects.get(pk=alice.pk)
    if deleted.status_code == 204:
        assert changed.status_code in (400, 401)
        assert not alice.is_active
        assert not alice.has_usable_password()
    else:
        assert (changed.status_code, deleted.status_code) in ((200, 400), (200, 401))
        assert alice.is_active
        assert alice.check_password("a-new-passphrase-xyz")
