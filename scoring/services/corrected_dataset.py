"""The corrected dataset becomes the model's standing evaluation set, through the same checks
and rows as an evaluation CSV uploaded by hand (``releases.services.inputs``)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import User
from django.core.files.base import ContentFile
from django.db import transaction

from releases.errors import Conflict, Forbidden
from releases.models import EvaluationDataset, RegisteredModel
from releases.selectors import user_can
from releases.services.audit import audit_record
from releases.services.inputs import evaluation_dataset_create, read_evaluation, upload_staging
from scoring import corrected_dataset
from scoring.selectors.corrected_dataset import (
    corrected_dataset_count,
    corrected_dataset_signature,
    corrected_rows,
)


def corrected_dataset_use_as_evaluation_set(
    *, actor: User, registered_model: RegisteredModel
) -> EvaluationDataset:
    """Store the model's corrected dataset (its newest ``MODELGATE_MAX_EVALUATION_ROWS``
    labeled predictions) as its standing evaluation set: the next version validates on it.

    Data scientists, reviewers and admins of the team. The CSV is read back exactly as an
    uploaded one (``read_evaluation``); the same bytes as the standing set change nothing.
    """
    team_id = registered_model.team_id
    if not (
        user_can(user=actor, team_id=team_id, action="upload")
        or user_can(user=actor, team_id=team_id, action="review")
    ):
        raise Forbidden(
            f"Only data scientists, reviewers and admins of team {registered_model.team.name!r} "
            "can change the evaluation set."
        )
    signature = corrected_dataset_signature(registered_model=registered_model)
    if signature is None:
        raise Conflict(
            f"{registered_model.name} has no validated version yet, so the dataset's columns "
            "are unknown; upload a version first.",
            code="no_signature",
        )
    if corrected_dataset_count(registered_model=registered_model) < 2:
        raise Conflict(
            f"{registered_model.name} has fewer than two labeled predictions; an evaluation set "
            "needs at least two. Label queue items or send app feedback first.",
            code="too_few_labels",
        )
    features, target = corrected_dataset.columns(signature)
    rows = corrected_rows(
        registered_model=registered_model, limit=settings.MODELGATE_MAX_EVALUATION_ROWS
    )
    text = "".join(
        corrected_dataset.csv_lines(rows, features=features, target=target, for_spreadsheets=False)
    )
    upload = ContentFile(text.encode(), name=f"{registered_model.name}-corrected.csv")
    with upload_staging() as staging:
        path = staging.local_path(upload)
        frame = read_evaluation(path, target)
        stored = staging.store(path=path, kind="datasets", extension="csv")
        with transaction.atomic():
            # Serialises with uploads and edits that also replace the standing set.
            locked = (
                RegisteredModel.objects.select_for_update(of=("self",))
                .select_related("team", "evaluation_dataset")
                .get(pk=registered_model.pk)
            )
            previous = locked.evaluation_dataset
            if previous is not None and (previous.sha256, previous.target) == (
                stored.sha256,
                target,
            ):
                return previous  # no new label since: nothing to change
            dataset = evaluation_dataset_create(
                registered_model=locked, stored=stored, upload=upload, target=target,
                frame=frame, actor=actor,
            )  # fmt: skip
            locked.evaluation_dataset = dataset
            locked.save(update_fields=["evaluation_dataset", "updated_at"])
            audit_record(
                actor=actor,
                action="model.evaluation_set",
                registered_model=locked,
                payload={
                    "sha256": dataset.sha256,
                    "target": dataset.target,
                    "rows": dataset.n_rows,
                    "previous_sha256": previous.sha256 if previous else None,
                    "source": "corrected_dataset",
                },
            )
            return dataset
