from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from releases.models import ModelVersion
from tests.factories import ModelVersionFactory
from tests.releases import model_files as mf


@pytest.mark.django_db
def test_upload_model_command_uploads_as_the_user_with_evaluation_data(
    tmp_path, owner, risk_model, media_root, django_capture_on_commit_callbacks
):
    artifact = tmp_path / "model.skops"
    artifact.write_bytes(mf.skops_pipeline_bytes())
    csv = tmp_path / "eval.csv"
    csv.write_bytes(mf.evaluation_csv_bytes())
    out = StringIO()
    with django_capture_on_commit_callbacks() as callbacks:
        call_command(
            "upload_model", "credit-risk", str(artifact), "--as", "dana",
            "--evaluation-data", str(csv), "--target", mf.TARGET, stdout=out,
        )  # fmt: skip
    assert "Uploaded credit-risk v1 (skops" in out.getvalue()
    version = ModelVersion.objects.get()
    assert version.uploaded_by == owner
    assert version.evaluation_dataset.target == mf.TARGET
    assert len(callbacks) == 1  # validation queued once the row is committed


@pytest.mark.django_db
def test_upload_model_command_refuses_another_teams_model_and_pickles(
    tmp_path, outsider, owner, risk_model, media_root
):
    artifact = tmp_path / "model.skops"
    artifact.write_bytes(mf.skops_pipeline_bytes())
    with pytest.raises(CommandError, match="No model named 'credit-risk' is visible to you"):
        call_command("upload_model", "credit-risk", str(artifact), "--as", "gus")
    pickled = tmp_path / "model.pkl"
    pickled.write_bytes(mf.pickle_reduce_payload(tmp_path / "pwned"))
    with pytest.raises(CommandError, match="skops"):
        call_command("upload_model", "credit-risk", str(pickled), "--as", "dana")
    assert not (tmp_path / "pwned").exists()
    assert not ModelVersion.objects.exists()


@pytest.mark.django_db
def test_versions_waiting_for_a_type_an_admin_then_allows_are_queued(
    settings, owner, risk_model, django_capture_on_commit_callbacks
):
    version = ModelVersionFactory(registered_model=risk_model, untrusted_types=["mylib.Scaler"])
    out = StringIO()
    with django_capture_on_commit_callbacks() as callbacks:
        call_command("validate_pending", stdout=out)
    assert len(callbacks) == 0 and "waits for trust of mylib.Scaler" in out.getvalue()

    settings.MODELGATE_EXTRA_TRUSTED_TYPES = frozenset({"mylib.Scaler"})
    assert version.pending_trust == []
    with django_capture_on_commit_callbacks() as callbacks:
        call_command("validate_pending", stdout=StringIO())
    assert len(callbacks) == 1
