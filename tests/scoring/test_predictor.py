"""The predictor answers what the model says, whether scikit-learn or ONNX Runtime serves it."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from releases.request_rows import checked_rows_from_body, rows_from_body
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


def _compiled(model: Any, frame: pd.DataFrame, signature: dict[str, Any]) -> Any:
    """The session validation would serve: one input per feature (releases.compiled)."""
    import tempfile
    from pathlib import Path

    import onnxruntime as ort

    from releases.compiled import compile_and_check

    with tempfile.TemporaryDirectory() as tmp:
        compiled = compile_and_check(
            estimator=model, signature=signature, X=frame, work=Path(tmp),
            load_session=lambda path: ort.InferenceSession(
                path.read_bytes(), providers=["CPUExecutionProvider"]
            ),
        )  # fmt: skip
    assert compiled.onnx, compiled
    return ort.InferenceSession(compiled.onnx, providers=["CPUExecutionProvider"])


@pytest.mark.parametrize("numeric_only", [True, False])
def test_checked_rows_feed_a_compiled_model_as_the_equivalence_check_fed_it(
    numeric_only: bool,
) -> None:
    from releases.compiled import onnx_feed

    frame = mf.tabular()[0]
    model = logistic_numeric() if numeric_only else forest_model()
    if numeric_only:
        frame = frame[mf.NUMERIC]
    signature = signature_of(model, numeric_only=numeric_only)
    session = _compiled(model, frame, signature)
    rows = checked_rows_from_body(
        {"instances": frame.to_dict("records")}, signature=signature, max_rows=1000
    )

    scored = score(session, rows, signature=signature)

    labels, proba = session.run(None, onnx_feed(session, frame))[:2]
    assert scored.predictions == np.asarray(labels).ravel().tolist()
    np.testing.assert_array_equal(scored.probabilities, np.asarray(proba, dtype=np.float64))
    assert scored.predictions == model.predict(frame).tolist()


def test_checked_rows_give_scikit_learn_the_same_frame_as_the_body_parser() -> None:
    model = forest_model()
    frame = mf.tabular()[0][:7]
    signature = signature_of(model)
    body = {"instances": frame.to_dict("records")}
    rows = checked_rows_from_body(body, signature=signature, max_rows=1000)

    scored = score(model, rows, signature=signature)

    pd.testing.assert_frame_equal(rows.frame(), rows_from_body(body, signature=signature,
                                                                max_rows=1000))  # fmt: skip
    assert scored.predictions == model.predict(frame).tolist()
    np.testing.assert_array_equal(scored.probabilities, model.predict_proba(frame))


def test_a_model_whose_feature_names_have_spaces_compiles_and_is_served_by_position() -> None:
    """skl2onnx renames ``mean radius`` to ``mean_radius``; the check and serving must still
    feed feature i to input i, never one column to every input."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.ensemble import RandomForestClassifier

    data = load_breast_cancer(as_frame=True)
    frame = data.frame[list(data.feature_names[:6])]
    model = RandomForestClassifier(n_estimators=10, random_state=0).fit(frame, data.target)
    signature = signature_of(model)
    assert any(" " in f["name"] for f in signature["features"])
    session = _compiled(model, frame, signature)
    assert {i.name for i in session.get_inputs()} != set(frame.columns)  # renamed by skl2onnx
    rows = checked_rows_from_body(
        {"instances": frame[:50].to_dict("records")}, signature=signature, max_rows=1000
    )

    for given in (rows, frame[:50]):
        scored = score(session, given, signature=signature)
        assert scored.predictions == model.predict(frame[:50]).tolist()
        np.testing.assert_allclose(scored.probabilities, model.predict_proba(frame[:50]), atol=1e-5)
