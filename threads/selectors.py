"""Reads. One function per read shape, scoped to the requester; each builds the JSON-ready
rows the API returns from the records `threads.queries` reads, so no serializer ever
queries per row (a page's reactions are read in one query for the whole page). The DRF
serializers in `serializers.py` describe the same shapes for validation and the OpenAPI
schema, and MessageSerializer renders through `message_row`.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.db.models import OuterRef, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce

from threads import events, files, queries
from threads.errors import AttachmentNotFound, MessageNotFound, ResyncRequired, ThreadNotFound
from threads.models import Attachment, Change, Inbox, Message, Participant, Thread


def api_datetime(value: datetime | None) -> str | None:
    """A datetime as DRF renders it: ISO 8601, UTC as `Z`. Takes a datetime column as the
    driver hands it over: aware on PostgreSQL, naive UTC on SQLite (made aware first, it
    cost a page's row building more than the rest of it)."""
    if value is None:
        return None
    text = value.isoformat()
    if value.tzinfo is None:
        return text + "Z"
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def attachment_row(record: dict) -> dict:
    """An attachment as every endpoint and event returns it, from its record
    (`threads.queries.ATTACHMENT_COLUMNS`): `url` and `thumbnail_url` are signed links
    (`threads.files.link`), the thumbnail's only for images."""
    attachment_id = record["id"]
    return {
        "id": attachment_id,
        "name": record["name"],
        "size": record["size"],
        "content_type": record["content_type"],
        "width": record["width"],
        "height": record["height"],
        "url": files.link(attachment_id),
        "thumbnail_url": (
            files.link(attachment_id, files.THUMBNAIL) if record["thumbnail"] else None
        ),
    }


def attachment_row_of(attachment: Attachment) -> dict:
    """`attachment_row` of a model instance."""
    return attachment_row({name: getattr(attachment, name) for name in queries.ATTACHMENT_COLUMNS})


def message_row(record: dict, attachments: Iterable[dict] = (), *, reactions: list[dict]) -> dict:
    """A message as every endpoint and event returns it, from its record
    (`threads.queries.MESSAGE_COLUMNS`), its attachments' records and its `reactions`
    (`reaction_summary`)."""
    return {
        "id": record["id"],
        "thread": record["thread_id"],
        "sender": record["sender_id"],
        "sender_detail": {"id": record["sender_id"], "username": record["sender_username"]},
        "text": record["text"],
        "created": api_datetime(record["created"]),
        "is_read": record["is_read"],
        "edited": api_datetime(record["edited"]),
        "deleted": api_datetime(record["deleted"]),
        "attachments": [attachment_row(attachment) for attachment in attachments],
        "reactions": reactions,
    }


def message_rows(records: list[dict], *, reader_id: int) -> list[dict]:
    """`message_row` of each record, with the attachments of the whole page read in one
    query, and only when some message on it has any, and the reactions of the whole page
    as user `reader_id` sees them in one query (none for no records)."""
    with_files = [record["id"] for record in records if record["attachment_count"]]
    attachments = queries.attachments_of(with_files)
    reactions = _reactions_by_message([record["id"] for record in records])
    return [
        message_row(
            record,
            attachments.get(record["id"], ()),
            reactions=reaction_summary(reactions.get(record["id"], ()), reader_id=reader_id),
        )
        for record in records
    ]


def message_row_of(
    message: Message, attachments: Iterable[dict] | None = None, *, reader_id: int
) -> dict:
    """`message_row` of a model instance (its sender loaded). Its attachments' records are
    read unless given (a service that has just written them); its reactions, as user
    `reader_id` sees them, are those it carries (`reaction_records_of`)."""
    record = {name: getattr(message, name, None) for name in queries.MESSAGE_COLUMNS}
    record["sender_username"] = message.sender.get_username()
    if attachments is None:
        attachments = ()
        if message.attachment_count:
            attachments = queries.attachments_of([message.pk]).get(message.pk, ())
    reactions = reaction_summary(reaction_records_of(message), reader_id=reader_id)
    return message_row(record, attachments, reactions=reactions)


# --- Reactions -------------------------------------------------------------------------


def reaction_summary(records: Iterable[dict], *, reader_id: int) -> list[dict]:
    """A message's reactions as the API shows them to user `reader_id`, from its reaction
    records (`emoji`, `user_id`) in order of first use: one entry per emoji, in that
    order, with how many people reacted with it and whether the reader is one of them."""
    summary: dict[str, dict] = {}
    for record in records:
        entry = summary.get(record["emoji"])
        if entry is None:
            entry = summary[record["emoji"]] = {"emoji": record["emoji"], "count": 0, "me": False}
        entry["count"] += 1
        if record["user_id"] == reader_id:
            entry["me"] = True
    return list(summary.values())


def reaction_records_of(message: Message, *, fresh: bool = False) -> list[dict]:
    """The reaction records of `message`: those it carries as `reaction_records` (set by
    whoever read or changed them with it, the services), else (or if `fresh`) read now
    and kept on it."""
    records = None if fresh else getattr(message, "reaction_records", None)
    if records is None:
        records = _reactions_by_message([message.pk]).get(message.pk, [])
        message.reaction_records = records
    return records


def _reactions_by_message(message_ids: list[int]) -> dict[int, list[dict]]:
    if not message_ids:
        return {}
    grouped: dict[int, list[dict]] = {}
    for record in queries.message_reactions(message_ids=message_ids):
        grouped.setdefault(record["message_id"], []).append(record)
    return grouped


def reaction_row(
    *,
    thread_id: int,
    message_id: int,
    emoji: str,
    user: AbstractBaseUser,
    records: list[dict],
    reader_id: int,
) -> dict:
    """A reaction as the API answers it and its events carry it: whose, on which message,
    and the message's reactions afterwards as user `reader_id` sees them."""
    return {
        "thread": thread_id,
        "message": message_id,
        "emoji": emoji,
        "user": user.pk,
        "user_detail": {"id": user.pk, "username": user.get_username()},
        "reactions": reaction_summary(records, reader_id=reader_id),
    }


def message_total() -> int:
    """How many messages there are, deleted ones included: the sum of the threads' kept
    counts (exact, as the services keep them), which reads the threads instead of
    counting every message (the admin's message list)."""
    return Thread.objects.aggregate(total=Sum("message_count", default=0))["total"]


def thread_message_count(thread_id: int) -> int:
    """How many messages thread `thread_id` has, deleted ones included (0 if it is gone),
    from its kept count."""
    counts = Thread.objects.filter(pk=thread_id).values_list("message_count", flat=True)
    return next(iter(counts), 0)


def threads_of(user: AbstractBaseUser) -> QuerySet[Thread]:
    """The threads `user` takes part in, bare, as a queryset (the viewset's `get_queryset`,
    for DRF and the schema). Requests look threads up with `thread_for`, scoped the same
    way: any other thread is simply absent, so a stranger gets 404."""
    return Thread.objects.filter(memberships__user=user)


def thread_for(user: AbstractBaseUser, thread_id: int) -> Thread:
    """The thread `thread_id` if `user` takes part in it (ThreadNotFound otherwise): the
    look-up every endpoint under /api/threads/<id>/ starts with. The thread carries
    `reader_unread_count`, how many of its messages wait for `user`."""
    thread = queries.thread_for(user_id=user.pk, thread_id=thread_id)
    if thread is None:
        raise ThreadNotFound
    return thread


def typing_recipient_for(user: AbstractBaseUser, thread_id: int) -> int:
    """Who hears that `user` is typing in `thread_id`: the other participant's id.
    ThreadNotFound when `user` does not take part in it or may not write in it (the other
    has blocked them), just as for posting."""
    target = queries.write_target(user_id=user.pk, thread_id=thread_id)
    if target is None or target.blocked or target.other_id is None:
        raise ThreadNotFound(thread=thread_id)
    return target.other_id


# --- The thread list -------------------------------------------------------------------


def thread_page_for(
    user: AbstractBaseUser, *, limit: int, offset: int = 0, thread_id: int | None = None
) -> list[dict]:
    """A page of `user`'s threads, most recent activity first, as the API's rows, in one
    query however many threads the user has. With `thread_id`, just that thread (an empty
    list if it is not the user's)."""
    records = queries.thread_page(user_id=user.pk, limit=limit, offset=offset, thread_id=thread_id)
    return _thread_rows(user, records)


def _thread_rows(user: AbstractBaseUser, records: list[dict]) -> list[dict]:
    me = {"id": user.pk, "username": user.get_username()}
    last_messages = [record["last_message"] for record in records if record["last_message"]]
    last_rows = {row["id"]: row for row in message_rows(last_messages, reader_id=user.pk)}
    page = []
    for record in records:
        other_id = record["other_id"]
        if other_id is None:
            people = [me]
        else:  # lower id first
            other = {"id": other_id, "username": record["other_username"]}
            people = [me, other] if me["id"] < other_id else [other, me]
        last_message = record["last_message"]
        page.append(
            {
                "id": record["id"],
                "participants": [person["id"] for person in people],
                "participants_detail": people,
                "created": api_datetime(record["created"]),
                "updated": api_datetime(record["updated"]),
                "last_message": None if last_message is None else last_rows[last_message["id"]],
                "unread_count": record["unread_count"],
            }
        )
    return page


def thread_list_for(user: AbstractBaseUser, *, limit: int, offset: int) -> tuple[list[dict], int]:
    """A page of `user`'s threads (`thread_page_for`) and how many they have in all, read
    with the page (a second query only when the page is empty)."""
    records = queries.thread_page(user_id=user.pk, limit=limit, offset=offset)
    total = records[0]["thread_count"] if records else queries.thread_count(user_id=user.pk)
    return _thread_rows(user, records), total


def thread_row_for(user: AbstractBaseUser, thread_id: int) -> dict:
    """One thread as the list shows it to `user` (ThreadNotFound if it is not theirs)."""
    page = thread_page_for(user, limit=1, thread_id=thread_id)
    if not page:
        raise ThreadNotFound
    return page[0]


# --- Unread counts ---------------------------------------------------------------------


def unread_total_for(user: AbstractBaseUser) -> int:
    """How many messages wait for `user` across all their threads."""
    total = Participant.objects.filter(user=user).aggregate(total=Sum("unread_count"))["total"]
    return total or 0


# --- Messages --------------------------------------------------------------------------


class ThreadMessages:
    """One thread's messages (optionally only those matching `search`), newest first, as
    `reader` sees them. The caller has scoped the thread to the reader."""

    def __init__(self, thread: Thread, *, reader: AbstractBaseUser, search: str = "") -> None:
        self.thread = thread
        self.reader = reader
        self.pattern = queries.text_pattern(search) if search else None

    def records(
        self,
        *,
        limit: int,
        newest_first: bool = True,
        id_bound: tuple[str, int] | None = None,
        more: tuple[str, int] | None = None,
    ) -> tuple[list[dict], bool | None]:
        """Message records (see `queries.thread_messages`), with the `more` flag if asked."""
        return queries.thread_messages(
            thread_id=self.thread.pk,
            pattern=self.pattern,
            limit=limit,
            newest_first=newest_first,
            id_bound=id_bound,
            more=more,
        )

    def rows(self, records: list[dict]) -> list[dict]:
        """The API rows of a page of records, with their reactions (one query)."""
        return message_rows(records, reader_id=self.reader.pk)

    def exists(self, operator: str, message_id: int) -> bool:
        return queries.thread_messages_exist(
            thread_id=self.thread.pk, pattern=self.pattern, operator=operator, message_id=message_id
        )

    def count(self) -> int:
        """The number of messages: the thread's exact counter, or a count when searching."""
        if self.pattern is None:
            return self.thread.message_count
        return queries.thread_messages_count(thread_id=self.thread.pk, pattern=self.pattern)

    def page(self, *, limit: int, offset: int) -> list[dict]:
        """A limit/offset page of API rows, newest first."""
        records, _ = queries.thread_messages(
            thread_id=self.thread.pk, pattern=self.pattern, limit=limit, offset=offset
        )
        return self.rows(records)


class UserMessages:
    """Messages across all of `user`'s threads, newest first (optionally only those whose
    text contains `search`), with the same text matching as a thread's search."""

    def __init__(self, user: AbstractBaseUser, *, search: str = "") -> None:
        self.user = user
        self.pattern = queries.text_pattern(search) if search else None
        self.total: int | None = None  # once counted

    def count(self) -> int:
        self.total = queries.user_messages_count(user_id=self.user.pk, pattern=self.pattern)
        return self.total

    def page(self, *, limit: int, offset: int) -> list[dict]:
        records = queries.user_messages(
            user_id=self.user.pk, pattern=self.pattern, limit=limit, offset=offset
        )
        return message_rows(records, reader_id=self.user.pk)

    def __getitem__(self, page: slice) -> list[dict]:
        # Sliced like a queryset, so DRF's paginator pages it as it pages querysets. DRF
        # asks for the page at offset == count too: nothing there, and no need to ask (a
        # deep page costs the most to read).
        if self.total is not None and page.start >= self.total:
            return []
        return self.page(limit=page.stop - page.start, offset=page.start)


def message_in(thread: Thread, message_id: int) -> Message:
    """Message `message_id` of `thread` (a thread already scoped to the requester), its
    sender loaded and its thread the one given; MessageNotFound if it is not there."""
    try:
        return thread.messages.select_related("sender").get(pk=message_id)
    except Message.DoesNotExist:
        raise MessageNotFound from None


def first_unread_id(thread: Thread, reader: AbstractBaseUser) -> int | None:
    """Id of the oldest message in `thread` that `reader` has not read yet."""
    return (
        Message.objects.waiting_for(reader, thread=thread)
        .order_by("id")
        .values_list("id", flat=True)
        .first()
    )


@dataclass(frozen=True)
class MessageWindow:
    """One page of a thread's history around a cursor, newest first."""

    results: list[dict]
    has_more_before: bool
    has_more_after: bool


def message_window(
    messages: ThreadMessages,
    *,
    before: int | None = None,
    after: int | None = None,
    around: int | None = None,
    limit: int,
) -> MessageWindow:
    """Keyset paging by message id (ids only grow, so id order is posting order).

    `before`: the `limit` newest messages older than that id. `after`: the `limit` oldest
    messages newer than it (a client catching up reads forward without gaps). `around`:
    that message and the ones just before and after it. No cursor: the newest page.
    One or two index range scans, however deep in the history the page is; whether there
    is more on the side the cursor came from rides along in the page's own query. Then one
    query for the reactions of the messages shown.
    """
    records, has_more_before, has_more_after = _window_records(
        messages, before=before, after=after, around=around, limit=limit
    )
    return MessageWindow(messages.rows(records), has_more_before, has_more_after)


def _window_records(
    messages: ThreadMessages,
    *,
    before: int | None,
    after: int | None,
    around: int | None,
    limit: int,
) -> tuple[list[dict], bool, bool]:
    if after is not None:
        records, more = messages.records(
            limit=limit + 1, newest_first=False, id_bound=(">", after), more=("<=", after)
        )
        has_more_before = more if records else messages.exists("<=", after)
        return records[:limit][::-1], has_more_before, len(records) > limit
    if around is not None:
        # Half the page on each side; near either end of the history the other side fills
        # the page, so a reader never gets a half-empty page while there is more to show.
        newer, _ = messages.records(limit=limit + 1, newest_first=False, id_bound=(">=", around))
        older, _ = messages.records(limit=limit + 1, id_bound=("<", around))
        newer_taken = min(len(newer), max(limit - limit // 2, limit - len(older)))
        older_taken = min(len(older), limit - newer_taken)
        records = newer[:newer_taken][::-1] + older[:older_taken]
        return records, len(older) > older_taken, len(newer) > newer_taken
    if before is None:
        records, _ = messages.records(limit=limit + 1)
        return records[:limit], len(records) > limit, False
    records, more = messages.records(limit=limit + 1, id_bound=("<", before), more=(">=", before))
    has_more_after = more if records else messages.exists(">=", before)
    return records[:limit], len(records) > limit, has_more_after


def message_window_for(
    messages: ThreadMessages,
    reader: AbstractBaseUser,
    *,
    before: int | None = None,
    after: int | None = None,
    around: str | None = None,
    limit: int,
) -> MessageWindow:
    """`message_window` for the API's cursors, where `around` may also be "first_unread":
    the reader's oldest unread message, or the newest page when nothing is unread."""
    if around == "first_unread":
        around = first_unread_id(messages.thread, reader)
        if around is None:
            return message_window(messages, limit=limit)
    around_id = int(around) if around is not None else None
    return message_window(messages, before=before, after=after, around=around_id, limit=limit)


# --- Attachments -----------------------------------------------------------------------


def attachment_for(user: AbstractBaseUser, attachment_id: int) -> Attachment:
    """Attachment `attachment_id` if `user` takes part in its thread and it was sent, or
    is their own upload not sent yet (AttachmentNotFound otherwise, whoever uploaded it
    and whether or not it exists)."""
    attachment = queries.attachment_for(user_id=user.pk, attachment_id=attachment_id)
    if attachment is None:
        raise AttachmentNotFound
    return attachment


def attachment_by_link(attachment_id: int) -> Attachment:
    """Attachment `attachment_id`, for a request whose signed link already vouched for it
    (`threads.files.link_is_valid`); AttachmentNotFound once it is gone."""
    attachment = Attachment.objects.filter(pk=attachment_id).first()
    if attachment is None:
        raise AttachmentNotFound
    return attachment


# --- The change log --------------------------------------------------------------------


@dataclass(frozen=True)
class Changes:
    """A page of a person's change log: `changes` oldest first, `cursor` the newest
    answered (else the `since` asked for), `has_more` whether newer ones follow."""

    changes: list[dict]
    cursor: int
    has_more: bool


def changes_for(user: AbstractBaseUser, *, since: int | None, limit: int) -> Changes:
    """The changes of `user`'s log after cursor `since`, at most `limit`, each as its event
    with its `cursor`. A message's events carry the message as it is now, as `user`
    reads it (its later edits included; as deleted once deleted; None once gone for
    good, with its thread or by a moderator), and people are named as they are now (a
    closed account is anonymised). Without `since`, none, and the cursor of their newest
    change: where a client that has just loaded everything starts. ResyncRequired if
    `since` is older than what is kept, or newer than any cursor of theirs."""
    if since is None:
        newest, _ = _change_cursors(user.pk)
        return Changes(changes=[], cursor=newest, has_more=False)
    entries = list(
        Change.objects.filter(user_id=user.pk, cursor__gt=since)
        .order_by("cursor")
        .values_list("cursor", "kind", "thread_id", "message_id", "event")[: limit + 1]
    )
    # Read after the entries: a prune that removed some of them has moved this already.
    newest, pruned = _change_cursors(user.pk)
    if since < pruned or since > newest:
        raise ResyncRequired
    page = entries[:limit]
    about = {message_id for _, kind, _, message_id, _ in page if kind in events.MESSAGE_EVENTS}
    messages = {
        row["id"]: row
        for row in message_rows(queries.messages_by_id(list(about)), reader_id=user.pk)
    }
    changes = []
    for cursor, kind, thread_id, message_id, event in page:
        if kind in events.MESSAGE_EVENTS:
            event = events.message_event(
                kind, messages.get(message_id), thread_id=thread_id, message_id=message_id
            )
        changes.append({**event, "cursor": cursor})
    _usernames_renewed(
        [change for change in changes if change["type"] not in events.MESSAGE_EVENTS]
    )
    return Changes(
        changes=changes, cursor=page[-1][0] if page else since, has_more=len(entries) > limit
    )


def accounts_with_newest_change(user_ids: Iterable[int]) -> dict[int, AbstractBaseUser]:
    """The accounts of `user_ids` that still exist, by id, each with `newest_change`, the
    cursor of its newest change (0 before the first): what a batch of sockets' periodic
    rechecks reads, in one query (threads/rechecks.py)."""
    newest = Inbox.objects.filter(pk=OuterRef("pk")).values("change_cursor")[:1]
    accounts = (
        get_user_model()
        .objects.filter(pk__in=user_ids)
        .only("is_active", "password")
        .annotate(newest_change=Coalesce(Subquery(newest), 0))
    )
    return {account.pk: account for account in accounts}


def _change_cursors(user_id: int) -> tuple[int, int]:
    """The cursor of the person's newest change, and the newest pruned one."""
    inbox = Inbox.objects.filter(pk=user_id).values_list("change_cursor", "pruned_cursor")
    return inbox.first() or (0, 0)


def _usernames_renewed(changes: list[dict]) -> None:
    """Show the people the changes name (`{id, username}`: a thread's participants, who
    reacted) as the REST API shows them now, not as they were named when the change was
    logged: a closed account is anonymised (users.services), and its old name must not
    outlive it in the logs of the people it talked to."""
    people = []
    for change in changes:
        data = change.get("data")
        if isinstance(data, dict):
            people += [data.get("sender_detail"), *(data.get("participants_detail") or [])]
            if isinstance(data.get("last_message"), dict):
                people.append(data["last_message"].get("sender_detail"))
        people.append(change.get("user_detail"))
    people = [person for person in people if isinstance(person, dict)]
    if not people:
        return
    user_model = get_user_model()
    names = dict(
        user_model.objects.filter(pk__in={person["id"] for person in people}).values_list(
            "pk", user_model.USERNAME_FIELD
        )
    )
    for person in people:
        person["username"] = names.get(person["id"], person["username"])
