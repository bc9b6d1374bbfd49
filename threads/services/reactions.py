"""Reactions: a participant adds their emoji to a message, or takes it back.

Every writer of reactions takes the thread's row lock first (as posts, deletes and
mark-reads do), then the message's: the reactions it reads cannot change before it
commits, so the limit of MAX_DISTINCT_REACTIONS different emoji holds however many
requests arrive at once, a message being deleted (which drops its reactions) or a thread
being deleted waits for the reaction or the reaction for it, and a message's edit and its
reactions are announced in the order they happened.
"""

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from threads import events, queries
from threads.emojis import canonical_emoji
from threads.errors import (
    BlockedInThread,
    MessageDeletedNoReactions,
    MessageNotFound,
    ReactionNotFound,
    ThreadNotFound,
    TooManyReactions,
)
from threads.models import MAX_DISTINCT_REACTIONS, Reaction, Thread
from threads.selectors import reaction_row


def _lock_target(
    *, thread_id: int, message_id: int, user: AbstractBaseUser, emoji: str, adding: bool
) -> tuple[list[int], queries.ReactionTarget]:
    """The thread's participants and the message's state, both locked, for a change of
    `user`'s reaction; ThreadNotFound or MessageNotFound when either is not theirs (or is
    gone), BlockedInThread when `adding` and the other participant blocks them."""
    if canonical_emoji(emoji) != emoji:
        raise ValueError(f"Not an emoji as stored: {emoji!r} (see threads.emojis).")
    target = queries.write_target(user_id=user.pk, thread_id=thread_id, lock=True)
    if target is None:
        raise ThreadNotFound
    # Reacting is writing in the thread: someone the other participant blocks cannot, as
    # they cannot post; taking a reaction back stays allowed, as deleting a message does.
    if adding and target.blocked:
        raise BlockedInThread
    # Read after the thread's lock is held, in a statement of its own, so it sees what
    # the writers that held the lock before committed.
    message = queries.reaction_target(thread_id=thread_id, message_id=message_id)
    if message is None:
        raise MessageNotFound
    return list(Thread.participant_ids_in(target.pair_key)), message


def _announce(
    kind: str,
    *,
    participants: list[int],
    thread_id: int,
    message_id: int,
    emoji: str,
    user: AbstractBaseUser,
    records: list[dict],
) -> None:
    # Each participant's copy says whether they are among those who reacted (`me`).
    events.record(
        lambda reader_id: {
            "type": kind,
            **reaction_row(
                thread_id=thread_id,
                message_id=message_id,
                emoji=emoji,
                user=user,
                records=records,
                reader_id=reader_id,
            ),
        },
        to=participants,
    )


@transaction.atomic
def reaction_add(
    *, thread_id: int, message_id: int, user: AbstractBaseUser, emoji: str
) -> tuple[dict, bool]:
    """`user` reacts with `emoji` (one emoji, as `threads.emojis.canonical_emoji` spells
    it) to message `message_id` of their thread `thread_id`. Returns the reaction as the
    API answers it (with the message's reactions as `user` sees them) and whether it was
    added: reacting again with the same emoji changes nothing and announces nothing.

    ThreadNotFound / MessageNotFound unless the message is in one of `user`'s threads;
    BlockedInThread when the other participant blocks `user`; MessageDeletedNoReactions
    for a deleted message; TooManyReactions when the message already carries
    MAX_DISTINCT_REACTIONS other emoji."""
    participants, message = _lock_target(
        thread_id=thread_id, message_id=message_id, user=user, emoji=emoji, adding=True
    )
    if message.deleted:
        raise MessageDeletedNoReactions
    records = message.reactions
    mine = {"emoji": emoji, "user_id": user.pk}
    added = False
    if mine not in records:
        if len({record["emoji"] for record in records} | {emoji}) > MAX_DISTINCT_REACTIONS:
            raise TooManyReactions
        added = queries.reaction_insert(
            message_id=message_id, user_id=user.pk, emoji=emoji, now=timezone.now()
        )
        if added:
            records = [*records, mine]
            _announce(
                events.REACTION_ADDED,
                participants=participants,
                thread_id=thread_id,
                message_id=message_id,
                emoji=emoji,
                user=user,
                records=records,
            )
        else:  # stored meanwhile by a writer that skipped the lock: there, as asked
            records = queries.reaction_target(thread_id=thread_id, message_id=message_id).reactions
    row = reaction_row(
        thread_id=thread_id,
        message_id=message_id,
        emoji=emoji,
        user=user,
        records=records,
        reader_id=user.pk,
    )
    return row, added


@transaction.atomic
def reaction_remove(*, thread_id: int, message_id: int, user: AbstractBaseUser, emoji: str) -> None:
    """`user` takes back their `emoji` reaction on message `message_id` of their thread
    `thread_id`. ReactionNotFound if they had none (ThreadNotFound / MessageNotFound as
    for `reaction_add`). Allowed to someone the other participant blocks."""
    participants, message = _lock_target(
        thread_id=thread_id, message_id=message_id, user=user, emoji=emoji, adding=False
    )
    mine = {"emoji": emoji, "user_id": user.pk}
    if mine not in message.reactions:
        raise ReactionNotFound
    Reaction.objects.filter(message_id=message_id, user_id=user.pk, emoji=emoji).delete()
    _announce(
        events.REACTION_REMOVED,
        participants=participants,
        thread_id=thread_id,
        message_id=message_id,
        emoji=emoji,
        user=user,
        records=[record for record in message.reactions if record != mine],
    )
