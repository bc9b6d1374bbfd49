"""`manage.py seed_demo`: fill the database with realistic demo users, threads and messages.

Sized by `--users`, `--threads` and `--messages` (the total over all threads), fast enough
for a million messages: the password is hashed once for every user, users and threads are
bulk-created, and messages, which are nearly all of the rows, are written as plain parameter
tuples with `executemany` in large batches instead of through model instances.

Every run adds new users whose names no account has yet and makes threads only among them,
so it never touches existing accounts or threads and can be run again on the same database.
The demo users' e-mail addresses are at `demo.example` (a reserved domain), which tells
them apart from real accounts.
"""

import heapq
import itertools
import json
import random
import shlex
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser, OutputWrapper
from django.db import connection, transaction
from django.db.models.functions import Lower
from django.utils import timezone

from chat_project.rawsql import insert_rows
from threads.models import Message, Participant, Thread
from threads.services import thread_counters_rebuild

DEFAULT_PASSWORD = "demo-password-123"  # noqa: S105 (a documented demo password, not a secret)
EMAIL_DOMAIN = "demo.example"
# Rows per INSERT round: large enough that per-statement overhead vanishes, small enough
# that a batch of tuples stays a few megabytes.
BATCH_SIZE = 10_000
# Conversations happen over this window, ending now.
WINDOW = timedelta(weeks=8)
# How many users the summary lists with their login.
LOGINS_SHOWN = 5

# Skew. User popularity follows Zipf's law (a few users are in many threads); thread
# lengths follow a log-normal (most threads are short, a few are very long).
USER_POPULARITY_EXPONENT = 0.8
THREAD_LENGTH_SIGMA = 1.5
# People often send two or three messages in a row, so the sender changes only mostly.
SENDER_SWITCH_CHANCE = 0.65
# Share of threads whose newest messages the recipient has not opened yet.
UNREAD_THREAD_SHARE = 0.4
# Mean time between two messages of a thread; a long thread therefore spans weeks.
MEAN_MESSAGE_GAP_SECONDS = 30 * 60


def _words(text: str) -> tuple[str, ...]:
    # A paragraph of words reads better than a hundred one-word lines of a tuple literal.
    return tuple(text.split())


FIRST_NAMES = _words(
    "olivia emma amelia ava sophia isabella mia charlotte harper evelyn luna camila "
    "gianna elena aria ella nora lily zoe layla hazel chloe ivy grace maya aisha fatima "
    "leila yuki hana mei sakura ana lucia sofia valentina martina ines clara julia anna "
    "lena marta eva nina sara ingrid freya astrid priya ananya diya noor zara amara "
    "liam noah oliver elijah james william benjamin lucas henry theodore jack levi "
    "alexander mateo daniel michael mason sebastian ethan logan owen samuel jacob asher "
    "leo ezra hugo felix oscar arthur jonas elias finn emil luca marco diego pablo javier "
    "carlos mohammed omar yusuf ali hamza ibrahim arjun rohan vikram kenji hiroshi takumi "
    "wei jun min tariq kwame kofi chidi tunde sipho ivan dmitri pavel tomas mikhail"
)
LAST_NAMES = _words(
    "smith johnson williams brown jones garcia miller davis rodriguez martinez hernandez "
    "lopez gonzalez wilson anderson thomas taylor moore jackson martin lee perez thompson "
    "white harris sanchez clark ramirez lewis robinson walker young allen king wright "
    "scott torres nguyen hill flores green adams nelson baker hall rivera campbell "
    "mitchell carter roberts muller schmidt schneider fischer weber meyer wagner becker "
    "rossi russo ferrari esposito bianchi romano dubois moreau laurent simon michel "
    "kowalski nowak novak horvat kovacs silva santos oliveira pereira costa sato suzuki "
    "takahashi tanaka watanabe kim park choi chen wang zhang liu patel sharma singh khan "
    "ahmed hassan okafor mensah ivanov petrov andersson johansson hansen jensen"
)

