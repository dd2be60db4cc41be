"""Issue 8's attacks against validation itself, with the policy checks turned off (as only a
test may) to show that the sandbox alone contains them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from releases.artifact_safety import DEFAULT_TRUSTED_TYPES
from releases.sandbox import SandboxFailure, SandboxLimits
from releases.sandbox.validation import validate_in_sandbox
from tests.releases import sandbox_models as sm


def validate(artifact: Path, csv: Path, target: str, *, mode: str) -> dict[str, Any]:
    return validate_in_sandbox(
        artifact_path=artifact,
        artifact_format="skops",
        trusted=DEFAULT_TRUSTED_TYPES,
        evaluation_path=csv,
        target=target,
        max_rows=1000,
        max_uncompressed_bytes=10**9,
        max_entries=1000,
        max_schema_bytes=16 * 1024**2,
        limits=SandboxLimits(memory_mb=2048, cpu_seconds=60, wall_seconds=120),
        mode=mode,
        parameter_policy=False,
        structure_checks=False,
    )


@pytest.fixture
def file_read_attack(tmp_path: Path) -> tuple[Path, Path]:
    secret = tmp_path / "server" / "secret_key"
    secret.parent.mkdir()
    secret.write_text(sm.SECRET_TEXT)
    artifact = tmp_path / "reader.skops"
    artifact.write_bytes(sm.file_reading_model(tmp_path))
    csv = tmp_path / "evaluation.csv"
    csv.write_bytes(sm.file_reading_csv(secret))
    return artifact, csv


def test_file_reading_model_leaks_a_file_without_bubblewrap(file_read_attack):
    # The control: the attack works in a plain child process (the fallback), so the next test
    # shows bubblewrap, not a broken model, is what stops it.
    report = validate(*file_read_attack, "target", mode="process")
    assert report["evaluation"]["metrics"]["mae"] == pytest.approx(6.5)


def test_file_reading_model_cannot_read_a_file_outside_the_sandbox(file_read_attack):
    with pytest.raises(SandboxFailure) as caught:
        validate(*file_read_attack, "target", mode="bwrap")
    assert caught.value.kind == "unusable"
    assert sm.SECRET_TEXT not in caught.value.message


@pytest.mark.parametrize("mode", ["bwrap", "process"])
def test_segfaulting_tree_ends_crashed_while_evaluating(tmp_path, mode):
    artifact_bytes, csv_bytes = sm.segfaulting_tree()
    artifact, csv = tmp_path / "tree.skops", tmp_path / "evaluation.csv"
    artifact.write_bytes(artifact_bytes)
    csv.write_bytes(csv_bytes)
    with pytest.raises(SandboxFailure) as caught:
        validate(artifact, csv, "y", mode=mode)
    assert caught.value.kind == "crashed"
    assert caught.value.message.startswith("The model crashed while evaluating")
