"""The audit trail is append-only in the database itself, not only by convention: UPDATE and
DELETE on releases_auditevent raise, whatever code (or admin, or shell) issues them.

PostgreSQL: row triggers. TRUNCATE is left to database privileges (revoke it from the app role
in production); the test suite's flush between transactional tests relies on it.
SQLite: the triggers call ``modelgate_audit_purge_allowed()``, which ModelGate registers on each
connection returning 0. A connection without it (the sqlite3 shell) fails closed: "no such
function". Only the test suite's teardown flips it, on its own connection, to empty the table.
"""

from django.db import migrations

SQLITE_UP = [
    """CREATE TRIGGER releases_auditevent_no_update BEFORE UPDATE ON releases_auditevent
       BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;""",
    """CREATE TRIGGER releases_auditevent_no_delete BEFORE DELETE ON releases_auditevent
       WHEN modelgate_audit_purge_allowed() = 0
       BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;""",
]
SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS releases_auditevent_no_update;",
    "DROP TRIGGER IF EXISTS releases_auditevent_no_delete;",
]
POSTGRES_UP = [
    """CREATE OR REPLACE FUNCTION releases_auditevent_append_only() RETURNS trigger AS $$
       BEGIN RAISE EXCEPTION 'audit events are append-only'; END; $$ LANGUAGE plpgsql;""",
    """CREATE TRIGGER releases_auditevent_append_only BEFORE UPDATE OR DELETE
       ON releases_auditevent FOR EACH ROW EXECUTE FUNCTION releases_auditevent_append_only();""",
]
POSTGRES_DOWN = [
    "DROP TRIGGER IF EXISTS releases_auditevent_append_only ON releases_auditevent;",
    "DROP FUNCTION IF EXISTS releases_auditevent_append_only();",
]


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        for sql in statements_by_vendor.get(schema_editor.connection.vendor, []):
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [("releases", "0001_initial")]

    operations = [
        migrations.RunPython(
            _run({"sqlite": SQLITE_UP, "postgresql": POSTGRES_UP}),
            _run({"sqlite": SQLITE_DOWN, "postgresql": POSTGRES_DOWN}),
        )
    ]
