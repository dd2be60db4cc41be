"""Parameter policy, fitted-structure checks and describe_estimator: each attack from issue 8
is performed against load_skops (the function the sandbox child and the serving loader call)."""

from __future__ import annotations

import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import skops.io as sio
from sklearn.ensemble import BaggingClassifier, RandomForestClassifier
from sklearn.feature_extraction.text import CountVectorizer, HashingVectorizer, TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler
from sklearn.tree import DecisionTreeClassifier
from sklearn.tree._tree import Tree
from sklearn.utils.validation import check_array

from releases.artifact_safety import (
    UnsafeArtifact,
    check_parameters,
    describe_estimator,
    load_skops,
    scan_skops_schema,
    validate_fitted_trees,
)
from releases.artifact_safety.object_walk import ObjectWalk
from tests.releases import attack_files as af
from tests.releases.model_zoo import MODEL_NAMES, REFUSED_BY_POLICY, zoo_model, zoo_skops_bytes

X = np.random.default_rng(0).normal(size=(40, 3))
Y = (X[:, 0] > 0).astype(int)


@pytest.fixture(autouse=True)
def _quiet() -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _refused(model: Any, code: str = "unsafe_parameter") -> str:
    with pytest.raises(UnsafeArtifact) as caught:
        check_parameters(model)
    assert caught.value.code == code, caught.value.message
    return caught.value.message


# --- every ordinary model passes -------------------------------------------------------------


@pytest.mark.parametrize("name", [n for n in MODEL_NAMES if n not in REFUSED_BY_POLICY])
def test_every_model_of_the_derivation_zoo_loads_under_all_policies(
    tmp_path: Path, name: str
) -> None:
    path = af.write(tmp_path, zoo_skops_bytes(name))
    needs = scan_skops_schema(source=path).names

    model = load_skops(path=path, trusted=needs)  # parameter_policy and structure_checks on

    assert type(model) is type(zoo_model(name))


# --- parameters that do I/O or run code ------------------------------------------------------


