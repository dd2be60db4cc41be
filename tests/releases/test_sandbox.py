"""The sandbox runner, attacked directly: each probe (tests/releases/sandbox_probes) performs one
attack or misbehaviour in the child. No database, no broker."""

from __future__ import annotations

import json
import logging
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from releases.sandbox import (
    SandboxFailure,
    SandboxLimits,
    SandboxUnavailable,
    describe_mode,
    resolve_mode,
    run_operation,
    runner,
)

BASE_DIR = Path(__file__).resolve().parents[2]
PROBES = Path(__file__).resolve().parent / "sandbox_probes"
BOTH_MODES = pytest.mark.parametrize("mode", ["bwrap", "process"])
SMALL = SandboxLimits(memory_mb=1024, cpu_seconds=2, wall_seconds=20)


def probe(
    name: str,
    *,
    mode: str,
    args: dict[str, Any] | None = None,
    limits: SandboxLimits = SMALL,
    inputs: dict[str, Path] | None = None,
    stages: list[str] | None = None,
) -> tuple[Any, list[str]]:
    seen: list[str] = []
    result = run_operation(
        operation=f"sandbox_probes:{name}",
        args=args or {},
        inputs=inputs or {},
        limits=limits,
        mode=mode,
        on_stage=seen.append,
        stages=stages,
        code_packages=(BASE_DIR / "releases", PROBES),
    )
    return result, seen


def failure(name: str, **kwargs: Any) -> SandboxFailure:
    with pytest.raises(SandboxFailure) as caught:
        probe(name, **kwargs)
    return caught.value


def test_bubblewrap_works_on_this_machine():
    # The isolation tests below are meaningless if "bwrap" silently meant something else.
    assert runner.bwrap_available(), "install bubblewrap: make sandbox-deps"
    assert resolve_mode("bwrap") == "bwrap"
    assert describe_mode("auto") == "bwrap"


# --- What the child can see -------------------------------------------------------------------


def test_child_cannot_read_files_outside_its_view(tmp_path, settings):
    secret = tmp_path / "outside" / "secret.txt"
    secret.parent.mkdir()
    secret.write_text("top secret")
    targets = [
        str(secret),
        str(settings.VAR_DIR / "secret_key"),
        str(BASE_DIR / "var" / "secret_key"),
        str(settings.DATABASES["default"]["NAME"]),
        str(BASE_DIR / "manage.py"),
        str(BASE_DIR / "webapp" / "settings.py"),
        "/etc/shadow",
        "/etc/passwd",
        "/root/.bash_history",
    ]
    assert secret.exists() and (settings.VAR_DIR / "secret_key").exists()

    result, _ = probe("read_files", mode="bwrap", args={"paths": targets})

    found = result.data["found"]
    assert {path: found[path] for path in targets} == {
        path: {"error": "FileNotFoundError"} for path in targets
    }


def test_child_reads_its_own_inputs_and_returns_json_and_arrays(tmp_path):
    source = tmp_path / "input.txt"
    source.write_text("hello")
    for mode in ("bwrap", "process"):
        result, stages = probe("arrays", mode=mode, inputs={"input.txt": source})
        assert result.data == {"echo": "hello"}
        assert result.arrays["values"].tolist() == [[0, 1, 2], [3, 4, 5]]
        assert stages == ["loading model", "evaluating"]
        assert result.mode == mode


def test_only_the_stages_the_caller_expects_are_reported(tmp_path):
    source = tmp_path / "input.txt"
    source.write_text("x")
    _, stages = probe("arrays", mode="bwrap", inputs={"input.txt": source}, stages=["evaluating"])
    assert stages == ["evaluating"]


def test_child_has_no_network():
    # PostgreSQL listens here in development and CI; the child must not reach it.
    result, _ = probe("connect", mode="bwrap", args={"host": "127.0.0.1", "port": 5432})
    assert result.data["connected"] is False


@BOTH_MODES
def test_child_environment_is_cleared(mode, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgres://user:pw@db/modelgate")
    monkeypatch.setenv("SECRET_KEY", "s" * 60)
    monkeypatch.setenv("CELERY_BROKER_URL", "redis://127.0.0.1:6379/0")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "aws-secret")

    result, _ = probe("environment", mode=mode)

    env = result.data["environ"]
    for name in ("DATABASE_URL", "SECRET_KEY", "CELERY_BROKER_URL", "AWS_SECRET_ACCESS_KEY"):
        assert name not in env
    assert not any("secret" in value.lower() for value in env.values())
    assert result.data["listing"] == ["tmp"]  # a private, empty working directory


@BOTH_MODES
def test_every_thread_pool_in_the_child_is_capped_at_one_thread(mode):
    """bubblewrap's --clearenv used to drop these: the child then started a thread (stack,
    malloc arena, BLAS buffer) per core, and how much memory a job needed depended on the
    machine it ran on."""
    result, _ = probe("environment", mode=mode)

    env = result.data["environ"]
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        assert env[name] == "1"
    assert env["ARROW_DEFAULT_MEMORY_POOL"] == "system"
    assert env["TMPDIR"].endswith("/tmp")


