from typing import Any

from django.apps import AppConfig
from django.db.backends.signals import connection_created


def _register_sqlite_functions(sender: Any, connection: Any, **kwargs: Any) -> None:
    # The audit table's SQLite triggers call this; see migration 0002.
    if connection.vendor == "sqlite":
        connection.connection.create_function(
            "modelgate_audit_purge_allowed", 0, lambda: 0, deterministic=True
        )


class ReleasesConfig(AppConfig):
    name = "releases"
    verbose_name = "Releases: registry, review, promotion, audit"

    def ready(self) -> None:
        from releases import checks  # noqa: F401 -- registers the system checks

        connection_created.connect(_register_sqlite_functions, dispatch_uid="modelgate_sqlite")
