"""Writes. One keyword-only, atomic function per change, so every path that changes
threads (REST, the admin, the WebSocket, anything later) behaves the same.

The denormalised read state (a thread's `last_message` and `message_count`, each
participant's `updated` and `unread_count`, each person's thread count) changes in the
same transaction as the rows it describes, with relative updates (`F() + 1`) that stay
exact when writers run concurrently. Every writer that moves a counter or deletes messages
first takes the thread's row lock (`counters.lock_thread`), so writers to one thread take
turns instead of deadlocking on rows they lock in different orders.

Each service records its change in the participants' change logs, in its transaction,
and the entries go to their live connections once it commits (`threads.events`). A rule
that refuses a change raises one of `threads.errors`.

- `threads`: a thread's life (start, delete, an account's threads going with it).
- `messages`: posting, editing, deleting, a moderator's purge.
- `reads`: marking read.
- `attachments`: files uploaded into a thread, claimed by messages, pruned unused,
  purged by a moderator.
- `reactions`: adding and removing a person's emoji on a message.
- `changes`: the change logs' pruning.
- `counters`: the locks every writer takes, and the repair of the counters.
"""

from threads.services.attachments import (
    attachment_upload,
    attachments_prune,
    attachments_purge,
    orphan_files_remove,
    unused_attachments_delete_of,
)
from threads.services.changes import changes_prune
from threads.services.counters import thread_counters_rebuild
from threads.services.messages import (
    message_delete,
    message_edit,
    message_purge,
    message_send,
    messages_purge,
)
from threads.services.reactions import reaction_add, reaction_remove
from threads.services.reads import thread_mark_read
from threads.services.threads import (
    thread_delete,
    thread_get_or_create,
    threads_delete,
    threads_delete_of,
)

__all__ = [
    "attachment_upload",
    "attachments_prune",
    "attachments_purge",
    "changes_prune",
    "message_delete",
    "message_edit",
    "message_purge",
    "message_send",
    "messages_purge",
    "orphan_files_remove",
    "reaction_add",
    "reaction_remove",
    "thread_counters_rebuild",
    "thread_delete",
    "thread_get_or_create",
    "thread_mark_read",
    "threads_delete",
    "threads_delete_of",
    "unused_attachments_delete_of",
]