def test_a_result_file_symlinked_to_a_host_file_is_not_read(tmp_path):
    host_file = tmp_path / "host-secret.json"
    host_file.write_text(json.dumps({"outcome": "ok", "data": "host secret"}))
    for mode in ("bwrap", "process"):
        caught = failure("symlink_result", mode=mode, args={"target": str(host_file)})
        assert caught.kind == "internal"
        assert "host secret" not in caught.message


# --- How it ends ------------------------------------------------------------------------------


@BOTH_MODES
def test_a_segfault_is_reported_as_a_crash_with_its_stage(mode):
    caught = failure("segfault", mode=mode)
    assert caught.kind == "crashed"
    assert caught.stage == "loading model"
    assert caught.message.startswith("The model crashed while loading")


@BOTH_MODES
def test_a_segfault_in_a_child_of_a_big_worker_is_still_a_crash(mode):
    """Linux carries the parent's peak RSS into each child's ru_maxrss; a worker that once
    used 900 MB (more than 80% of the child's limit) must not make every crash look like
    running out of memory."""
    ballast = bytearray(b"\x01") * (900 * 1024**2)
    del ballast
    caught = failure("segfault", mode=mode)
    assert caught.kind == "crashed"


@BOTH_MODES
def test_allocating_10_gb_is_reported_as_memory(mode):
    caught = failure("allocate", mode=mode, args={"gigabytes": 10})
    assert caught.kind == "memory"
    assert "used more than 1024 MB of memory while evaluating" in caught.message


@BOTH_MODES
def test_memory_written_a_block_at_a_time_is_reported_as_memory(mode):
    caught = failure("allocate_in_steps", mode=mode, args={"gigabytes": 4})
    assert caught.kind == "memory"
    assert "used more than 1024 MB of memory while evaluating" in caught.message


@BOTH_MODES
def test_address_space_reserved_and_never_written_is_not_memory(mode):
    """JIT compilers, allocators and thread pools reserve far more address space than they
    use: under a limit on address space, 8 GB reserved failed a job that used almost nothing."""
    result, _ = probe("reserve", mode=mode, args={"gigabytes": 8})
    assert result.data == {"reserved": 8 * 1024**3}


@BOTH_MODES
def test_an_endless_loop_ends_at_the_cpu_limit(mode):
    started = time.monotonic()
    caught = failure("spin", mode=mode, limits=SandboxLimits(cpu_seconds=2, wall_seconds=30))
    assert caught.kind == "cpu"
    assert "did not finish within 2 s of CPU time while evaluating" in caught.message
    assert time.monotonic() - started < 15


@BOTH_MODES
def test_a_child_that_waits_ends_at_the_wall_clock_deadline(mode):
    started = time.monotonic()
    caught = failure(
        "sleep", mode=mode, args={"seconds": 600}, limits=SandboxLimits(wall_seconds=2)
    )
    assert caught.kind == "deadline"
    assert caught.message.startswith("The model did not finish within 2 s while reading")
    assert time.monotonic() - started < 10


@BOTH_MODES
def test_an_unexpected_error_gives_the_user_a_reference_and_logs_the_details(mode, caplog):
    with caplog.at_level(logging.ERROR, logger="releases.sandbox.runner"):
        caught = failure("read_files", mode=mode, args={})  # KeyError: 'paths'
    assert caught.kind == "internal"
    assert caught.reference and caught.reference in caught.message
    assert "KeyError" not in caught.message and "/" not in caught.message
    assert f"reference={caught.reference}" in caplog.text
    assert "KeyError: 'paths'" in caplog.text


