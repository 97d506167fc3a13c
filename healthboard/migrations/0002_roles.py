"""The five role groups. Catalog admins hold the system permissions globally (they manage
every system); the other roles get object permissions per system through team grants."""

from django.db import migrations

ROLES = ("executive", "sre", "data_scientist", "platform", "catalog_admin")
CATALOG_ADMIN_GLOBAL = ("view_system", "change_system")


def create_roles(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, verbosity=0, apps=apps)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role in ROLES:
        Group.objects.get_or_create(name=role)
    admin = Group.objects.get(name="catalog_admin")
    perms = Permission.objects.filter(content_type__app_label="catalog", codename__in=CATALOG_ADMIN_GLOBAL)
    admin.permissions.add(*perms)


def remove_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=ROLES).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("healthboard", "0001_initial"),
        ("catalog", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]
    operations = [migrations.RunPython(create_roles, remove_roles)]
