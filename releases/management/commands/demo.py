from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction

from releases.models import RegisteredModel, Role
from releases.services import registered_model_create, user_upsert

# (username, role, team): one person per role, plus a data scientist of another team, so the
# demo shows that teams do not see each other's models.
DEMO_USERS = [
    ("dana", Role.DATA_SCIENTIST, "risk"),
    ("rui", Role.REVIEWER, "risk"),
    ("lee", Role.LABELER, "risk"),
    ("ada", Role.ADMIN, "platform"),
    ("gus", Role.DATA_SCIENTIST, "growth"),
]
DEMO_PASSWORD_SUFFIX = "-demo-pass"  # noqa: S105 -- demo accounts, printed on purpose

DEMO_MODELS = [
    (
        "breast-cancer",
        "risk",
        "dana",
        "Flags biopsies for a second look (scikit-learn's bundled breast cancer set).",
        "## Intended use\nTriage support only; a pathologist decides.\n\n"
        "## Training data\n`sklearn.datasets.load_breast_cancer`, 569 samples, 30 features.\n\n"
        "## Limitations\nSmall, single-source data set.",
    ),
    (
        "wine-quality",
        "growth",
        "gus",
        "Classifies wine cultivars (scikit-learn's bundled wine set).",
        "## Intended use\nDemo of team isolation: only the growth team sees this model.",
    ),
]


class Command(BaseCommand):
    help = "Load the demo: teams, one user per role, registered models. Safe to run again."

    def handle(self, *args: Any, **options: Any) -> None:
        users = {}
        with transaction.atomic():
            for username, role, team in DEMO_USERS:
                users[username], _ = user_upsert(
                    actor=None,
                    username=username,
                    role=role,
                    team_name=team,
                    password=username + DEMO_PASSWORD_SUFFIX,
                )
            for name, team, owner, description, card in DEMO_MODELS:
                if not RegisteredModel.objects.filter(name=name).exists():
                    registered_model_create(
                        actor=users[owner],
                        name=name,
                        team_name=team,
                        description=description,
                        model_card=card,
                    )
        self.stdout.write("Demo logins (username / password, role @ team):")
        for username, role, team in DEMO_USERS:
            self.stdout.write(
                f"  {username:6} / {username + DEMO_PASSWORD_SUFFIX:16} {role} @ {team}"
            )
