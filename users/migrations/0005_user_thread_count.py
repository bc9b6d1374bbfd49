from django.db import migrations, models
from django.db.models import Count, OuterRef, Subquery
from django.db.models.functions import Coalesce


def count_existing_threads(apps, schema_editor):
    """Existing users start with the number of threads they already take part in."""
    User = apps.get_model("users", "User")
    Participant = apps.get_model("threads", "Participant")
    memberships = (
        Participant.objects.filter(user=OuterRef("pk"))
        .order_by()
        .values("user")
        .annotate(n=Count("pk"))
        .values("n")
    )
    User.objects.update(thread_count=Coalesce(Subquery(memberships), 0))


class Migration(migrations.Migration):
    dependencies = [
        ("users", "0004_ascii_usernames"),
        ("threads", "0004_drop_redundant_fk_indexes"),
    ]

    operations = [
        migrations.AddField(
            model_name="user",
            name="thread_count",
            field=models.PositiveIntegerField(default=0, editable=False),
        ),
        migrations.RunPython(count_existing_threads, migrations.RunPython.noop, elidable=True),
    ]
