"""Structural validation of fitted trees loaded from an untrusted file.

scikit-learn's tree prediction code follows child and feature indices without bounds checks
(see skops' ``UNTRUSTED_TYPE_REASONS``), and ``Tree.__setstate__`` accepts any values, so a
crafted file can make ``predict`` read out of bounds (a segfault) or loop forever. We require:

* every tree's children to come after their parent (what makes a walk terminate) and every index
  in range of the tree's own arrays;
* every estimator that holds a tree (``tree_``, HistGradientBoosting's ``_predictors``) to have
  ``n_features_in_``, equal to the tree's ``n_features``, and every split feature below it:
  scikit-learn validates the input's width against ``n_features_in_`` only when it is present;
* every tree estimator inside an ensemble's ``estimators_`` to expect exactly the columns the
  ensemble passes it (forests and gradient boosting call their trees with ``check_input=False``).

Trees are found wherever they are nested, with no depth limit (`ObjectWalk`). Plain module.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.ensemble._hist_gradient_boosting.predictor import TreePredictor
from sklearn.tree._tree import Tree

from releases.artifact_safety.errors import UnsafeArtifact
from releases.artifact_safety.object_walk import DEFAULT_OBJECT_BUDGET, ObjectWalk


def validate_fitted_trees(model: Any, *, budget: int = DEFAULT_OBJECT_BUDGET) -> None:
    """Raise `UnsafeArtifact` ("invalid_tree") if any tree reachable from ``model`` is malformed
    or inconsistent with the input its estimator accepts."""
    checked: dict[int, int] = {}  # id(tree or predictor) -> the feature count it needs
    for obj, _handle in ObjectWalk(model, budget=budget):
        attributes = getattr(obj, "__dict__", None)
        if not isinstance(attributes, dict) or isinstance(obj, type):
            continue
        tree = attributes.get("tree_")
        if isinstance(tree, Tree):
            n_features = _n_features_in(obj, "an estimator holding a tree")
            if _tree_features(tree, checked) != n_features:
                raise _invalid("its feature count disagrees with its estimator's")
        predictors = attributes.get("_predictors")
        if isinstance(predictors, list) and predictors:
            n_features = _n_features_in(obj, "a histogram gradient boosting model")
            for predictor in _flatten(predictors):
                if not isinstance(predictor, TreePredictor):
                    raise _invalid("a boosting stage is not a tree")
                if _predictor_features(predictor, checked) > n_features:
                    raise _invalid("a node splits on a feature the model does not have")
        members = attributes.get("estimators_")
        if members is not None:
            _check_ensemble(obj, attributes, members)


def _check_ensemble(ensemble: Any, attributes: dict[str, Any], members: Any) -> None:
    # Not np.asarray: a Pipeline member has __len__ and __getitem__, and numpy would unpack it.
    if isinstance(members, np.ndarray) and members.dtype == object:
        flat = list(members.ravel())
    elif isinstance(members, list | tuple):
        flat = _flatten(list(members))
    else:
        return
    holders = {id(m) for m in flat if isinstance(getattr(m, "tree_", None), Tree)}
    if not holders:
        return
    n_features = _n_features_in(ensemble, "an ensemble of trees")
    subsets = attributes.get("estimators_features_")
    for index, member in enumerate(flat):
        if id(member) not in holders:
            continue
        expected = n_features
        if subsets is not None:
            try:
                expected = len(subsets[index])
            except (TypeError, IndexError, KeyError):
                raise _invalid("an ensemble's feature subsets do not match its trees") from None
        if _n_features_in(member, "an estimator holding a tree") != expected:
            raise _invalid("a tree in an ensemble expects a different number of features")


def _flatten(items: list[Any]) -> list[Any]:
    out: list[Any] = []
    pending = list(reversed(items))
    while pending:
        item = pending.pop()
        if isinstance(item, list | tuple):
            pending.extend(reversed(item))
        else:
            out.append(item)
    return out


def _n_features_in(obj: Any, what: str) -> int:
    value = getattr(obj, "n_features_in_", None)
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or int(value) < 1:
        raise _invalid(f"{what} does not say how many features it expects (n_features_in_)")
    return int(value)


def _invalid(what: str) -> UnsafeArtifact:
    return UnsafeArtifact(
        "invalid_tree",
        f"A tree inside this model is malformed ({what}), so it could crash or misbehave when "
        "predicting. Save the model again with `skops.io.dump` from scikit-learn and upload "
        "that file.",
    )


def _check_links(
    left: np.ndarray,
    right: np.ndarray,
    feature: np.ndarray,
    is_leaf: np.ndarray,
    n_feat: int,
) -> None:
    n_nodes = left.shape[0]
    if n_nodes == 0:
        raise _invalid("no nodes")
    idx = np.arange(n_nodes)
    inner = ~is_leaf
    for child in (left, right):
        bad = inner & ((child <= idx) | (child >= n_nodes))
        if bad.any():
            raise _invalid(f"node {int(idx[bad][0])} has an out-of-order child")
    bad_feature = inner & ((feature < 0) | (feature >= n_feat))
    if bad_feature.any():
        raise _invalid(f"node {int(idx[bad_feature][0])} splits on a missing feature")


def _tree_features(tree: Tree, checked: dict[int, int]) -> int:
    """Validate ``tree`` once; return the feature count it was built for."""
    if id(tree) in checked:
        return checked[id(tree)]
    n_feat = int(tree.n_features)
    node_count = int(tree.node_count)
    left = np.asarray(tree.children_left, dtype=np.int64)
    right = np.asarray(tree.children_right, dtype=np.int64)
    feature = np.asarray(tree.feature, dtype=np.int64)
    if not (left.shape == right.shape == feature.shape == (node_count,)):
        raise _invalid("array lengths disagree")
    if np.asarray(tree.value).shape[0] != node_count:
        raise _invalid("value array length disagrees")
    is_leaf = left == -1
    if ((right == -1) != is_leaf).any():
        raise _invalid("a node has exactly one child")
    _check_links(left, right, feature, is_leaf, n_feat)
    checked[id(tree)] = n_feat
    return n_feat


def _predictor_features(predictor: TreePredictor, checked: dict[int, int]) -> int:
    """Validate ``predictor`` once; return the number of features its splits need."""
    if id(predictor) in checked:
        return checked[id(predictor)]
    nodes = predictor.nodes
    try:
        is_leaf = nodes["is_leaf"].astype(bool)
        left = nodes["left"].astype(np.int64)
        right = nodes["right"].astype(np.int64)
        feature = nodes["feature_idx"].astype(np.int64)
        categorical_flags = nodes["is_categorical"].astype(bool)
        bitset_idx = nodes["bitset_idx"].astype(np.int64)
    except (ValueError, KeyError, IndexError, TypeError):
        raise _invalid("its node array has the wrong fields") from None
    # Any feature count above the largest split feature passes the link check; the caller
    # compares what is needed with what the estimator accepts.
    needed = int(feature[~is_leaf].max()) + 1 if (~is_leaf).any() else 0
    _check_links(left, right, feature, is_leaf, max(needed, 1))
    categorical = ~is_leaf & categorical_flags
    if categorical.any():
        n_bitsets = min(
            np.asarray(predictor.binned_left_cat_bitsets).shape[0],
            np.asarray(predictor.raw_left_cat_bitsets).shape[0],
        )
        if (bitset_idx[categorical] >= n_bitsets).any() or (bitset_idx[categorical] < 0).any():
            raise _invalid("a categorical split points past its bitsets")
    checked[id(predictor)] = needed
    return needed
