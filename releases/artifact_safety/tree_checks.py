"""Structural validation of fitted trees loaded from an untrusted file.

scikit-learn's tree prediction code follows child and feature indices without bounds checks
(see skops' ``UNTRUSTED_TYPE_REASONS``), and ``Tree.__setstate__`` accepts any values, so a
crafted file can make ``predict`` read out of bounds or loop forever. Trees built by
scikit-learn store every child after its parent, which is what makes the walk terminate; we
require exactly that, plus every index in range.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.ensemble._hist_gradient_boosting.predictor import TreePredictor
from sklearn.tree._tree import Tree

from releases.artifact_safety.errors import UnsafeArtifact

_MAX_DEPTH = 64  # object nesting, not tree depth: estimators inside pipelines inside ensembles


def validate_fitted_trees(model: Any) -> None:
    """Raise `UnsafeArtifact` ("invalid_tree") if any tree reachable from ``model`` is malformed."""
    _walk(model, n_features=None, seen=set(), depth=0)


def _walk(obj: Any, *, n_features: int | None, seen: set[int], depth: int) -> None:
    if depth > _MAX_DEPTH or id(obj) in seen:
        return
    seen.add(id(obj))
    if isinstance(obj, Tree):
        _check_tree(obj, n_features)
        return
    if isinstance(obj, TreePredictor):
        _check_predictor(obj, n_features)
        return
    if isinstance(obj, dict):
        children: list[Any] = list(obj.values())
    elif isinstance(obj, list | tuple):
        children = list(obj)
    elif isinstance(obj, np.ndarray):
        children = list(obj.ravel()) if obj.dtype == object else []
    elif type(obj).__module__.startswith("sklearn.") and hasattr(obj, "__dict__"):
        own = getattr(obj, "n_features_in_", None)
        if isinstance(own, int | np.integer):
            n_features = int(own)
        children = list(vars(obj).values())
    else:
        return
    for child in children:
        _walk(child, n_features=n_features, seen=seen, depth=depth + 1)


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


def _check_tree(tree: Tree, n_features: int | None) -> None:
    n_feat = int(tree.n_features)
    if n_features is not None and n_feat != n_features:
        raise _invalid("feature count disagrees with its estimator")
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


def _check_predictor(predictor: TreePredictor, n_features: int | None) -> None:
    nodes = predictor.nodes
    if n_features is None:
        raise _invalid("histogram tree outside an estimator")
    is_leaf = nodes["is_leaf"].astype(bool)
    left = nodes["left"].astype(np.int64)
    right = nodes["right"].astype(np.int64)
    feature = nodes["feature_idx"].astype(np.int64)
    _check_links(left, right, feature, is_leaf, n_features)
    categorical = ~is_leaf & nodes["is_categorical"].astype(bool)
    if categorical.any():
        n_bitsets = min(
            np.asarray(predictor.binned_left_cat_bitsets).shape[0],
            np.asarray(predictor.raw_left_cat_bitsets).shape[0],
        )
        if (nodes["bitset_idx"][categorical].astype(np.int64) >= n_bitsets).any():
            raise _invalid("a categorical split points past its bitsets")