def test_vectorizer_reading_files_is_refused_and_reads_them_when_the_policy_is_off(
    tmp_path: Path,
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("secret key secret key")
    path = af.write(tmp_path, af.vectorizer_reading_files_bytes())

    with pytest.raises(UnsafeArtifact) as caught:
        load_skops(path=path, trusted=())
    assert caught.value.code == "unsafe_parameter"
    assert "input='filename'" in caught.value.message
    assert "model.steps[0][1]" in caught.value.message

    # Without the policy the type allowlist alone accepts it, and it opens the path it is given:
    # this is the file read of issue 8, which only the sandbox then contains.
    model = load_skops(path=path, trusted=(), parameter_policy=False)
    counts = model.named_steps["text"].transform([str(secret)])
    assert counts.sum() == 4


@pytest.mark.parametrize("vectorizer", [CountVectorizer, TfidfVectorizer, HashingVectorizer])
@pytest.mark.parametrize("value", ["file", "filename"])
def test_every_text_vectorizer_with_input_other_than_content_is_refused(
    vectorizer: Any, value: str
) -> None:
    message = _refused(Pipeline([("text", vectorizer(input=value)), ("m", LogisticRegression())]))
    assert f"input={value!r}" in message


@pytest.mark.parametrize(
    "model",
    [
        CountVectorizer(tokenizer=check_array),
        CountVectorizer(preprocessor=check_array),
        CountVectorizer(analyzer=check_array),
        FunctionTransformer(func=check_array),
        FunctionTransformer(func=np.log1p, inverse_func=check_array),
        FunctionTransformer(func=print),
        FunctionTransformer(func=StandardScaler().fit),  # a bound method
        FunctionTransformer(func=Path),  # a class that is not a data type
    ],
    ids=["tokenizer", "preprocessor", "analyzer", "func", "inverse_func", "builtin", "method",
         "class"],
)  # fmt: skip
def test_parameters_holding_callables_that_are_not_allowed_are_refused(model: Any) -> None:
    message = _refused(Pipeline([("step", model), ("m", LogisticRegression())]))
    assert "model.steps[0][1]" in message


def test_pure_numeric_functions_and_ufuncs_are_allowed() -> None:
    check_parameters(
        Pipeline(
            [
                ("log", FunctionTransformer(func=np.log1p, inverse_func=np.expm1)),
                ("clip", FunctionTransformer(func=np.clip, kw_args={"a_min": 0, "a_max": 1})),
                ("m", LogisticRegression()),
            ]
        )
    )


def test_disk_caches_are_refused() -> None:
    assert "memory=" in _refused(Pipeline([("m", LogisticRegression())], memory="/tmp/cache"))


@pytest.mark.parametrize(
    "model",
    [
        Pipeline(
            [("u", FeatureUnion([("s", StandardScaler())], n_jobs=4)), ("m", LogisticRegression())]
        ),
        RandomForestClassifier(n_jobs=-1),
        BaggingClassifier(LogisticRegression(n_jobs=2)),
    ],
    ids=["union-n-jobs", "forest-n-jobs", "nested-n-jobs"],
)  # fmt: skip
def test_process_pools_are_switched_off_wherever_they_are_nested(model: Any) -> None:
    X, y = np.random.default_rng(0).normal(size=(40, 3)), np.arange(40) % 2
    model.fit(X, y)
    expected = model.predict(X)
    check_parameters(model)
    jobs = [obj.n_jobs for obj, _ in ObjectWalk(model) if getattr(obj, "n_jobs", None) is not None]
    assert jobs == []
    assert (model.predict(X) == expected).all()


def test_strings_that_joblib_evaluates_or_that_reach_python_internals_are_refused() -> None:
    from sklearn.feature_selection import SelectFromModel
    from sklearn.model_selection import GridSearchCV

    search = GridSearchCV(
        LogisticRegression(), {"C": [1.0]}, pre_dispatch="__import__('os').system('id')"
    )
    assert "pre_dispatch" in _refused(search)
    selector = SelectFromModel(LogisticRegression(), importance_getter="__class__.__init__")
    assert "importance_getter" in _refused(selector)
    check_parameters(GridSearchCV(LogisticRegression(), {"C": [1.0]}))  # default '2*n_jobs'


def test_a_callable_nested_past_any_depth_limit_is_found() -> None:
    model: Any = FunctionTransformer(func=check_array)
    for _ in range(500):  # far deeper than any recursion limit
        model = Pipeline([("inner", model)])
    message = _refused(model)
    assert message.startswith("model...")


def test_walk_refuses_models_over_the_object_budget() -> None:
    model = Pipeline([(f"s{i}", StandardScaler()) for i in range(50)])
    with pytest.raises(UnsafeArtifact) as caught:
        check_parameters(model, budget=20)
    assert caught.value.code == "too_complex"


@pytest.mark.parametrize("root", [[1, 2, 3], {"a": 1}, StandardScaler])
def test_a_root_that_is_not_an_estimator_is_refused_saying_so(root: Any) -> None:
    message = _refused(root, code="not_an_estimator")
    assert "not a model" in message


def test_a_plain_list_file_is_refused_at_load_even_with_the_parameter_policy_off(
    tmp_path: Path,
) -> None:
    path = af.write(tmp_path, af.list_root_bytes())
    for policy in (True, False):
        with pytest.raises(UnsafeArtifact) as caught:
            load_skops(path=path, trusted=(), parameter_policy=policy)
        assert caught.value.code == "not_an_estimator"


# --- fitted structures ----------------------------------------------------------------------


def test_tree_without_n_features_in_claiming_huge_features_is_refused(tmp_path: Path) -> None:
    path = af.write(tmp_path, af.forged_tree_without_n_features_bytes())
    with pytest.raises(UnsafeArtifact) as caught:
        load_skops(path=path, trusted=["sklearn.tree._tree.Tree"])
    assert caught.value.code == "invalid_tree"
    assert "n_features_in_" in caught.value.message


def test_malformed_tree_nested_deep_inside_a_bagging_ensemble_is_refused(tmp_path: Path) -> None:
    path = af.write(tmp_path, af.malformed_tree_nested_deep_bytes(pipelines=40))
    with pytest.raises(UnsafeArtifact) as caught:
        load_skops(path=path, trusted=["sklearn.tree._tree.Tree"])
    assert caught.value.code == "invalid_tree"


def _forest() -> RandomForestClassifier:
    return RandomForestClassifier(n_estimators=2, max_depth=2, random_state=0).fit(X, Y)


def _forge(tree: Tree, *, n_features: int, split_on: int) -> Tree:
    state = tree.__getstate__()
    nodes = state["nodes"].copy()
    nodes["feature"][0] = split_on
    forged = Tree(n_features, np.asarray(tree.n_classes, dtype=np.intp), tree.n_outputs)
    forged.__setstate__({**state, "nodes": nodes})
    return forged


def test_forest_member_expecting_more_features_than_the_forest_is_refused() -> None:
    """Forests call their trees with check_input=False: a member built for 50 features inside a
    3-feature forest would read past every row."""
    forest = _forest()
    member = forest.estimators_[0]
    member.tree_ = _forge(member.tree_, n_features=50, split_on=49)
    member.n_features_in_ = 50
    with pytest.raises(UnsafeArtifact, match="different number of features"):
        validate_fitted_trees(forest)


def test_a_tree_shared_by_two_estimators_is_checked_against_both() -> None:
    small = DecisionTreeClassifier(max_depth=2).fit(X[:, :2], Y)
    large = DecisionTreeClassifier(max_depth=2).fit(X, Y)
    small.tree_ = _forge(large.tree_, n_features=3, split_on=2)
    with pytest.raises(UnsafeArtifact, match="disagrees"):
        validate_fitted_trees(Pipeline([("a", large), ("b", small)]))


def test_tree_checks_are_found_past_any_depth_limit() -> None:
    forest = _forest()
    forest.estimators_[1].tree_ = _forge(forest.estimators_[1].tree_, n_features=3, split_on=7)
    model: Any = forest
    for _ in range(300):
        model = Pipeline([("inner", model)])
    with pytest.raises(UnsafeArtifact, match="missing feature"):
        validate_fitted_trees(model)


def test_structure_checks_flag_turns_only_the_tree_checks_off(tmp_path: Path) -> None:
    path = af.write(tmp_path, af.forged_tree_without_n_features_bytes())
    model = load_skops(path=path, trusted=["sklearn.tree._tree.Tree"], structure_checks=False)
    assert not hasattr(model, "n_features_in_")  # loaded, never called: predict would crash


# --- describe_estimator ----------------------------------------------------------------------


def test_describing_25_nested_pipelines_is_fast() -> None:
    model: Any = LogisticRegression()
    for _ in range(25):
        model = Pipeline([("inner", model)])
    started = time.perf_counter()
    description = describe_estimator(model)
    assert time.perf_counter() - started < 0.5
    assert description["class"] == "sklearn.pipeline.Pipeline"


def test_describing_shared_sub_estimators_is_linear() -> None:
    model: Any = LogisticRegression()
    for _ in range(40):  # each level holds the level below twice: 2**40 paths
        model = Pipeline([("a", model), ("b", model)])
    started = time.perf_counter()
    description = describe_estimator(model)
    assert time.perf_counter() - started < 0.5
    assert description["params"]["steps"][1][1] == {
        "class": "sklearn.pipeline.Pipeline",
        "described_above": True,
    }


def test_describe_is_bounded_for_a_skops_round_trip(tmp_path: Path) -> None:
    model = Pipeline([("scale", StandardScaler()), ("m", LogisticRegression())]).fit(X, Y)
    path = af.write(tmp_path, sio.dumps(model))
    assert describe_estimator(load_skops(path=path, trusted=()))["steps"][1]["name"] == "m"


def test_bagging_of_pipelines_is_walked_without_unpacking_the_pipelines() -> None:
    bagging = BaggingClassifier(
        Pipeline([("scale", StandardScaler()), ("tree", DecisionTreeClassifier(max_depth=2))]),
        n_estimators=2,
    ).fit(X, Y)
    validate_fitted_trees(bagging)
    check_parameters(bagging)
