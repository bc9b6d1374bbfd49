"""An account's live sockets close (4401) when its owner changes the password or deletes
the account over the API, or an administrator deactivates it, as its tokens stop
working."""

import pytest
import pytest_asyncio
from channels.layers import get_channel_layer

from threads.tests.test_realtime import call, connect, hears_nothing
from users.tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


@pytest_asyncio.fixture(autouse=True)
async def fresh_channel_layer():
    yield
    await get_channel_layer().flush()


@pytest_asyncio.fixture
async def people():
    from channels.db import database_sync_to_async

    return await database_sync_to_async(
        lambda: (UserFactory(username="alice"), UserFactory(username="bob"))
    )()


async def test_a_password_change_over_the_api_closes_the_accounts_sockets(people):
    alice, bob = people
    alices, bobs = await connect(alice), await connect(bob)

    response = await call(
        alice,
        "post",
        "/api/user/password/",
        {"current_password": DEFAULT_PASSWORD, "new_password": "a-brand-new-passphrase-7"},
    )

    assert response.status_code == 200
    assert (await alices.receive_output(timeout=1))["code"] == 4401
    assert await hears_nothing(bobs)
    await bobs.disconnect()


async def test_deleting_the_account_closes_its_sockets(people):
    alice, bob = people
    alices, bobs = await connect(alice), await connect(bob)

    response = await call(alice, "delete", "/api/user/me/", {"current_password": DEFAULT_PASSWORD})

    assert response.status_code == 204
    assert (await alices.receive_output(timeout=1))["code"] == 4401
    assert await hears_nothing(bobs)
    await bobs.disconnect()


async def test_a_wrong_password_keeps_the_sockets_open(people):
    alice, _ = people
    alices = await connect(alice)

    response = await call(alice, "delete", "/api/user/me/", {"current_password": "guess"})

    assert response.status_code == 400
    assert await hears_nothing(alices)
    await alices.disconnect()


async def test_deactivating_the_account_in_the_admin_closes_its_sockets(people):
    from channels.db import database_sync_to_async
    from django.test import Client

    alice, bob = people
    alices, bobs = await connect(alice), await connect(bob)

    def deactivate():
        client = Client()
        client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
        return client.post(
            "/admin/users/user/",
            {"action": "deactivate_accounts", "_selected_action": [alice.pk]},
        )

    response = await database_sync_to_async(deactivate)()

    assert response.status_code == 302
    assert (await alices.receive_output(timeout=1))["code"] == 4401
    assert await hears_nothing(bobs)
    await bobs.disconnect()
