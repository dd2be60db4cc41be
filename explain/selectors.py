"""Every read in explain: reports and importance for pages, the review page and the API."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
from django.core.files.storage import default_storage

from explain.models import ShapReport, ShapReportStatus
from releases.errors import Forbidden
from releases.models import ModelVersion
from releases.selectors import (
    AnyUser,
    model_version_get_for_user,
    production_version,
    user_can,
)


def shap_report_for(*, model_version: ModelVersion) -> ShapReport | None:
    return ShapReport.objects.filter(model_version=model_version).first()


def global_importance(model_version: ModelVersion) -> dict[str, float] | None:
    """Mean |SHAP| per input feature (combined over classes), largest first; None until the
    version's report is done."""
    report = ShapReport.objects.filter(
        model_version=model_version, status=ShapReportStatus.DONE
    ).first()
    if report is None:
        return None
    return dict(sorted(report.importance.items(), key=lambda item: -item[1]))


def importance_comparison(model_version: ModelVersion) -> dict[str, Any] | None:
    """This version's importance beside production's, for the review and report pages:
    ``{"features": [...], "candidate": {...}, "production": {...} | None,
    "production_version": int | None}``, features ordered by the candidate's importance.
    None until this version's report is done."""
    candidate = global_importance(model_version)
    if candidate is None:
        return None
    live = production_version(registered_model=model_version.registered_model)
    production = None
    if live is not None and live.pk != model_version.pk:
        production = global_importance(live)
    features = list(candidate)
    for name in production or {}:
        if name not in candidate:
            features.append(name)
    return {
        "features": features,
        "candidate": candidate,
        "production": production,
        "production_version": live.version if live is not None and production else None,
    }


def shap_report_arrays(report: ShapReport) -> dict[str, np.ndarray] | None:
    """The report's per-row arrays, read through the storage API without pickle."""
    if not report.arrays.name:
        return None
    try:
        with default_storage.open(report.arrays.name, "rb") as fh:
            raw = fh.read()
    except OSError:
        return None
    with np.load(io.BytesIO(raw), allow_pickle=False) as npz:
        return {name: npz[name] for name in npz.files}


def version_for_explanation(*, user: AnyUser, name: str, version: int) -> ModelVersion:
    """A named version the user may explain: 404 when they may not see it; 403 for a labeler,
    who explains only the versions being served (by stage), never a candidate."""
    mv = model_version_get_for_user(user=user, name=name, version=version)
    team_id = mv.registered_model.team_id
    if not (
        user_can(user=user, team_id=team_id, action="upload")
        or user_can(user=user, team_id=team_id, action="review")
    ):
        raise Forbidden(
            "Your role may explain only the version in production or staging: POST to "
            f"/api/v1/models/{name}/explain/ instead."
        )
    return mv
