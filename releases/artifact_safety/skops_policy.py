"""Which types a skops file may contain, and loading one under that policy.

``DEFAULT_TRUSTED_TYPES`` was derived (scikit-learn 1.9, numpy 2.4, scipy 1.17, skops 0.16) by
fitting on tiny synthetic data and dumping with skops: every linear model (logistic, ridge,
SGD, perceptron, lasso, elastic net, Huber, Poisson, quantile), decision/extra trees, random
forest, extra trees, gradient boosting (every loss), HistGradientBoosting (every loss, early
stopping, native categorical features), AdaBoost, bagging, SVC (with and without probability),
SVR, linear SVMs, KNN (kd-tree, ball-tree, brute), Gaussian/Bernoulli naive Bayes, MLP (adam and
sgd), CalibratedClassifierCV (sigmoid and isotonic), and Pipelines with ColumnTransformer,
OneHotEncoder, OrdinalEncoder, StandardScaler, MinMaxScaler, RobustScaler, MaxAbsScaler,
SimpleImputer, PCA, PolynomialFeatures, KBinsDiscretizer, VarianceThreshold and SelectKBest,
with binary, multiclass and string targets. Every name `skops.io.get_untrusted_types` reported
was reviewed one by one; the accepted ones are below with the reason, the refused ones are
listed in ``_REVIEWED_AND_LEFT_OUT``. Public estimators are not listed because skops already
trusts them. Re-run that exercise when upgrading scikit-learn or skops.
"""

from __future__ import annotations

import io
import logging
import re
import zipfile
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import skops.io as sio

from releases.artifact_safety.archive import check_zip_source
from releases.artifact_safety.errors import UnsafeArtifact
from releases.artifact_safety.schema_scan import (
    DEFAULT_MAX_SCHEMA_BYTES,
    SchemaScan,
    check_schema_size,
    scan_skops_schema,
)
from releases.artifact_safety.tree_checks import validate_fitted_trees

logger = logging.getLogger(__name__)

DEFAULT_MAX_UNCOMPRESSED_BYTES = 2 * 1024**3
DEFAULT_MAX_ENTRIES = 100_000

DEFAULT_TRUSTED_TYPES: frozenset[str] = frozenset(
    {
        # A dtype object only describes an array's element type (OneHotEncoder(dtype=...),
        # encoders' categories_); it holds no code.
        "numpy.dtype",
        # Node storage of every sklearn tree model. skops leaves it untrusted because predict
        # indexes its child/feature arrays without bounds checks; `load_skops` validates every
        # tree's structure (children after parents, indices in range) before returning, which
        # closes that hole.
        "sklearn.tree._tree.Tree",
        # HistGradientBoosting's per-tree node array: same risk, same validation.
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
        # CalibratedClassifierCV's fitted calibrators: plain attribute holders around a
        # public estimator and a pair of floats.
        "sklearn.calibration._CalibratedClassifier",
        "sklearn.calibration._SigmoidCalibration",
        # MLP optimiser state (learning rate, moment arrays); only used by partial_fit.
        "sklearn.neural_network._stochastic_optimizers.AdamOptimizer",
        "sklearn.neural_network._stochastic_optimizers.SGDOptimizer",
        # SelectKBest/SelectPercentile score functions: pure statistics over (X, y), called
        # only by fit, never by predict or transform.
        "sklearn.feature_selection._univariate_selection.chi2",
        "sklearn.feature_selection._univariate_selection.f_classif",
        "sklearn.feature_selection._univariate_selection.f_regression",
    }
)

# Reported during the derivation and deliberately not trusted by default.
_REVIEWED_AND_LEFT_OUT: dict[str, str] = {
    "sklearn.neighbors._kd_tree.KDTree": "index arrays used without bounds checks; unvalidated",
    "sklearn.neighbors._ball_tree.BallTree": "same as KDTree",
    "sklearn.metrics._dist_metrics.EuclideanDistance64": "only appears with KD/BallTree",
    "functools.partial": "binds arbitrary arguments to any callable: forbidden outright",
    "sklearn.utils.validation.check_array": "only appears inside functools.partial",
}

