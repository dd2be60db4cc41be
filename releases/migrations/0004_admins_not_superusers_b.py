"""ModelGate admins are no longer Django superusers.

Earlier versions made every holder of the admin role a superuser (and staff). Now the admin site
grants access by role, so superuser powers (editing anyone's password and flags, every table) are
dropped from users whose admin membership is what made them superusers. They stay staff, so the
admin site still opens for them. A superuser with no admin membership (``createsuperuser``) keeps
their flag.
"""

from django.db import migrations


def drop_superuser_from_role_admins(apps, schema_editor):
    User = apps.get_model("auth", "User")
    Membership = apps.get_model("releases", "Membership")
    admin_ids = Membership.objects.filter(role="admin").values("user_id")
    User.objects.filter(pk__in=admin_ids, is_superuser=True).update(
        is_superuser=False, is_staff=True
    )


class Migration(migrations.Migration):
    dependencies = [
        ("releases", "0003_hashed_api_tokens"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [migrations.RunPython(drop_superuser_from_role_admins, migrations.RunPython.noop)]
