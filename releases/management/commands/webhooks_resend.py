from __future__ import annotations

from datetime import timedelta
from functools import partial
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from releases.models import DeliveryStatus, WebhookDelivery
from releases.tasks import deliver_webhook


class Command(BaseCommand):
    help = (
        "Queue again the webhook deliveries that stopped moving (the broker was down when the "
        "event was committed, or a worker lost a waiting retry). Safe to run again: a finished "
        "delivery is skipped, and receivers can tell repeats by X-ModelGate-Delivery."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--older-than-minutes",
            type=int,
            default=90,
            help="Only deliveries with no attempt for this long (default 90, longer than the "
            "default retry waits).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        cutoff = timezone.now() - timedelta(minutes=options["older_than_minutes"])
        stuck = WebhookDelivery.objects.filter(
            status__in=[DeliveryStatus.QUEUED, DeliveryStatus.RETRYING]
        ).filter(
            Q(last_attempt_at__lt=cutoff) | Q(last_attempt_at__isnull=True, created_at__lt=cutoff)
        )
        ids = list(stuck.values_list("pk", flat=True))
        for delivery_id in ids:
            transaction.on_commit(partial(deliver_webhook.delay, delivery_id=delivery_id))
        self.stdout.write(f"Queued {len(ids)} webhook delivery(ies) again.")