# Never trusted, whoever asks. A name is forbidden when it equals one of these or starts with
# one followed by a dot.
FORBIDDEN_PREFIXES: tuple[str, ...] = (
    # The interpreter, processes, files, the network.
    "builtins", "__builtin__", "__main__", "os", "posix", "nt", "posixpath", "ntpath",
    "subprocess", "sys", "signal", "multiprocessing", "threading", "_thread", "asyncio",
    "concurrent", "shutil", "glob", "pathlib", "tempfile", "io", "_io", "fileinput", "mmap",
    "socket", "ssl", "select", "http", "urllib", "ftplib", "smtplib", "xmlrpc", "webbrowser",
    "pty", "tty", "ctypes", "_ctypes", "cffi", "resource", "platform", "sysconfig", "site",
    "gc", "weakref", "atexit", "inspect", "logging",
    # Running or compiling code, importing modules.
    "code", "codeop", "runpy", "compileall", "py_compile", "ast", "dis", "types", "importlib",
    "imp", "pkgutil", "zipimport", "pydoc", "pdb", "bdb", "trace", "timeit", "profile",
    "cProfile", "operator", "_operator", "functools", "_functools", "itertools", "copyreg",
    "copy", "abc",
    # Other serialisation formats that execute on load, and their wrappers.
    "pickle", "_pickle", "pickletools", "marshal", "shelve", "dbm", "joblib", "cloudpickle",
    "dill", "skops", "sklearn.externals", "sklearn.utils._joblib", "torch", "tensorflow",
    "keras", "zipfile", "tarfile",
    # numpy/scipy/pandas/sklearn functions that read or write files or run compilers.
    "numpy.load", "numpy.save", "numpy.savez", "numpy.savez_compressed", "numpy.loadtxt",
    "numpy.savetxt", "numpy.genfromtxt", "numpy.fromfile", "numpy.fromregex", "numpy.memmap",
    "numpy.lib.npyio", "numpy.lib._npyio_impl", "numpy.lib.format", "numpy.lib._datasource",
    "numpy._core.memmap", "numpy.core.memmap", "numpy._core.records", "numpy.core.records",
    "numpy.rec", "numpy.ctypeslib", "numpy.f2py", "numpy.distutils", "numpy.testing",
    "numpy._pytesttester", "scipy.io", "scipy._lib._testutils", "pandas", "sklearn.datasets",
    "sklearn.utils._testing", "scipy.sparse.save_npz", "scipy.sparse.load_npz",
    "scipy.sparse._matrix_io", "scipy.datasets", "scipy.misc",
    # Task, web, configuration and network libraries: their helpers run code by design
    # (hydra's instantiate, Django's call_command, Celery's send_task) and are never model parts.
    "django", "rest_framework", "knox", "celery", "kombu", "billiard", "redis", "hydra",
    "omegaconf", "yaml", "requests", "urllib3", "httpx", "aiohttp", "boto3", "botocore",
    "fsspec", "s3fs", "sqlalchemy", "psycopg", "psycopg2", "sqlite3", "IPython", "jinja2",
    "gunicorn", "uvicorn", "paramiko", "git", "mlflow", "numexpr",
    # ModelGate itself.
    "releases", "webapp", "scoring", "explain",
)  # fmt: skip

# A name component equal to one of these is refused wherever it appears: skops resolves
# "module.attr.attr" by getattr, so "sklearn.utils.os.system" would reach os through a module
# that happens to import it. Kept to modules whose mere reachability is dangerous, so that
# ordinary names ("scipy.signal", "numpy.trace") are not caught by accident.
_FORBIDDEN_COMPONENTS = frozenset(
    {
        "builtins", "__builtin__", "os", "posix", "nt", "subprocess", "sys", "importlib",
        "pickle", "_pickle", "marshal", "ctypes", "_ctypes", "socket", "shutil", "runpy", "pty",
        "webbrowser", "operator", "_operator", "functools", "_functools", "joblib",
        "cloudpickle", "dill",
    }
)  # fmt: skip
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_DUNDER = re.compile(r"^__\w*__$")


def is_forbidden_type(name: str) -> bool:
    """True for a type or function name no one may trust (see `FORBIDDEN_PREFIXES`).

    Also true for anything that is not a plain dotted ``module.qualname`` of identifiers, for
    dunder components (``__globals__``, ``__builtins__``) and for forbidden module names
    appearing anywhere in the path.
    """
    parts = name.split(".")
    if len(parts) < 2 or not all(_IDENTIFIER.match(part) for part in parts):
        return True
    if any(_DUNDER.match(part) for part in parts):
        return True
    if any(part in _FORBIDDEN_COMPONENTS for part in parts):
        return True
    return any(name == prefix or name.startswith(prefix + ".") for prefix in FORBIDDEN_PREFIXES)


@dataclass(frozen=True)
class UntrustedReport:
    """What skops reported, split into never-loadable and needing a reviewer's trust."""

    forbidden: tuple[str, ...]
    needs_trust: tuple[str, ...]


def classify_untrusted(*, untrusted: Iterable[str], trusted: Collection[str]) -> UntrustedReport:
    """Split skops' untrusted names: forbidden ones stay forbidden even if listed in ``trusted``;
    the rest need trust unless in `DEFAULT_TRUSTED_TYPES` or ``trusted``."""
    names = set(untrusted)
    forbidden = {name for name in names if is_forbidden_type(name)}
    accepted = DEFAULT_TRUSTED_TYPES | set(trusted)
    needs_trust = names - forbidden - accepted
    return UntrustedReport(
        forbidden=tuple(sorted(forbidden)), needs_trust=tuple(sorted(needs_trust))
    )


# What skops raises on a file it cannot make sense of: an attacker-written schema.json may hold a
# list where a dict belongs, or nest past the recursion limit. Unreadable, never a server error.
_UNREADABLE = (
    zipfile.BadZipFile, LookupError, ValueError, TypeError, AttributeError, RecursionError,
    ImportError, NotImplementedError, RuntimeError, OSError,
)  # fmt: skip


