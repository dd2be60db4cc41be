"""Malicious models for the sandbox tests, built from default-trusted scikit-learn types.

Nothing here loads what it builds.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

SECRET_TEXT = "XXXXXXX"  # seven characters the file-reading model counts


def file_reading_model(tmp_path: Path) -> bytes:
    """Pipeline(ColumnTransformer(CountVectorizer(input="filename")), LinearRegression): opens
    each value of the ``path`` column as a file and predicts how many "X" characters it holds,
    so the reported MAE leaks the file's content (issue 8, item 1)."""
    import skops.io as sio
    from sklearn.compose import ColumnTransformer
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LinearRegression
    from sklearn.pipeline import Pipeline

    docs = []
    for i, text in enumerate(["X", "XX", "XXX Y", "Y"]):
        doc = tmp_path / f"training-doc-{i}"
        doc.write_text(text)
        docs.append(str(doc))
    vectorizer = CountVectorizer(input="filename", token_pattern=r"\S", lowercase=False)
    model = Pipeline(
        [
            ("columns", ColumnTransformer([("read", vectorizer, "path")])),
            ("count", LinearRegression()),
        ]
    ).fit(pd.DataFrame({"path": docs}), np.array([1.0, 2.0, 3.0, 0.0]))
    return sio.dumps(model)


def file_reading_csv(secret: Path) -> bytes:
    """Two rows naming the secret file, targets 0 and 1: MAE = (7 + 6) / 2 when it is read."""
    return f"path,target\n{secret},0\n{secret},1\n".encode()


def segfaulting_tree() -> tuple[bytes, bytes]:
    """A regression tree without ``n_features_in_`` whose tree claims 2**31 - 1 features and
    splits on feature 2**31 - 2 (issue 8, item 2): predicting reads far outside the input and
    the process dies with SIGSEGV. Returns the skops bytes and an evaluation CSV (target y)."""
    import skops.io as sio
    from sklearn.tree import DecisionTreeRegressor
    from sklearn.tree._tree import Tree

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=50), "b": rng.normal(size=50)})
    target = frame["a"] * 2
    estimator = DecisionTreeRegressor(max_depth=2).fit(frame.to_numpy(), target)
    state = estimator.tree_.__getstate__()
    nodes = state["nodes"].copy()
    nodes["feature"][nodes["left_child"] != -1] = 2**31 - 2
    state["nodes"] = nodes
    tree = Tree(2**31 - 1, estimator.tree_.n_classes, estimator.tree_.n_outputs)
    tree.__setstate__(state)
    estimator.tree_ = tree
    del estimator.n_features_in_
    return sio.dumps(estimator), frame.assign(y=target).to_csv(index=False).encode()
