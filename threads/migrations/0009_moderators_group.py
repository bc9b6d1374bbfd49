"""The "Moderators" group: what a moderator needs in the admin, and nothing more.

Permission rows are made by `post_migrate`, after every migration has run, so on a fresh
database they do not exist yet here: this migration makes them first (`create_permissions`
is what `post_migrate` runs, and makes them once).

The permissions are listed here, not imported, so the migration keeps meaning what it
meant when it ran. A later change of the group is a new migration. It lives in the threads
app, which depends on users (never the reverse), because it names both apps' permissions.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

GROUP = "Moderators"

PERMISSIONS = [
    # Read accounts, and suspend or restore them (the UserAdmin actions). Not
    # "change_user": that is every edit of an account, wherever it is asked for.
    ("users", "view_user"),
    ("users", "deactivate_user"),
    ("threads", "view_thread"),
    ("threads", "view_message"),
    ("threads", "delete_message"),
    ("threads", "view_attachment"),
    ("threads", "delete_attachment"),
    # A message's page lists its reactions.
    ("threads", "view_reaction"),
]


def moderators_group_create(apps, schema_editor):
    for app_label in {app_label for app_label, _ in PERMISSIONS}:
        app_config = apps.get_app_config(app_label)
        # The migration state's app configs carry no models module, which
        # create_permissions takes for "no models"; only its presence is checked.
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name=GROUP)
    permissions = [
        Permission.objects.get(content_type__app_label=app_label, codename=codename)
        for app_label, codename in PERMISSIONS
    ]
    group.permissions.set(permissions)


def moderators_group_delete(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name=GROUP).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("users", "0008_user_deactivate_permission"),
        ("threads", "0008_change_log"),
    ]

    operations = [migrations.RunPython(moderators_group_create, moderators_group_delete)]
