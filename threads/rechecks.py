"""The open sockets' periodic rechecks of their accounts, batched per server process.

Every WEBSOCKET_RECHECK_SECONDS each socket (threads/consumers.py) learns whether its
account still has access (it exists, is active, and its password has not changed since
the socket's token was issued), and where the account's change log stands, so that a
change whose event the channel layer dropped is sent late, never lost. The sockets of one
process whose rechecks fall due within the same slot (a SLOTS-th of the interval) are
rechecked together, in one trip to the database: a trip per socket cost an idle process
with a thousand sockets more CPU than everything else they need (docs/performance.md,
"The sockets' rechecks"). A socket is rechecked at most one slot early, and never later than the
interval after it connected or was last rechecked (on an event loop that keeps up). A
database that does not answer skips a round, with one log line per burst; it never
closes a socket.
"""

import asyncio
import contextvars
import logging
import random
import time
import weakref

from channels.db import database_sync_to_async
from django.conf import settings
from django.db import Error as DatabaseError
from rest_framework_simplejwt.exceptions import AuthenticationFailed

from chat_project.logs import FailureLog
from threads.selectors import accounts_with_newest_change
from users.authentication import check_token_user

# Rounds per interval, at most: the slots the sockets' recheck times fall into.
SLOTS = 20
# Accounts per query: an IN list of this many ids stays within every database's limits.
ACCOUNTS_PER_QUERY = 500

logger = logging.getLogger(__name__)
skipped_rechecks = FailureLog(logger, "Database unreachable", "account rechecks skipped")


def accounts_recheck(checks: list[tuple[int, object]]) -> list[int | None]:
    """For each (user id, token) of `checks`, in order: None if the account the token was
    issued to is gone or fails the token checks (`check_token_user`), else the cursor of
    its newest change."""
    user_ids = list(dict.fromkeys(user_id for user_id, _ in checks))
    accounts = {}
    for start in range(0, len(user_ids), ACCOUNTS_PER_QUERY):
        accounts.update(accounts_with_newest_change(user_ids[start : start + ACCOUNTS_PER_QUERY]))
    return [_newest_change_if_valid(accounts.get(user_id), token) for user_id, token in checks]


def _newest_change_if_valid(account, token) -> int | None:
    if account is None:
        return None
    try:
        check_token_user(account, token)
    except AuthenticationFailed:
        return None
    return account.newest_change


class Rechecks:
    """The sockets of one event loop (one server process) and when each is rechecked
    next. A socket has `user`, `token` and `rechecked(newest)`, which is told the
    outcome: None, or the cursor of the account's newest change."""

    def __init__(self) -> None:
        self.due: dict = {}  # socket: time.monotonic() of its next recheck
        self.runner: asyncio.Task | None = None
        self.defect_logged_at: float | None = None

    def watch(self, socket) -> None:
        # The first recheck comes after a random part of the interval: sockets that
        # reconnect together (after a restart) spread their rechecks instead of querying
        # in step. A slot short of the whole, since it may come a slot late.
        interval = settings.WEBSOCKET_RECHECK_SECONDS
        first = random.uniform(0, interval - interval / SLOTS)  # noqa: S311
        self.due[socket] = time.monotonic() + first
        if self.runner is None:
            # In a context of its own: not that of the socket that happened to start it.
            self.runner = asyncio.get_running_loop().create_task(
                self.run(), context=contextvars.Context()
            )

    def forget(self, socket) -> None:
        self.due.pop(socket, None)
        if not self.due and self.runner is not None:
            self.runner.cancel()  # nothing left to recheck: no task outlives the sockets
            self.runner = None

    async def run(self) -> None:
        while self.due:
            interval = settings.WEBSOCKET_RECHECK_SECONDS
            slot = interval / SLOTS
            now = time.monotonic()
            first = min(self.due.values())
            if first > now:
                # At most a slot: a socket that connects meanwhile may be due sooner.
                await asyncio.sleep(min(first - now, slot))
                continue
            batch = [socket for socket, due in self.due.items() if due < now + slot]
            # The whole batch is due again together, at one interval from now: sockets
            # that share a round keep sharing it.
            for socket in batch:
                self.due[socket] = now + interval
            try:
                await self.recheck(batch)
            except Exception:
                # A defect, not an outage: say so, with its traceback, once per interval
                # at most, and keep rechecking.
                if self.defect_logged_at is None or now - self.defect_logged_at >= interval:
                    self.defect_logged_at = now
                    logger.exception("Account rechecks failed")

    async def recheck(self, batch: list) -> None:
        checks = [(socket.user.pk, socket.token) for socket in batch]
        try:
            outcomes = await database_sync_to_async(accounts_recheck)(checks)
        except DatabaseError as error:
            skipped_rechecks.failed(error, len(batch))
            return
        for socket, newest in zip(batch, outcomes, strict=True):
            if socket in self.due:  # not closed meanwhile
                socket.rechecked(newest)


_rechecks_by_loop: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _rechecks() -> Rechecks:
    loop = asyncio.get_running_loop()
    if loop not in _rechecks_by_loop:
        _rechecks_by_loop[loop] = Rechecks()
    return _rechecks_by_loop[loop]


def watch(socket) -> None:
    """Recheck `socket`'s account every WEBSOCKET_RECHECK_SECONDS until `forget`."""
    _rechecks().watch(socket)


def forget(socket) -> None:
    _rechecks().forget(socket)
