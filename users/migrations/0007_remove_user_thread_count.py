from django.db import migrations


class Migration(migrations.Migration):
    """The thread count belongs to the threads app (threads.Inbox), which took it over in
    its migration 0005."""

    dependencies = [
        ("users", "0006_user_deleted"),
        ("threads", "0005_inbox"),
    ]

    operations = [
        migrations.RemoveField(model_name="user", name="thread_count"),
    ]
