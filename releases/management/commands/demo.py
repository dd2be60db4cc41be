from __future__ import annotations

from typing import Any

from django.core.files.base import ContentFile
from django.core.management.base import BaseCommand
from django.db import transaction

from releases.models import RegisteredModel, Role
from releases.services import model_version_upload, registered_model_create, user_upsert

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


def _demo_versions() -> dict[str, list[tuple[str, bytes, bytes, str]]]:
    """Model files trained here on scikit-learn's bundled data sets (no download):
    model name -> [(notes, skops bytes, evaluation CSV bytes, target)]."""
    import skops.io as sio
    from sklearn.datasets import load_breast_cancer, load_wine
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    out: dict[str, list[tuple[str, bytes, bytes, str]]] = {}
    for name, loader, candidates in [
        (
            "breast-cancer",
            load_breast_cancer,
            [
                ("Baseline: scaled logistic regression.",
                 make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))),
                ("Random forest, 200 trees.",
                 RandomForestClassifier(n_estimators=200, random_state=0)),
            ],
        ),
        (
            "wine-quality",
            load_wine,
            [("Histogram gradient boosting.", HistGradientBoostingClassifier(random_state=0))],
        ),
    ]:  # fmt: skip
        # Class names, not 0/1: what a labeler picks and the monitoring pages show.
        data = loader(as_frame=True)
        X, y = data.data, data.target.map(dict(enumerate(data.target_names)))
        X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=0)
        evaluation = X_test.assign(target=y_test).to_csv(index=False).encode()
        out[name] = [
            (notes, sio.dumps(model.fit(X_train, y_train)), evaluation, "target")
            for notes, model in candidates
        ]
    return out


class Command(BaseCommand):
    help = "Load the demo: teams, one user per role, registered models. Safe to run again."

    def handle(self, *args: Any, **options: Any) -> None:
        users = {}
        with transaction.atomic():
            for username, role, team in DEMO_USERS:
                users[username] = user_upsert(
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
        versions = None
        for name, _team, owner, _description, _card in DEMO_MODELS:
            model = RegisteredModel.objects.get(name=name)
            if model.versions.exists():
                continue
            versions = versions or _demo_versions()
            for notes, artifact, evaluation, target in versions[name]:
                model_version_upload(
                    actor=users[owner],
                    registered_model=model,
                    artifact=ContentFile(artifact, name="model.skops"),
                    # Each version brings the set: they are validated side by side, before v1's
                    # set becomes the model's standing one, so v2 could not reuse it.
                    evaluation_data=ContentFile(evaluation, name="evaluation.csv"),
                    target=target,
                    notes=notes,
                    tags=["demo"],
                )
        self.stdout.write("Demo logins (username / password, role @ team):")
        for username, role, team in DEMO_USERS:
            self.stdout.write(
                f"  {username:6} / {username + DEMO_PASSWORD_SUFFIX:16} {role} @ {team}"
            )
