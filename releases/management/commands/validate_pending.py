from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction

from releases.models import ModelVersion, VersionStatus
from releases.tasks import validate_model_version


class Command(BaseCommand):
    help = (
        "Queue validation for pending versions that no longer wait for trust, e.g. after an "
        "admin added types to MODELGATE_EXTRA_TRUSTED_TYPES. Safe to run again."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        queued = waiting = 0
        for version in ModelVersion.objects.filter(status=VersionStatus.PENDING).select_related(
            "registered_model"
        ):
            if version.pending_trust:
                waiting += 1
                self.stdout.write(
                    f"  {version}: waits for trust of {', '.join(version.pending_trust)}"
                )
                continue
            version_id = version.pk
            transaction.on_commit(lambda v=version_id: validate_model_version.delay(version_id=v))
            queued += 1
        self.stdout.write(
            f"Queued {queued} version(s) for validation; {waiting} still wait for trust."
        )
