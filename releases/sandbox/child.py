"""The child side: limit itself, run one operation, write plain data, exit.

Runs before anything reads the user's files, so the limits are in place (and, being lowered hard
limits, cannot be raised again) when the model is loaded. Imports no Django.
"""

from __future__ import annotations

import importlib
import json
import os
import resource
import sys
import traceback
from pathlib import Path
from typing import Any


class OperationRefused(Exception):
    """An operation's verdict on its input ("unsafe" or "unusable"), with a message for the
    user; the parent turns it into a `SandboxFailure` of that kind."""

    def __init__(self, kind: str, code: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.code = code
        self.message = message


def _limit(limits: dict[str, int]) -> None:
    mb = 1024 * 1024
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    # RLIMIT_DATA, not RLIMIT_AS: address space also counts the libraries' code (llvmlite's
    # alone is 160 MB) and ranges that allocators and thread pools reserve and never touch, so
    # small models failed under RLIMIT_AS. Since Linux 4.7 this counts private writable mappings
    # (heap, anonymous memory, thread stacks) when they are made, touched or not: a model that
    # asks for 10 GB still fails at once, with MemoryError.
    resource.setrlimit(resource.RLIMIT_DATA, (limits["memory_mb"] * mb,) * 2)
    # SIGXCPU at the soft limit; the kernel's SIGKILL at the hard one if that is ignored. The
    # limit counts the process's whole life, so the job's allowance starts from what importing
    # the libraries (in a warm child, before the job) already used.
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = int(usage.ru_utime + usage.ru_stime) + limits["cpu_seconds"]
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 2))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits["file_mb"] * mb,) * 2)
    resource.setrlimit(resource.RLIMIT_NOFILE, (limits["open_files"],) * 2)


def _write_result(work: Path, outcome: dict[str, Any]) -> None:
    try:
        text = json.dumps(outcome, allow_nan=False)
    except (TypeError, ValueError):
        traceback.print_exc()
        text = json.dumps({"outcome": "internal"})
    partial = work / "result.json.partial"
    partial.write_text(text)
    os.replace(partial, work / "result.json")


def _die_with_parent() -> None:
    """Without bubblewrap's --die-with-parent, a worker killed mid-validation would leave this
    process running (the parent enforces the wall clock): ask the kernel to kill it instead."""
    import ctypes
    import signal

    parent = os.getppid()
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


# What a warm child imports while it waits for a job: the libraries every operation needs, so
# a job does not pay for them (about a second, mostly scikit-learn's estimator discovery that
# skops runs at import). Nothing here reads a user's file.
_PRELOAD = (
    "numpy", "pandas", "scipy.stats", "sklearn.metrics", "skops.io", "onnx", "onnxruntime",
    "releases.validation",
)  # fmt: skip


def _preload() -> None:
    for name in _PRELOAD:
        try:
            importlib.import_module(name)
        except Exception:  # best effort: the job imports what it needs anyway
            traceback.print_exc()


def main(in_dir: str, work_dir: str, start: str = "cold") -> None:
    _die_with_parent()
    if start == "warm":
        _preload()
    # The job starts when the parent says so: its inputs are in place only then.
    if sys.stdin.readline().strip() != "go":
        os._exit(0)  # the worker discarded this spare
    inputs, work = Path(in_dir), Path(work_dir)
    request = json.loads((inputs / "request.json").read_text())
    _limit(request["limits"])

    # Stdout is the progress channel; whatever a library prints goes to stderr instead.
    progress = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)

    def on_stage(stage: str) -> None:
        progress.write(f"stage:{stage}\n")
        progress.flush()

    outcome: dict[str, Any]
    try:
        module_name, function_name = request["operation"].split(":")
        function = getattr(importlib.import_module(module_name), function_name)
        data, arrays = function(args=request["args"], inputs=inputs, work=work, on_stage=on_stage)
        if arrays:
            import numpy as np

            np.savez(work / "arrays.npz", **arrays)
        outcome = {"outcome": "ok", "data": data, "arrays": bool(arrays)}
    except OperationRefused as exc:
        outcome = {"outcome": exc.kind, "code": exc.code, "message": exc.message}
    except MemoryError:
        outcome = {"outcome": "memory"}
    except BaseException:
        traceback.print_exc()
        outcome = {"outcome": "internal"}
    _write_result(work, outcome)
    sys.stderr.flush()
    progress.close()
    # Skip interpreter teardown: some native libraries crash in their exit handlers, and the
    # result is already written.
    os._exit(0)
