import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def move_thread_counts_in(apps, schema_editor):
    """Each user's thread count moves from their account to their inbox."""
    User = apps.get_model("users", "User")
    Inbox = apps.get_model("threads", "Inbox")
    counted = User.objects.filter(thread_count__gt=0).values_list("pk", "thread_count")
    Inbox.objects.bulk_create(
        (Inbox(user_id=pk, thread_count=count) for pk, count in counted.iterator()),
        batch_size=5000,
    )


def move_thread_counts_out(apps, schema_editor):
    User = apps.get_model("users", "User")
    Inbox = apps.get_model("threads", "Inbox")
    for user_id, count in Inbox.objects.values_list("user_id", "thread_count").iterator():
        User.objects.filter(pk=user_id).update(thread_count=count)


class Migration(migrations.Migration):
    dependencies = [
        ("threads", "0004_drop_redundant_fk_indexes"),
        ("users", "0006_user_deleted"),
    ]

    operations = [
        migrations.CreateModel(
            name="Inbox",
            fields=[
                (
                    "user",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="+",
                        serialize=False,
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                ("thread_count", models.PositiveIntegerField(default=0)),
            ],
        ),
        migrations.RunPython(move_thread_counts_in, move_thread_counts_out),
    ]
