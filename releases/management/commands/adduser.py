from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from releases.errors import DomainError
from releases.models import Role
from releases.services import api_token_rotate, user_upsert


class Command(BaseCommand):
    help = (
        "Create or update a user and give them a role in a team (created if missing). "
        "Issues the user a new API token and prints it as the last line: keys are stored "
        "hashed, so this is the only time it is shown. Running it again for an existing user "
        "rotates the token (the previous one stops working); to grant a role without touching "
        "the token, use the admin site."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name")
        parser.add_argument("--role", required=True, choices=Role.values)
        parser.add_argument("--team", required=True)
        parser.add_argument("--password", default=None)
        parser.add_argument("--email", default="")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            with transaction.atomic():
                user = user_upsert(
                    actor=None,
                    username=options["name"],
                    role=options["role"],
                    team_name=options["team"],
                    password=options["password"],
                    email=options["email"],
                )
                token, key = api_token_rotate(actor=None, user=user)
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        roles = ", ".join(
            f"{m.role}@{m.team.name}" for m in user.memberships.select_related("team")
        )
        self.stdout.write(f"{user.get_username()}: {roles}")
        expires = f", expires {token.expiry:%Y-%m-%d %H:%M} UTC" if token.expiry else ""
        self.stdout.write(f"New API token (shown once, any earlier one is revoked{expires}):")
        self.stdout.write(key)