def _processes_with(marker: str) -> list[int]:
    """Live host processes running ``sleep <marker>`` (zombies do not count)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[-1].split()[0]
        except OSError:
            continue
        argv = cmdline.split(b"\0")
        if argv[0].endswith(b"sleep") and argv[1:2] == [marker.encode()] and state != "Z":
            found.append(int(entry.name))
    return found


def _gone(marker: str, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while _processes_with(marker):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


@BOTH_MODES
def test_the_deadline_kills_everything_the_child_started(mode):
    marker = f"{600 + secrets.randbelow(10**6) / 10**7:.7f}"  # `sleep 600.0123456`
    with pytest.raises(SandboxFailure) as caught:
        probe(
            "spawn_and_wait",
            mode=mode,
            args={"marker": marker},
            limits=SandboxLimits(wall_seconds=3),
        )
    assert caught.value.kind == "deadline"
    assert _gone(marker)


def _kill_a_worker_mid_operation(
    mode: str, marker: str, tmp_path: Path, pid_file: Path | None = None
) -> None:
    """Run an operation from a separate "worker" process, then SIGKILL that worker (whose
    sandbox directory, left behind, goes to tmp_path)."""
    script = (
        "import sys; from pathlib import Path; from releases.sandbox import *\n"
        "args = {'marker': sys.argv[1], 'pid_file': sys.argv[4]}\n"
        "run_operation(operation='sandbox_probes:spawn_and_wait', args=args, inputs={},"
        " limits=SandboxLimits(wall_seconds=600), mode=sys.argv[2],"
        " code_packages=(Path('releases').resolve(), Path(sys.argv[3])))\n"
    )
    worker = subprocess.Popen(
        [sys.executable, "-c", script, marker, mode, str(PROBES), str(pid_file or "")],
        cwd=BASE_DIR, env={**os.environ, "PYTHONPATH": str(BASE_DIR), "TMPDIR": str(tmp_path)},
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not _processes_with(marker) or (pid_file and not pid_file.exists()):
            assert worker.poll() is None and time.monotonic() < deadline, "probe never started"
            time.sleep(0.1)
    finally:
        worker.kill()  # no chance to clean up
        worker.wait()


def test_a_worker_killed_mid_validation_leaves_no_sandboxed_process(tmp_path):
    marker = f"{600 + secrets.randbelow(10**6) / 10**7:.7f}"  # `sleep 600.0123456`
    _kill_a_worker_mid_operation("bwrap", marker, tmp_path)
    assert _gone(marker)  # bubblewrap's --die-with-parent takes the whole pid namespace down


def test_without_bubblewrap_a_killed_worker_takes_its_child_along(tmp_path):
    marker = f"{600 + secrets.randbelow(10**6) / 10**7:.7f}"
    pid_file = tmp_path / "child.pid"
    _kill_a_worker_mid_operation("process", marker, tmp_path, pid_file)
    child = int(pid_file.read_text())
    try:
        deadline = time.monotonic() + 10
        while _alive(child):
            assert time.monotonic() < deadline, "the sandboxed child outlived its worker"
            time.sleep(0.1)
    finally:
        # What the child itself started outlives a SIGKILLed worker in this mode (no pid
        # namespace): a known limit of the fallback. Clean up after the test.
        for pid in _processes_with(marker):
            os.kill(pid, 9)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


# --- Modes ------------------------------------------------------------------------------------


@pytest.fixture
def no_bwrap(monkeypatch):
    monkeypatch.setattr(runner, "BWRAP", "/nonexistent/bwrap")
    monkeypatch.setattr(runner, "_bwrap_works", None)
    monkeypatch.setattr(runner, "_fallback_warned", False)
    yield
    monkeypatch.setattr(runner, "_bwrap_works", None)


def test_required_bwrap_that_is_missing_fails_loudly(no_bwrap):
    with pytest.raises(SandboxUnavailable, match="install the bubblewrap package"):
        resolve_mode("bwrap")
    with pytest.raises(SandboxUnavailable):
        probe("environment", mode="bwrap")


def test_auto_falls_back_to_a_plain_child_process_and_says_so(no_bwrap, caplog):
    with caplog.at_level(logging.WARNING, logger="releases.sandbox.runner"):
        result, _ = probe("environment", mode="auto")
    assert result.mode == "process"
    assert "NO isolation of files and network" in caplog.text
    assert describe_mode("auto") == (
        "process (no isolation of files and network: install bubblewrap)"
    )


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"MODELGATE_SANDBOX": "chroot"}, "MODELGATE_SANDBOX='chroot' is not valid"),
        ({"MODELGATE_SANDBOX_MEMORY_MB": "lots"}, "MODELGATE_SANDBOX_MEMORY_MB='lots'"),
        (
            {"MODELGATE_SANDBOX_WALL_SECONDS": "1600"},
            "Need MODELGATE_SANDBOX_WALL_SECONDS < CELERY_TASK_SOFT_TIME_LIMIT",
        ),
    ],
)
def test_bad_sandbox_settings_stop_startup_with_their_name(env, message):
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=BASE_DIR, env={**os.environ, **env}, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode != 0
    assert message in result.stderr


# --- /readyz ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_readyz_details_name_the_sandbox(client, settings):
    body = client.get("/readyz").json()
    assert body["details"]["sandbox"] == "bwrap"
    assert body["checks"]["sandbox"] == "ok"

    settings.MODELGATE_SANDBOX = "process"
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["details"]["sandbox"] == (
        "process (no isolation of files and network: install bubblewrap)"
    )


@pytest.mark.django_db
def test_readyz_is_503_when_required_bubblewrap_cannot_run(client, settings, no_bwrap):
    settings.MODELGATE_SANDBOX = "bwrap"
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["sandbox"].startswith("sandbox unavailable")


def test_the_child_imports_no_django():
    # The child runs only plain modules: no settings, no database connection, no secrets.
    code = (
        "import sys\n"
        "import releases.sandbox.child, releases.sandbox.validation, releases.validation\n"
        "import releases.signature, releases.artifact_safety\n"
        "print(sorted(m for m in sys.modules if m == 'django' or m.startswith('django.')))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=BASE_DIR, env=env, capture_output=True, text=True,
        timeout=120, check=True,
    )  # fmt: skip
    assert result.stdout.strip() == "[]"
