"""The prediction a caller may report feedback on: one it made itself, on a model it may still
predict on."""

from __future__ import annotations

import uuid

from releases.errors import NotFound
from scoring.models import Prediction
from scoring.serving import Caller, ServedModel

NOT_LOGGED_YET = (
    "No logged prediction {id} made by this token. Predictions are logged within about a "
    "second of the answer: if this one was just made, retry in a second. Only the app or person "
    "that made a prediction may report its outcome."
)


def prediction_get_for_caller(*, caller: Caller, prediction_id: uuid.UUID) -> Prediction:
    """The prediction, if ``caller`` made it and may still predict on its model.

    Someone else's prediction, another team's and an unknown id all get the same 404, so the
    answer never tells whether an id exists."""
    prediction = (
        Prediction.objects.select_related("model_version__registered_model__team")
        .filter(pk=prediction_id, caller=caller.label)
        .first()
    )
    if prediction is not None:
        model = prediction.model_version.registered_model
        if caller.may_predict(ServedModel(id=model.pk, name=model.name, team_id=model.team_id)):
            return prediction
    raise NotFound(NOT_LOGGED_YET.format(id=prediction_id), code="prediction_not_found")