# Messages are drawn from these: a short reaction on its own, or a sentence, sometimes
# with a greeting before it or a question after it.
REACTIONS = (
    "ok",
    "ok!",
    "sure",
    "yes",
    "yep",
    "no worries",
    "haha",
    "haha yes",
    "lol",
    "thanks!",
    "thank you so much",
    "sounds good",
    "sounds good to me",
    "perfect",
    "great, see you then",
    "on my way",
    "running 5 min late, sorry",
    "got it",
    "nice!",
    "omg",
    "really?",
    "same here",
    "good night",
    "talk later",
    "👍",
    "🙂",
    "😂",
    "🎉",
)
GREETINGS = ("hey!", "hi", "hey,", "morning!", "hello :)", "yo", "hi there,", "good evening,")
SENTENCES = (
    "did you see the game last night?",
    "I just finished the report, sending it over now.",
    "can we move our call to tomorrow?",
    "the new coffee place on the corner is actually really good.",
    "I'm still at the office, should be done around 7.",
    "let me check my calendar and get back to you.",
    "just landed, the flight was fine.",
    "do you still have the link to that article?",
    "the meeting got cancelled, so I'm free this afternoon.",
    "I think we should book the tickets before the prices go up.",
    "my laptop died again, I'll have to use my phone for now.",
    "happy birthday! hope you have a great day.",
    "I pushed the fix, can you review it when you have a minute?",
    "we're thinking of hiking on Saturday if the weather holds.",
    "I left my keys at your place, I think.",
    "the kids are finally asleep.",
    "traffic is terrible today.",
    "I'll bring the snacks, you bring the drinks.",
    "congrats on the new job!",
    "I started that series you recommended, it's great so far.",
    "the deploy went out without any issues.",
    "dinner at 8 still works for me.",
    "I'm not feeling great, I might skip the gym today.",
    "just sent you the photos from the weekend.",
    "the package arrived, thank you!",
    "I can't find the charger anywhere.",
    "remember to water the plants while I'm away.",
    "the tests are green again.",
    "it's raining here again, of course.",
    "I finally fixed the bike.",
)
QUESTIONS = (
    "what do you think?",
    "are you free later?",
    "does that work for you?",
    "want to join?",
    "any news?",
    "how was your day?",
    "should I call you?",
    "you still up?",
)


@dataclass
class PlannedThread:
    """A thread before it exists: its two users (as indexes into the planned users), its
    message count, and the times of its first and last message, in seconds since the
    start of the window."""

    first: int
    second: int
    messages: int
    start: float
    end: float


class ProgressBar:
    """A progress bar redrawn in place on a terminal; on anything else (a log, CI, a test)
    a single summary line at the end, since carriage returns would only clutter a file.
    With `stream=None` it stays silent."""

    WIDTH = 30
    REDRAW_INTERVAL = 0.1  # seconds; redrawing on every batch would cost more than it shows

    def __init__(self, stream: OutputWrapper | None, label: str, total: int) -> None:
        self.stream = stream
        self.label = label
        self.total = total
        self.done = 0
        self.started = time.monotonic()
        self.drawn_at = 0.0
        self.live = stream is not None and stream.isatty()
        if self.live:
            self._draw()

    def update(self, count: int) -> None:
        self.done += count
        now = time.monotonic()
        if self.live and now - self.drawn_at >= self.REDRAW_INTERVAL:
            self._draw()

    def close(self) -> None:
        if self.stream is None:
            return
        elapsed = time.monotonic() - self.started
        if self.live:
            self._draw()
            self._write("\n")
        else:
            self._write(f"{self.label}: {self.done:,} in {elapsed:.1f}s\n")

    def _draw(self) -> None:
        self.drawn_at = time.monotonic()
        elapsed = self.drawn_at - self.started
        fraction = self.done / self.total if self.total else 1.0
        filled = round(self.WIDTH * fraction)
        rate = self.done / elapsed if elapsed > 0 else 0.0
        eta = f"ETA {(self.total - self.done) / rate:4.0f}s" if rate and fraction < 1 else ""
        self._write(
            f"\r{self.label:<9} [{'#' * filled}{'.' * (self.WIDTH - filled)}] "
            f"{fraction:4.0%} {self.done:>11,}/{self.total:,} {rate:>9,.0f}/s {eta:<9}"
        )

    def _write(self, text: str) -> None:
        # The command's stderr colours everything as an error on a terminal; progress is not.
        assert self.stream is not None  # noqa: S101 (callers check; this narrows the type)
        self.stream.write(text, style_func=lambda plain: plain, ending="")
        self.stream.flush()


