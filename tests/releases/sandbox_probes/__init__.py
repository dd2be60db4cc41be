"""Operations the sandbox tests run in the child: each performs one attack or misbehaviour.

A standalone package (bound into the sandbox on its own); it imports nothing from the project.
"""

from __future__ import annotations

import ctypes
import os
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

Result = tuple[dict[str, Any], dict[str, Any]]


def read_files(
    *, args: dict[str, Any], inputs: Path, work: Path, on_stage: Callable[[str], None]
) -> Result:
    """Try to read each path; report what was read or the error class."""
    found: dict[str, Any] = {}
    for path in args["paths"]:
        try:
            found[path] = {"content": Path(path).read_text(errors="replace")[:200]}
        except OSError as exc:
            found[path] = {"error": type(exc).__name__}
    return {"found": found}, {}


def connect(
    *, args: dict[str, Any], inputs: Path, work: Path, on_stage: Callable[[str], None]
) -> Result:
    try:
        with socket.create_connection((args["host"], args["port"]), timeout=3):
            return {"connected": True}, {}
    except OSError as exc:
        return {"connected": False, "error": type(exc).__name__}, {}


def environment(
    *, args: dict[str, Any], inputs: Path, work: Path, on_stage: Callable[[str], None]
) -> Result:
    return {"environ": dict(os.environ), "cwd": os.getcwd(), "listing": os.listdir(".")}, {}


def segfault(
    *, args: dict[str, Any], inputs: Path, work: Path, on_stage: Callable[[str], None]
) -> Result:
    on_stage("loading model")
    ctypes.string_at(0)
    return {}, {}


def allocate(
    *, args: dict[str, Any], inputs: Path, work: Path, on_stage: Callable[[str], None]
) -> Result:
    on_stage("evaluating")
    block = bytearray(args["gigabytes"] * 1024**3)
    return {"allocated": len(block)}, {}


def allocate_in_steps(
    *, args: dict[str, Any], inputs: Path, work: Path, on_stage: Callable[[str], None]
) -> Result:
    """Write memory 64 MB at a time, keeping every block, up to ``gigabytes``."""
    on_stage("evaluating")
    blocks = [b"\x01" * (64 * 1024**2) for _ in range(args["gigabytes"] * 16)]
    return {"allocated": sum(map(len, blocks))}, {}


def reserve(
    *, args: dict[str, Any], inputs: Path, work: Path, on_stage: Callable[[str], None]
) -> Result:
    """Reserve address space and never write to it, as JIT compilers and allocators do."""
    import mmap

    on_stage("evaluating")
    region = mmap.mmap(
        -1,
        args["gigabytes"] * 1024**3,
        flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS,
        prot=0,  # PROT_NONE
    )
    return {"reserved": len(region)}, {}


def spin(
    *, args: dict[str, Any], inputs: Path, work: Path, on_stage: Callable[[str], None]
) -> Result:
    on_stage("evaluating")
    while True:
        pass


def sleep(
    *, args: dict[str, Any], inputs: Path, work: Path, on_stage: Callable[[str], None]
) -> Result:
    on_stage("reading signature")
    time.sleep(args["seconds"])
    return {}, {}


def arrays(
    *, args: dict[str, Any], inputs: Path, work: Path, on_stage: Callable[[str], None]
) -> Result:
    import numpy as np

    for stage in ("loading model", "evaluating"):
        on_stage(stage)
    text = (inputs / "input.txt").read_text()
    return {"echo": text}, {"values": np.arange(6, dtype=np.float64).reshape(2, 3)}


def symlink_result(
    *, args: dict[str, Any], inputs: Path, work: Path, on_stage: Callable[[str], None]
) -> Result:
    """Leave result.json as a symlink to a host file and exit before the real result is written:
    the parent must not read the host file for the child."""
    os.symlink(args["target"], work / "result.json")
    os._exit(0)


def spawn_and_wait(
    *, args: dict[str, Any], inputs: Path, work: Path, on_stage: Callable[[str], None]
) -> Result:
    """Start a grandchild in the same process group whose command line carries a marker the
    test looks for, then wait forever."""
    import subprocess

    subprocess.Popen(["sleep", args["marker"]])
    if args.get("pid_file"):  # only writable without bubblewrap
        Path(args["pid_file"]).write_text(str(os.getpid()))
    on_stage("evaluating")
    time.sleep(600)
    return {}, {}
