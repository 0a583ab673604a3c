"""The supervisor permission moves to the core (`supportdesk.supervise`), so routing and the
timeline can ask it too: whoever held `conversations.supervise_conversations` (a user or a
group) holds the new one, and the old one is removed."""

from django.conf import settings
from django.db import migrations

OLD = ("conversations", "supervise_conversations")
NEW = ("supportdesk", "access", "supervise", "Supervise: see and act on every conversation, queue and contact")


def supervisors_keep_their_role(apps, schema_editor) -> None:
    content_type_model = apps.get_model("contenttypes", "ContentType")
    permission_model = apps.get_model("auth", "Permission")
    user_model = apps.get_model(settings.AUTH_USER_MODEL)
    group_model = apps.get_model("auth", "Group")
    old = permission_model.objects.filter(content_type__app_label=OLD[0], codename=OLD[1]).first()
    if old is None:  # a fresh database: nobody to carry over
        return
    app_label, model, codename, name = NEW
    # Permissions are created after all migrations ran (post_migrate): this one is needed now.
    content_type, _ = content_type_model.objects.get_or_create(app_label=app_label, model=model)
    new, _ = permission_model.objects.get_or_create(content_type=content_type, codename=codename,
                                                    defaults={"name": name})
    for user in user_model.objects.filter(user_permissions=old):
        user.user_permissions.add(new)
    for group in group_model.objects.filter(permissions=old):
        group.permissions.add(new)
    old.delete()


class Migration(migrations.Migration):

    dependencies = [
        ("conversations", "0003_routing_history_watermark"),
        ("supportdesk", "0001_access_roles"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.AlterModelOptions(name="conversation", options={}),
        migrations.RunPython(supervisors_keep_their_role, migrations.RunPython.noop),
    ]
