"""Trust only what can be trusted: a reviewer may trust curated ML classes and pure numeric
functions, nothing from task, web, system or serialization libraries."""

from __future__ import annotations

from typing import Any

import pytest

from releases.artifact_safety import describe_type, is_forbidden_type
from releases.models import AuditEvent, ModelVersion
from tests.factories import ModelVersionFactory

TRUST = "/api/v1/models/credit-risk/versions/1/trust"


@pytest.fixture
def version_listing(risk_model: Any, owner: Any) -> Any:
    def make(*types: str) -> ModelVersion:
        return ModelVersionFactory(
            registered_model=risk_model, version=1, uploaded_by=owner, untrusted_types=list(types)
        )

    return make


@pytest.mark.parametrize(
    "name",
    ["django.core.management.call_command", "hydra.utils.instantiate", "scipy.sparse.save_npz"],
)
def test_reviewer_trusting_a_function_that_runs_code_or_writes_files_is_refused(
    api: Any, reviewer: Any, version_listing: Any, name: str
) -> None:
    version = version_listing(name, "sklearn.neighbors._kd_tree.KDTree")

    response = api(reviewer).post(TRUST, {"types": [name]}, format="json")

    assert response.status_code == 403, response.json()
    assert name in response.json()["detail"]
    assert response.json()["refused_types"] == [name]
    version.refresh_from_db()
    assert version.trusted_types == []
    assert not AuditEvent.objects.filter(action="version.trust_types").exists()


def test_reviewer_trusting_an_unknown_package_is_told_only_an_administrator_can(
    api: Any, reviewer: Any, version_listing: Any
) -> None:
    version_listing("mycompany.features.Custom")

    response = api(reviewer).post(TRUST, {"types": ["mycompany.features.Custom"]}, format="json")

    assert response.status_code == 403
    detail = response.json()["detail"]
    assert "administrator" in detail and "MODELGATE_EXTRA_TRUSTED_TYPES" in detail


def test_one_refused_name_refuses_the_whole_request(
    api: Any, reviewer: Any, version_listing: Any
) -> None:
    kd = "sklearn.neighbors._kd_tree.KDTree"
    version = version_listing(kd, "sklearn.utils.validation.check_array")

    response = api(reviewer).post(
        TRUST, {"types": [kd, "sklearn.utils.validation.check_array"]}, format="json"
    )

    assert response.status_code == 403
    assert response.json()["refused_types"] == ["sklearn.utils.validation.check_array"]
    version.refresh_from_db()
    assert version.trusted_types == []


def test_reviewer_may_trust_a_curated_class_and_a_pure_numeric_function(
    api: Any, reviewer: Any, version_listing: Any
) -> None:
    types = ["numpy.clip", "sklearn.neighbors._kd_tree.KDTree"]
    version_listing(*types)

    response = api(reviewer).post(TRUST, {"types": types}, format="json")

    assert response.status_code == 200, response.json()
    assert response.json()["trusted_types"] == types


@pytest.mark.parametrize(
    ("name", "kind", "may_trust"),
    [
        ("sklearn.neighbors._kd_tree.KDTree", "class", True),
        ("sklearn.utils._bunch.Bunch", "class", True),
        ("scipy.sparse._csr.csr_matrix", "class", True),
        ("numpy.clip", "function", True),
        ("numpy.log1p", "function", True),
        ("scipy.special._special_ufuncs.expit", "function", True),
        ("sklearn.feature_selection._univariate_selection.chi2", "function", True),
        ("sklearn.utils.validation.check_array", "function", False),
        ("sklearn.base.BaseEstimator.get_params", "function", False),
        ("sklearn.utils._mocking.CheckingClassifier", "unknown", False),
        ("numpy.vectorize", "unknown", False),
        ("sklearn.does_not_exist.Thing", "unknown", False),
        ("scipy.stats.norm", "unknown", False),
        ("django.core.management.call_command", "unknown", False),
        ("celery.app.Celery", "unknown", False),
        ("hydra.utils.instantiate", "unknown", False),
        ("scipy.io.loadmat", "unknown", False),
        ("scipy.sparse.save_npz", "unknown", False),
        ("os.system", "unknown", False),
        ("mycompany.Model", "unknown", False),
    ],
)
def test_describe_type_names_what_a_type_is_and_whether_a_reviewer_may_trust_it(
    name: str, kind: str, may_trust: bool
) -> None:
    info = describe_type(name)
    assert (info.kind, info.reviewer_may_trust) == (kind, may_trust), info.explanation
    assert info.name == name and name in info.explanation
    if not may_trust and not is_forbidden_type(name):
        assert "MODELGATE_EXTRA_TRUSTED_TYPES" in info.explanation


def test_describe_type_never_imports_a_module_outside_the_curated_packages() -> None:
    import sys

    assert "antigravity" not in sys.modules
    assert not describe_type("antigravity.geohash").reviewer_may_trust
    assert "antigravity" not in sys.modules