def skops_untrusted_types(
    *, path: str | Path, max_schema_bytes: int = DEFAULT_MAX_SCHEMA_BYTES
) -> list[str]:
    """Names of the types in a skops file that skops does not trust by default.

    Computed by ModelGate's own linear-time scan (`scan_skops_schema`), which agrees with
    ``skops.io.get_untrusted_types`` on real files and stays bounded on crafted ones. The caller
    runs `check_zip` first.
    """
    return scan_skops_schema(source=path, max_schema_bytes=max_schema_bytes).names


def refuse_untrusted(report: UntrustedReport) -> None:
    """Raise the `UnsafeArtifact` for a report with forbidden or unreviewed names."""
    if report.forbidden:
        raise UnsafeArtifact(
            "forbidden_type",
            "This model refers to " + ", ".join(report.forbidden) + ", which can run arbitrary "
            "code or touch files, so ModelGate will never load it. Rebuild the model without "
            "it (for example without a FunctionTransformer wrapping that function) and upload "
            "it again.",
        )
    if report.needs_trust:
        raise UnsafeArtifact(
            "untrusted_type",
            "This model contains types that have not been reviewed: "
            + ", ".join(report.needs_trust)
            + ". Ask a reviewer to trust them for this model, or rebuild it with standard "
            "scikit-learn components.",
        )


@dataclass(frozen=True)
class LoadedSkops:
    """A model loaded by `load_skops_with_scan`, with what its schema said."""

    model: Any
    scan: SchemaScan


def load_skops(
    *,
    path: str | Path,
    trusted: Collection[str],
    max_uncompressed_bytes: int = DEFAULT_MAX_UNCOMPRESSED_BYTES,
    max_entries: int = DEFAULT_MAX_ENTRIES,
    max_schema_bytes: int = DEFAULT_MAX_SCHEMA_BYTES,
    parameter_policy: bool = True,
    structure_checks: bool = True,
) -> Any:
    """Load a skops file, trusting `DEFAULT_TRUSTED_TYPES` plus ``trusted`` and nothing else.

    See `load_skops_with_scan`; this returns the model only.
    """
    return load_skops_with_scan(
        path=path,
        trusted=trusted,
        max_uncompressed_bytes=max_uncompressed_bytes,
        max_entries=max_entries,
        max_schema_bytes=max_schema_bytes,
        parameter_policy=parameter_policy,
        structure_checks=structure_checks,
    ).model


def load_skops_with_scan(
    *,
    path: str | Path,
    trusted: Collection[str],
    max_uncompressed_bytes: int = DEFAULT_MAX_UNCOMPRESSED_BYTES,
    max_entries: int = DEFAULT_MAX_ENTRIES,
    max_schema_bytes: int = DEFAULT_MAX_SCHEMA_BYTES,
    parameter_policy: bool = True,
    structure_checks: bool = True,
) -> LoadedSkops:
    """Load a skops file under the type policy, then the parameter and structure policies.

    The file is read once into memory so the bytes checked are the bytes loaded. The schema is
    scanned first (bounded and linear, see `scan_skops_schema`), which also bounds skops' own
    audit; skops' list of untrusted types is then checked as well, so the two must agree.
    Forbidden names are refused even when listed in ``trusted``. After loading, and before
    anything calls the model: the root must be an estimator, `check_parameters`
    (``parameter_policy``) and `validate_fitted_trees` (``structure_checks``). Both flags are
    True in production; only tests turn them off. Raises `UnsafeArtifact`.
    """
    from releases.artifact_safety.param_policy import check_parameters, check_root_is_estimator

    data = Path(path).read_bytes()
    source = io.BytesIO(data)
    check_schema_size(source=source, max_schema_bytes=max_schema_bytes)
    check_zip_source(
        source=source, max_uncompressed_bytes=max_uncompressed_bytes, max_entries=max_entries
    )
    scan = scan_skops_schema(source=source, max_schema_bytes=max_schema_bytes)
    refuse_untrusted(classify_untrusted(untrusted=scan.names, trusted=trusted))
    try:
        # Bounded now: the scan refused schemas whose audit would exceed its visit budget.
        untrusted = sio.get_untrusted_types(data=data)
    except _UNREADABLE as exc:
        raise _corrupt(exc) from exc
    refuse_untrusted(classify_untrusted(untrusted=untrusted, trusted=trusted))
    try:
        # Only the names actually present, all of them checked above.
        model = sio.loads(data, trusted=sorted(untrusted))
    except _UNREADABLE as exc:
        raise _corrupt(exc) from exc
    trusted_names = DEFAULT_TRUSTED_TYPES | set(trusted)
    if parameter_policy:
        check_parameters(model, trusted=trusted_names)
    else:
        check_root_is_estimator(model)
    if structure_checks:
        validate_fitted_trees(model)
    return LoadedSkops(model=model, scan=scan)


def _corrupt(exc: BaseException) -> UnsafeArtifact:
    logger.info("skops could not read a file: %r", exc)
    return UnsafeArtifact(
        "corrupt",
        "This skops file could not be read: skops found it malformed or saved by an "
        "incompatible version. Save the model again with `skops.io.dump` and upload the new "
        "file.",
    )
