"""API tokens are stored as SHA-512 digests (django-rest-knox) in releases.ApiToken.

Keys issued by earlier versions (DRF authtoken, plain text in ``authtoken_token``) are hashed
into the new table, so clients keep working, and the plain-text table is dropped.
"""

import datetime
import hashlib

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models
from django.utils import timezone

LEGACY_TABLE = "authtoken_token"
TOKEN_KEY_LENGTH = 15  # knox.settings.CONSTANTS.TOKEN_KEY_LENGTH: the stored lookup prefix


def import_legacy_tokens(apps, schema_editor):
    """Hash every plain-text DRF key into ApiToken exactly as knox hashes a key it issues
    (SHA-512 of the key's UTF-8 bytes), keep its owner and creation time, then drop the table."""
    connection = schema_editor.connection
    if LEGACY_TABLE not in connection.introspection.table_names():
        return
    ApiToken = apps.get_model("releases", "ApiToken")
    table = schema_editor.quote_name(LEGACY_TABLE)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {schema_editor.quote_name('key')}, user_id, created FROM {table}")  # noqa: S608 -- constant table name
        rows = cursor.fetchall()
    for key, user_id, created in rows:
        if timezone.is_naive(created):  # SQLite hands back naive UTC
            created = timezone.make_aware(created, datetime.UTC)
        digest = hashlib.sha512(key.encode("utf-8")).hexdigest()
        ApiToken.objects.using(connection.alias).create(
            digest=digest, token_key=key[:TOKEN_KEY_LENGTH], user_id=user_id, expiry=None
        )
        # auto_now_add stamped "now" on create; keep when the key was really issued.
        ApiToken.objects.using(connection.alias).filter(digest=digest).update(created=created)
    schema_editor.execute(schema_editor.sql_delete_table % {"table": table})


class Migration(migrations.Migration):
    dependencies = [
        ("releases", "0002_audit_append_only"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="ApiToken",
            fields=[
                ("digest", models.CharField(max_length=128, primary_key=True, serialize=False)),
                ("token_key", models.CharField(db_index=True, max_length=25)),
                ("created", models.DateTimeField(auto_now_add=True)),
                ("expiry", models.DateTimeField(blank=True, null=True)),
                (
                    "last_used_at",
                    models.DateTimeField(
                        blank=True, help_text="Recorded at most once a minute.", null=True
                    ),
                ),
                (
                    "user",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="auth_token_set",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={"verbose_name": "API token", "ordering": ["-created"]},
        ),
        migrations.RunPython(import_legacy_tokens, migrations.RunPython.noop),
    ]