class Command(BaseCommand):
    help = (
        "Fill the database with realistic demo users, threads between pairs of them and "
        "messages, in bulk, and print logins to try them with. Every run adds new users "
        "(names with numbers no account has yet, e-mail addresses at @demo.example) and "
        "threads only among them, so existing data is untouched and it can be run again. "
        "All demo users share one password (--password)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--users", type=int, default=50, help="Users to create (at least 2).")
        parser.add_argument(
            "--threads",
            type=int,
            default=200,
            help="Threads to create, each between a distinct pair of the new users.",
        )
        parser.add_argument(
            "--messages",
            type=int,
            default=5000,
            help="Messages to create in total, spread unevenly over the threads.",
        )
        parser.add_argument(
            "--password",
            default=DEFAULT_PASSWORD,
            help=f'The password of every demo user (default "{DEFAULT_PASSWORD}").',
        )
        parser.add_argument(
            "--seed",
            type=int,
            default=None,
            help="Random seed: the same seed on the same database gives the same data "
            "(timestamps stay relative to now).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        users: int = options["users"]
        threads: int = options["threads"]
        messages: int = options["messages"]
        password: str = options["password"]
        self._check_sizes(users, threads, messages)
        try:
            validate_password(password)
        except ValidationError as error:
            raise CommandError(f"--password: {' '.join(error.messages)}") from error

        started = time.monotonic()
        # Demo data, not secrets: a seedable generator is exactly what is wanted here.
        rng = random.Random(options["seed"])  # noqa: S311
        self.progress_stream = self.stderr if options["verbosity"] > 0 else None
        now = timezone.now()
        window_start = now - WINDOW

        plans = _plan_threads(rng, users, threads, messages)
        with transaction.atomic():
            user_ids, usernames = self._create_users(rng, users, window_start, password)
            bar = ProgressBar(self.progress_stream, "threads", threads)
            thread_ids = _create_threads(plans, user_ids, window_start, bar)
            bar.close()
            bar = ProgressBar(self.progress_stream, "messages", messages)
            _create_messages(rng, plans, thread_ids, user_ids, window_start, bar)
            bar.close()
            bar = ProgressBar(self.progress_stream, "counters", len(thread_ids))
            for batch in _batches(thread_ids, BATCH_SIZE):
                thread_counters_rebuild(thread_ids=batch)
                bar.update(len(batch))
            bar.close()
            if self.progress_stream is not None:
                # PostgreSQL checks the (deferred) foreign keys of every row at commit, which
                # takes seconds for a million messages; say why nothing seems to happen.
                self.progress_stream.write("committing...", style_func=lambda plain: plain)

        if options["verbosity"] > 0:
            self._print_summary(plans, usernames, password, time.monotonic() - started)

    @staticmethod
    def _check_sizes(users: int, threads: int, messages: int) -> None:
        if users < 2:
            raise CommandError("--users must be at least 2: a thread needs two people.")
        if threads < 0 or messages < 0:
            raise CommandError("--threads and --messages cannot be negative.")
        pairs = users * (users - 1) // 2
        if threads > pairs:
            raise CommandError(
                f"--threads {threads} is more than the {pairs:,} distinct pairs that "
                f"{users} users make (one thread per pair)."
            )
        if messages and not threads:
            raise CommandError("--messages needs at least one thread to go into.")

    def _create_users(
        self, rng: random.Random, count: int, window_start: datetime, password: str
    ) -> tuple[list[int], list[str]]:
        """Create `count` users and return their ids and usernames, in plan order."""
        user_model = get_user_model()
        # Hashing is deliberately slow (hundreds of milliseconds with PBKDF2), so it is
        # done once and the same hash goes to every user.
        password_hash = make_password(password)
        names = _fresh_usernames(rng, count)
        # Everyone joined before the conversations began.
        joined = sorted(
            window_start - timedelta(seconds=rng.uniform(0, 365 * 24 * 3600)) for _ in names
        )
        users = [
            user_model(
                username=username,
                first_name=first.capitalize(),
                last_name=rng.choice(LAST_NAMES).capitalize(),
                email=f"{username}@{EMAIL_DOMAIN}",
                password=password_hash,
                date_joined=date_joined,
            )
            for (username, first), date_joined in zip(names, joined, strict=True)
        ]
        bar = ProgressBar(self.progress_stream, "users", count)
        for batch in _batches(users, BATCH_SIZE):
            user_model.objects.bulk_create(batch)
            bar.update(len(batch))
        bar.close()
        if any(user.pk is None for user in users):
            # Only backends that cannot return ids from a bulk insert get here.
            ids = dict(
                user_model.objects.filter(username__in=[u.username for u in users]).values_list(
                    "username", "pk"
                )
            )
            return [ids[user.username] for user in users], [user.username for user in users]
        return [user.pk for user in users], [user.username for user in users]

    def _print_summary(
        self, plans: list[PlannedThread], usernames: list[str], password: str, seconds: float
    ) -> None:
        thread_counts = [0] * len(usernames)
        message_counts = [0] * len(usernames)
        for plan in plans:
            for user in (plan.first, plan.second):
                thread_counts[user] += 1
                message_counts[user] += plan.messages
        busiest = sorted(
            range(len(usernames)),
            key=lambda user: (thread_counts[user], message_counts[user]),
            reverse=True,
        )[:LOGINS_SHOWN]
        total_messages = sum(plan.messages for plan in plans)

        write = self.stdout.write
        write(
            self.style.SUCCESS(
                f"Created {len(usernames):,} users, {len(plans):,} threads and "
                f"{total_messages:,} messages in {seconds:.1f}s."
            )
        )
        write(f"Logins (every demo user has the same password), the {len(busiest)} busiest:")
        width = max(len("username"), *(len(usernames[user]) for user in busiest))
        write(f"  {'username':<{width}}  {'password':<{len(password)}}  threads  messages")
        for user in busiest:
            write(
                f"  {usernames[user]:<{width}}  {password}  "
                f"{thread_counts[user]:>7,}  {message_counts[user]:>8,}"
            )
        body = json.dumps({"username": usernames[busiest[0]], "password": password})
        # ${PORT:-8000} is left for the shell: the port `make run PORT=...` serves on.
        write("Get a token (with `make run` serving the API):")
        write(
            "  curl -s -X POST http://127.0.0.1:${PORT:-8000}/api/token/ "
            f"-H 'Content-Type: application/json' -d {shlex.quote(body)}"
        )


def _fresh_usernames(rng: random.Random, count: int) -> list[tuple[str, str]]:
    """`count` usernames like "olivia204" that no account has yet, each with its first name.

    Drawn at random and checked against the database in chunks; the few already taken are
    simply drawn again, which is what lets the command run any number of times."""
    user_model = get_user_model()
    # Numbers up to several times the number of accounts (earlier runs' included) keep
    # draws rarely equal to a name already in use, however many runs came before.
    highest = max(1000, 4 * (count + user_model.objects.count()))
    chosen: dict[str, str] = {}
    while len(chosen) < count:
        drawn: dict[str, str] = {}
        while len(chosen) + len(drawn) < count:
            first = rng.choice(FIRST_NAMES)
            username = f"{first}{rng.randrange(1, highest)}"
            if username not in chosen:
                drawn[username] = first
        candidates = list(drawn)
        for chunk in _batches(candidates, 500):
            # Usernames are unique whatever their case, and the drawn ones are lower case.
            taken = (
                user_model.objects.annotate(lowered=Lower("username"))
                .filter(lowered__in=chunk)
                .values_list("lowered", flat=True)
            )
            for username in taken:
                drawn.pop(username, None)
        chosen.update(drawn)
    return list(chosen.items())


def _plan_threads(
    rng: random.Random, users: int, threads: int, messages: int
) -> list[PlannedThread]:
    """Choose the pairs, each thread's length and its time span, before anything is
    written: a thread's `updated` must equal its last message's time, so that time has to
    be known when the thread is inserted."""
    popularity = [1 / (rank + 1) ** USER_POPULARITY_EXPONENT for rank in range(users)]
    rng.shuffle(popularity)
    pairs = _choose_pairs(rng, popularity, threads)
    counts = _spread(rng, messages, [rng.lognormvariate(0, THREAD_LENGTH_SIGMA) for _ in pairs])

    window = WINDOW.total_seconds()
    plans = []
    for (first, second), count in zip(pairs, counts, strict=True):
        # Last activity leans towards the present, like a real inbox.
        end = window * (1 - rng.random() ** 2)
        duration = rng.expovariate(1 / (count * MEAN_MESSAGE_GAP_SECONDS)) if count > 1 else 0
        # A conversation longer than the window so far began somewhere early in it, not
        # all of them at the very same first instant.
        start = end - duration if duration < end else rng.uniform(0, end / 5)
        plans.append(PlannedThread(first, second, count, start, end))
    # Older threads get the lower ids, as they would have had in real use.
    plans.sort(key=lambda plan: plan.start)
    return plans


def _choose_pairs(
    rng: random.Random, popularity: Sequence[float], count: int
) -> list[tuple[int, int]]:
    """`count` distinct unordered pairs of user indexes, popular users more often."""
    users = len(popularity)
    all_pairs = users * (users - 1) // 2
    if count * 2 > all_pairs:
        # Most pairs are wanted, so drawing until enough distinct ones turn up could take
        # long; instead rank every pair by a weighted random key and take the top ones
        # (Efraimidis-Spirakis sampling without replacement). There are at most 2 * count.
        keyed = (
            (rng.random() ** (1 / (popularity[a] * popularity[b])), (a, b))
            for a, b in itertools.combinations(range(users), 2)
        )
        chosen = [pair for _, pair in heapq.nlargest(count, keyed)]
        rng.shuffle(chosen)
        return chosen

    cumulative = list(itertools.accumulate(popularity))
    everyone = range(users)
    chosen_set: set[tuple[int, int]] = set()
    chosen_list: list[tuple[int, int]] = []
    # The most popular users run out of partners they have no thread with yet, and then
    # weighted draws repeat ever more; past this many, draw uniformly, which with at least
    # half of all pairs free succeeds at least every other time.
    weighted_draws_left = 20 * count + 1000
    while len(chosen_list) < count:
        if weighted_draws_left > 0:
            weighted_draws_left -= 1
            a, b = rng.choices(everyone, cum_weights=cumulative, k=2)
        else:
            a, b = rng.randrange(users), rng.randrange(users)
        pair = (a, b) if a < b else (b, a)
        if a != b and pair not in chosen_set:
            chosen_set.add(pair)
            chosen_list.append(pair)
    return chosen_list


def _spread(rng: random.Random, total: int, weights: list[float]) -> list[int]:
    """Split `total` into len(weights) whole parts roughly in proportion to `weights`,
    giving every part at least one while there are enough to go round."""
    parts = len(weights)
    if total < parts:
        counts = [0] * parts
        for index in rng.sample(range(parts), total):
            counts[index] = 1
        return counts
    rest = total - parts
    weight_sum = sum(weights)
    counts = [1 + int(rest * weight / weight_sum) for weight in weights]
    leftover = total - sum(counts)
    for index in rng.choices(range(parts), weights=weights, k=leftover):
        counts[index] += 1
    return counts


def _create_threads(
    plans: list[PlannedThread], user_ids: list[int], window_start: datetime, bar: ProgressBar
) -> list[int]:
    """Insert the threads and their participant rows; return the thread ids in plan order."""
    threads = [
        Thread(
            pair_key=Thread.pair_key_for(user_ids[plan.first], user_ids[plan.second]),
            created=window_start + timedelta(seconds=plan.start),
            updated=window_start + timedelta(seconds=plan.end),
        )
        for plan in plans
    ]
    for batch in _batches(threads, BATCH_SIZE):
        Thread.objects.bulk_create(batch)
        bar.update(len(batch))
    if any(thread.pk is None for thread in threads):
        # Only backends that cannot return ids from a bulk insert get here.
        ids = dict(
            Thread.objects.filter(pair_key__in=[t.pair_key for t in threads]).values_list(
                "pair_key", "pk"
            )
        )
        thread_ids = [ids[thread.pair_key] for thread in threads]
    else:
        thread_ids = [thread.pk for thread in threads]

    # Their `updated` and unread counts are set with the threads' other counters, once the
    # messages are in (see `thread_counters_rebuild`).
    rows = [
        Participant(thread_id=thread_id, user_id=user_ids[user])
        for thread_id, plan in zip(thread_ids, plans, strict=True)
        for user in (plan.first, plan.second)
    ]
    for batch in _batches(rows, BATCH_SIZE):
        Participant.objects.bulk_create(batch)
    return thread_ids


def _create_messages(
    rng: random.Random,
    plans: list[PlannedThread],
    thread_ids: list[int],
    user_ids: list[int],
    window_start: datetime,
    bar: ProgressBar,
) -> None:
    """Insert every thread's messages as plain parameter tuples, a batch at a time.

    Not `bulk_create`: building a million model instances costs more than inserting them,
    and the tuples are all the rows need (`insert_rows`)."""
    names = ("thread", "sender", "text", "created", "is_read")
    insert_rows(
        Message._meta.db_table,
        [Message._meta.get_field(name).column for name in names],
        _message_rows(rng, plans, thread_ids, user_ids, window_start),
        progress=bar.update,
    )


def _message_rows(
    rng: random.Random,
    plans: list[PlannedThread],
    thread_ids: list[int],
    user_ids: list[int],
    window_start: datetime,
) -> Iterator[tuple[int, int, str, Any, bool]]:
    """(thread id, sender id, text, created, is_read) for every message, thread by thread,
    oldest first within a thread so that id order is time order, as in real use."""
    to_db = connection.ops.adapt_datetimefield_value
    for thread_id, plan in zip(thread_ids, plans, strict=True):
        count = plan.messages
        if not count:
            continue
        span = plan.end - plan.start
        # The first and last messages sit exactly at the thread's created and updated.
        offsets = [plan.start]
        offsets += sorted(plan.start + span * rng.random() for _ in range(count - 2))
        if count > 1:
            offsets.append(plan.end)

        senders = []
        sender = rng.randrange(2)
        for _ in range(count):
            senders.append(sender)
            if rng.random() < SENDER_SWITCH_CHANCE:
                sender = 1 - sender
        # A reply means its sender read everything before it, so only the trailing run of
        # messages from the last sender can still be unread.
        first_unread = count
        if rng.random() < UNREAD_THREAD_SHARE:
            while first_unread > 0 and senders[first_unread - 1] == senders[-1]:
                first_unread -= 1

        pair = (user_ids[plan.first], user_ids[plan.second])
        for index in range(count):
            yield (
                thread_id,
                pair[senders[index]],
                _message_text(rng),
                to_db(window_start + timedelta(seconds=offsets[index])),
                index < first_unread,
            )


def _message_text(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.35:
        return rng.choice(REACTIONS)
    sentence = rng.choice(SENTENCES)
    if roll < 0.75:
        return sentence[0].upper() + sentence[1:]
    if roll < 0.9:
        return f"{rng.choice(GREETINGS)} {sentence}"
    return f"{sentence[0].upper()}{sentence[1:]} {rng.choice(QUESTIONS).capitalize()}"


def _batches(items: Any, size: int) -> Iterator[list[Any]]:
    """Consecutive lists of up to `size` items from any iterable."""
    iterator = iter(items)
    while batch := list(itertools.islice(iterator, size)):
        yield batch
