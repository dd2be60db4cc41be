"""The predictor answers what the model says, whether scikit-learn or ONNX Runtime serves it."""

from __future__ import annotations

import numpy as np
import pandas as pd

from scoring.predictor import score
from tests.releases import model_files as mf
from tests.scoring.serving import forest_model, logistic_numeric, signature_of


def test_an_onnx_session_with_one_2d_input_answers_like_the_sklearn_model() -> None:
    import onnxruntime as ort
    from skl2onnx import to_onnx

    model = logistic_numeric()
    frame = mf.tabular()[0][mf.NUMERIC]
    onnx = to_onnx(model, frame.to_numpy(np.float32)[:1], options={"zipmap": False})
    session = ort.InferenceSession(onnx.SerializeToString(), providers=["CPUExecutionProvider"])

    scored = score(session, frame, signature=signature_of(model, numeric_only=True))

    assert scored.predictions == model.predict(frame).tolist()
    assert scored.classes == model.classes_.tolist()
    np.testing.assert_allclose(scored.probabilities, model.predict_proba(frame), atol=1e-5)


def test_an_onnx_session_with_one_input_per_feature_answers_like_the_pipeline() -> None:
    import onnxruntime as ort
    from skl2onnx import to_onnx

    model = mf.pipeline_model()
    frame = mf.tabular()[0]
    example = frame[:1].astype({"age": np.float32, "income": np.float32})
    onnx = to_onnx(model, example, options={"zipmap": False})
    session = ort.InferenceSession(onnx.SerializeToString(), providers=["CPUExecutionProvider"])

    scored = score(session, frame, signature=signature_of(model))

    agree = np.mean(np.array(scored.predictions) == model.predict(frame))
    assert agree > 0.97  # float32 inside ONNX; the validation-time check decides if it serves
    np.testing.assert_allclose(scored.probabilities, model.predict_proba(frame), atol=1e-3)


def test_labels_come_from_predict_when_argmax_is_not_guaranteed() -> None:
    class Odd:
        classes_ = np.array(["a", "b"])

        def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
            return np.tile([0.9, 0.1], (len(frame), 1))

        def predict(self, frame: pd.DataFrame) -> np.ndarray:
            return np.array(["b"] * len(frame))

    scored = score(Odd(), pd.DataFrame({"x": [1.0, 2.0]}), signature={"task": "classification"})

    assert scored.predictions == ["b", "b"]
    assert scored.confidence.tolist() == [0.9, 0.9]  # type: ignore[union-attr]


def test_a_forest_pipelines_labels_equal_its_predict() -> None:
    frame = mf.tabular()[0]
    scored = score(forest_model(), frame, signature=signature_of(forest_model()))
    assert scored.predictions == forest_model().predict(frame).tolist()
