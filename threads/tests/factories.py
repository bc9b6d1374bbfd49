import factory

from threads.models import Message, Thread
from threads.services import message_send, thread_get_or_create
from users.tests.factories import UserFactory


class ThreadFactory(factory.Factory):
    """A thread between two users, made the way the API makes it (through the service)."""

    class Meta:
        model = Thread

    participants = factory.LazyFunction(lambda: [UserFactory(), UserFactory()])

    @classmethod
    def _create(cls, model_class, participants):
        first, second = participants
        thread, _ = thread_get_or_create(requester=first, other=second)
        return thread


class MessageFactory(factory.Factory):
    """A message posted through the service, so the thread's activity moves as in life."""

    class Meta:
        model = Message

    thread = factory.SubFactory(ThreadFactory)
    sender = factory.LazyAttribute(lambda message: message.thread.participants.first())
    text = factory.Faker("sentence")

    @classmethod
    def _create(cls, model_class, thread, sender, text):
        message, _ = message_send(thread_id=thread.pk, sender=sender, text=text)
        return message
