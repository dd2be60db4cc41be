from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from releases.errors import DomainError
from releases.models import Role
from releases.services import user_upsert


class Command(BaseCommand):
    help = (
        "Create or update a user and give them a role in a team (created if missing). "
        "Prints the user's API token as the last line."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name")
        parser.add_argument("--role", required=True, choices=Role.values)
        parser.add_argument("--team", required=True)
        parser.add_argument("--password", default=None)
        parser.add_argument("--email", default="")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            user, token = user_upsert(
                actor=None,
                username=options["name"],
                role=options["role"],
                team_name=options["team"],
                password=options["password"],
                email=options["email"],
            )
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        roles = ", ".join(
            f"{m.role}@{m.team.name}" for m in user.memberships.select_related("team")
        )
        self.stdout.write(f"{user.get_username()}: {roles}")
        self.stdout.write(token.key)
