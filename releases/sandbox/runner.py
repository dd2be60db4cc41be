"""The parent side: start the child, feed it copies of its inputs, watch it, classify its end.

What the child gets, in both modes: a private empty working directory (its only writable place),
copies of its input files, a cleared environment (no secrets, no database or broker URLs, one
thread per numeric library) and rlimits on data (private writable memory), CPU seconds, file
size, open files and core size, which it sets on itself before it reads anything. The parent
enforces a wall-clock deadline by killing the child's whole process group.

With bubblewrap (``mode="bwrap"``) the child also runs in fresh namespaces with no network and no
capabilities, and sees only: the Python environment (the virtualenv and the Python it points to,
read-only), the system libraries (read-only), the code packages it needs (read-only; never the
project root, whose ``var/`` holds the secret key and the database), its inputs (read-only) and
its working directory. Without bubblewrap (``mode="process"``) the child is a plain process with
the same limits, which can read whatever the worker's user can: the logs and ``/readyz`` say so.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import resource
import selectors
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

BWRAP = "/usr/bin/bwrap"
MODES = ("auto", "bwrap", "process")
PROCESS_MODE_DESCRIPTION = "process (no isolation of files and network: install bubblewrap)"

# The directory that holds the `releases` package. Only packages inside it are bound, never it.
# `explain` holds the SHAP report's operation (plain modules; its Django parts are never imported).
PROJECT_DIR = Path(__file__).resolve().parent.parent.parent
CODE_PACKAGES: tuple[Path, ...] = (PROJECT_DIR / "releases", PROJECT_DIR / "explain")

# Where things appear inside the bubblewrap sandbox.
_CODE = "/sandbox/code"
_IN = "/sandbox/in"
_WORK = "/sandbox/work"

_MAX_RESULT_BYTES = 64 * 1024**2
_MAX_ARRAYS_BYTES = 512 * 1024**2
_STDERR_LOGGED = 8000
_MAX_PROGRESS_LINE = 200

# The child imports its code from argv[1] before anything else, then sets its own limits. A
# "warm" child first imports the numeric libraries and waits for its job on stdin (see `_Spare`).
_BOOTSTRAP = (
    "import sys; sys.path[:0] = sys.argv[1].split(':'); "
    "from releases.sandbox.child import main; main(sys.argv[2], sys.argv[3], sys.argv[4])"
)

# Reads best in "the model crashed while <phrase>".
_STAGE_PHRASES = {
    "starting": "starting",
    "loading model": "loading",
    "reading signature": "reading its signature",
    "evaluating": "evaluating",
    "done": "finishing",
}


@dataclass(frozen=True)
class SandboxLimits:
    memory_mb: int = 2048
    cpu_seconds: int = 600
    wall_seconds: int = 900
    file_mb: int = 512
    open_files: int = 256


@dataclass
class SandboxResult:
    """What the child sent back: JSON data and numpy arrays (loaded without pickle)."""

    data: Any
    arrays: dict[str, Any] = field(default_factory=dict)
    mode: str = ""
    seconds: float = 0.0


class SandboxUnavailable(RuntimeError):
    """``MODELGATE_SANDBOX=bwrap`` was asked for but bubblewrap cannot create a sandbox here."""


class SandboxFailure(Exception):
    """The operation did not complete. ``message`` is a sentence for the user (never exception
    text or paths); ``kind`` is one of crashed, memory, cpu, deadline, unsafe, unusable,
    internal; ``code`` is the slug stored with the failure (the artifact policy's own code for
    "unsafe", else the kind)."""

    def __init__(
        self, kind: str, message: str, *, code: str = "", stage: str = "", reference: str = ""
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.code = code or kind
        self.message = message
        self.stage = stage
        self.reference = reference

    def __repr__(self) -> str:
        return f"SandboxFailure(kind={self.kind!r}, code={self.code!r}, stage={self.stage!r})"


# --- Mode -------------------------------------------------------------------------------------

_bwrap_works: bool | None = None
_fallback_warned = False


def _system_binds() -> list[str]:
    """Read-only binds of the system directories an interpreter needs (merged-/usr symlinks are
    recreated as symlinks), plus the virtualenv and the Python it was made from."""
    args: list[str] = []
    for top in ("/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin"):
        if os.path.islink(top):
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            args += ["--ro-bind", top, top]
    seen: set[str] = set()
    for prefix in (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix):
        for path in {prefix, os.path.realpath(prefix)}:
            if path in seen or path.startswith("/usr/") or not os.path.isdir(path):
                continue
            seen.add(path)
            args += ["--ro-bind", path, path]
    return args


def _bwrap_base() -> list[str]:
    return [
        BWRAP,
        "--unshare-all",
        "--die-with-parent",
        "--new-session",
        "--cap-drop",
        "ALL",
        "--hostname",
        "sandbox",
        *_system_binds(),
        "--proc",
        "/proc",
        "--dev",
        "/dev",
    ]


def bwrap_available() -> bool:
    """Probe once per process whether bubblewrap can build the sandbox on this machine (user
    namespaces may be disabled, e.g. inside some containers)."""
    global _bwrap_works
    if _bwrap_works is None:
        if not os.access(BWRAP, os.X_OK):
            _bwrap_works = False
        else:
            try:
                probe = subprocess.run(
                    [*_bwrap_base(), "--", _python(), "-I", "-c", "pass"],
                    stdin=subprocess.DEVNULL,
                    capture_output=True,
                    timeout=30,
                    check=False,
                    env={},
                )
                _bwrap_works = probe.returncode == 0
                if not _bwrap_works:
                    logger.warning(
                        "bubblewrap is installed but cannot create a sandbox: %s",
                        probe.stderr.decode(errors="replace")[:500],
                    )
            except (OSError, subprocess.TimeoutExpired):
                _bwrap_works = False
    return _bwrap_works


def resolve_mode(configured: str) -> str:
    """ "bwrap" or "process" for a configured auto|bwrap|process; raises `SandboxUnavailable`
    when bwrap is required and does not work."""
    global _fallback_warned
    if configured not in MODES:
        raise ValueError(f"sandbox mode must be one of {', '.join(MODES)}")
    if configured == "process":
        return "process"
    if bwrap_available():
        return "bwrap"
    if configured == "bwrap":
        raise SandboxUnavailable(
            f"MODELGATE_SANDBOX=bwrap but bubblewrap ({BWRAP}) cannot create a sandbox on this "
            "machine: install the bubblewrap package (and allow user namespaces), or set "
            "MODELGATE_SANDBOX=auto."
        )
    if not _fallback_warned:
        _fallback_warned = True
        logger.warning(
            "bubblewrap is not available: models run in a plain child process with resource "
            "limits and a cleared environment but NO isolation of files and network. Install "
            "bubblewrap (apt-get install bubblewrap)."
        )
    return "process"


def describe_mode(configured: str) -> str:
    """For /readyz: which sandbox validations run in."""
    return "bwrap" if resolve_mode(configured) == "bwrap" else PROCESS_MODE_DESCRIPTION


# --- Running ----------------------------------------------------------------------------------


def run_operation(
    *,
    operation: str,
    args: Mapping[str, Any],
    inputs: Mapping[str, Path],
    limits: SandboxLimits,
    mode: str = "auto",
    on_stage: Callable[[str], None] = lambda stage: None,
    stages: Collection[str] | None = None,
    code_packages: Sequence[Path] = CODE_PACKAGES,
    warm: bool = True,
) -> SandboxResult:
    """Run ``operation`` ("module:function", a fixed name from our code, never user input) in a
    child and return what it sent back, or raise `SandboxFailure`.

    ``inputs`` maps plain file names to files that are copied into the child's input directory;
    the function receives ``args`` (JSON) and the directory. ``on_stage`` is called with each
    stage the child reports (only names in ``stages`` when given). With ``warm``, the job goes to
    a spare child that has already imported the numeric libraries, and a new spare is started
    for the next job: each child still runs exactly one job.
    """
    for name in inputs:
        if not name or "/" in name or name.startswith(".") or name == "request.json":
            raise ValueError(f"input name {name!r} must be a plain file name")
    resolved = resolve_mode(mode)
    key = (resolved, tuple(str(p.resolve()) for p in code_packages))
    child = _take_spare(key) if warm else None
    if child is None:
        child = _Spare.start(resolved, code_packages, warm=False)
    try:
        try:
            for name, source in inputs.items():
                shutil.copyfile(source, child.in_dir / name)
            request = {"operation": operation, "args": dict(args), "limits": asdict(limits)}
            (child.in_dir / "request.json").write_text(json.dumps(request))
        except BaseException:
            child.discard()
            raise
        child.go()
        if warm:
            # Started now, it imports while this job runs and is ready for the next one.
            _spares[key] = _Spare.start(resolved, code_packages, warm=True)
        return _supervise(
            child.proc,
            limits=limits,
            mode=resolved,
            work_dir=child.work_dir,
            stderr_path=child.stderr_path,
            operation=operation,
            on_stage=on_stage,
            stages=stages,
            inherited_kb=child.inherited_kb,
        )
    finally:
        # rmtree never follows symlinks the child may have left in its working directory.
        shutil.rmtree(child.run_dir, ignore_errors=True)


class _Spare:
    """One sandboxed child and its private directories, started before its job is known.

    A warm child imports the numeric libraries (no user data exists yet), then blocks on stdin;
    `go` hands it the job the parent has just copied into its input directory (visible through
    the bind mount), and only then does it set its limits and read anything the user sent. It
    exits after that one job, so no state, file or process carries from one job to the next.
    """

    def __init__(self, proc: subprocess.Popen[bytes], run_dir: Path, inherited_kb: int) -> None:
        self.proc = proc
        self.run_dir = run_dir
        self.inherited_kb = inherited_kb
        self.in_dir = run_dir / "in"
        self.work_dir = run_dir / "work"
        self.stderr_path = run_dir / "stderr.log"

    @classmethod
    def start(cls, mode: str, code_packages: Sequence[Path], *, warm: bool) -> _Spare:
        run_dir = Path(tempfile.mkdtemp(prefix="modelgate-sandbox-"))
        (run_dir / "in").mkdir()
        (run_dir / "work").mkdir()
        (run_dir / "work" / "tmp").mkdir()
        env = _child_env(run_dir / "work" if mode == "process" else Path(_WORK))
        command, cwd = _command(
            mode, run_dir / "in", run_dir / "work", code_packages, env=env, warm=warm
        )
        # Linux carries the parent's peak RSS into the child's ru_maxrss through fork and exec,
        # so only a peak above this says the child itself grew (see `_classify`).
        inherited_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        with (run_dir / "stderr.log").open("wb") as stderr:
            # Its own session and process group, so the deadline kill reaches every descendant.
            proc = subprocess.Popen(
                command,
                cwd=cwd,
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=stderr,
                start_new_session=True,
                close_fds=True,
            )
        return cls(proc, run_dir, inherited_kb)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def go(self) -> None:
        assert self.proc.stdin is not None
        with contextlib.suppress(BrokenPipeError):  # it died waiting: `_supervise` tells why
            self.proc.stdin.write(b"go\n")
            self.proc.stdin.close()

    def discard(self) -> None:
        _kill_group(self.proc.pid)
        with contextlib.suppress(ChildProcessError):
            self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                stream.close()
        shutil.rmtree(self.run_dir, ignore_errors=True)


# At most one spare per (mode, code packages): a worker runs one job at a time.
_spares: dict[tuple[str, tuple[str, ...]], _Spare] = {}


def _take_spare(key: tuple[str, tuple[str, ...]]) -> _Spare | None:
    spare = _spares.pop(key, None)
    if spare is not None and not spare.alive():
        spare.discard()
        return None
    return spare


def discard_spares() -> None:
    """Stop the idle spare children (tests; a worker that shuts down kills them anyway)."""
    while _spares:
        _, spare = _spares.popitem()
        spare.discard()


def _child_env(work: Path) -> dict[str, str]:
    """Nothing from the worker's environment: no secrets, no database or broker URLs."""
    one = "1"
    return {
        "PATH": "/usr/bin:/bin",
        # Not the working directory itself: onnxruntime makes ~/.cache at import, and a warm
        # child imports it before its job, whose working directory must start empty.
        "HOME": str(work / "tmp"),
        "TMPDIR": str(work / "tmp"),
        "LANG": "C.UTF-8",
        "OMP_NUM_THREADS": one,
        "OPENBLAS_NUM_THREADS": one,
        "MKL_NUM_THREADS": one,
        "NUMEXPR_NUM_THREADS": one,
        "VECLIB_MAXIMUM_THREADS": one,
        "NUMBA_NUM_THREADS": one,
        # Arrow's default pool (mimalloc) commits a 1 GiB arena on pandas' first string column:
        # half of the default memory limit gone to a reservation the job never touches.
        "ARROW_DEFAULT_MEMORY_POOL": "system",
    }


def _python() -> str:
    # The venv's interpreter path (not the resolved binary), so the child finds the venv's
    # site-packages through pyvenv.cfg exactly as the worker does.
    return os.path.join(sys.prefix, "bin", "python")


def _command(
    mode: str,
    in_dir: Path,
    work_dir: Path,
    code_packages: Sequence[Path],
    *,
    env: Mapping[str, str],
    warm: bool,
) -> tuple[list[str], Path]:
    python = [_python(), "-I", "-B", "-c", _BOOTSTRAP]
    start = "warm" if warm else "cold"
    if mode == "process":
        roots = ":".join(dict.fromkeys(str(p.resolve().parent) for p in code_packages))
        return [*python, roots, str(in_dir), str(work_dir), start], work_dir
    binds: list[str] = []
    for package in code_packages:
        binds += ["--ro-bind", str(package.resolve()), f"{_CODE}/{package.name}"]
    command = [
        *_bwrap_base(),
        *binds,
        "--ro-bind",
        str(in_dir),
        _IN,
        "--bind",
        str(work_dir),
        _WORK,
        "--chdir",
        _WORK,
        # bubblewrap's own environment is not the child's: without these the child ran with
        # none, so every numeric library started one thread per core.
        "--clearenv",
        *(arg for name, value in env.items() for arg in ("--setenv", name, value)),
        "--",
        *python,
        _CODE,
        _IN,
        _WORK,
        start,
    ]
    return command, work_dir


def _supervise(
    proc: subprocess.Popen[bytes],
    *,
    limits: SandboxLimits,
    mode: str,
    work_dir: Path,
    stderr_path: Path,
    operation: str,
    on_stage: Callable[[str], None],
    stages: Collection[str] | None,
    inherited_kb: int = 0,
) -> SandboxResult:
    started = time.monotonic()
    deadline = started + limits.wall_seconds
    assert proc.stdout is not None
    progress_fd = proc.stdout.fileno()
    stage = "starting"
    timed_out = False
    pending = b""

    def take_lines(chunk: bytes) -> None:
        nonlocal pending, stage
        pending += chunk
        *lines, pending = pending.split(b"\n")
        if len(pending) > _MAX_PROGRESS_LINE:
            pending = b""  # not a progress line: the child's own protocol never writes this
        for raw in lines:
            line = raw.decode("utf-8", errors="replace").strip()
            if not line.startswith("stage:") or len(line) > _MAX_PROGRESS_LINE:
                continue
            name = line.removeprefix("stage:")
            if (stages is None or name in stages) and name != stage:
                stage = name
                on_stage(name)

    try:
        with selectors.DefaultSelector() as selector:
            selector.register(progress_fd, selectors.EVENT_READ)
            reading = True
            # WNOWAIT leaves the exited child unreaped, so its process group id cannot be reused
            # before the group kill below.
            while os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    timed_out = True
                    break
                if not reading:
                    time.sleep(min(remaining, 0.05))
                    continue
                if selector.select(timeout=min(remaining, 0.1)):
                    chunk = os.read(progress_fd, 4096)
                    if chunk:
                        take_lines(chunk)
                    else:
                        reading = False
                        selector.unregister(progress_fd)
            # Lines written just before the child exited.
            while reading and not timed_out and selector.select(timeout=0):
                chunk = os.read(progress_fd, 4096)
                if not chunk:
                    break
                take_lines(chunk)
    finally:
        # Whatever ended the wait (exit, deadline, Celery's soft time limit, a database error in
        # on_stage): kill the child's whole group, then reap it.
        _kill_group(proc.pid)
        _, status, rusage = os.wait4(proc.pid, 0)
        proc.stdout.close()
    proc.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.monotonic() - started
    outcome = _classify(
        returncode=proc.returncode,
        rusage=rusage,
        timed_out=timed_out,
        mode=mode,
        limits=limits,
        stage=stage,
        result=_read_json(work_dir / "result.json"),
        stderr_path=stderr_path,
        operation=operation,
        inherited_kb=inherited_kb,
    )
    arrays: dict[str, Any] = {}
    if outcome.get("arrays"):
        arrays = _read_arrays(work_dir / "arrays.npz", stderr_path, operation)
    return SandboxResult(data=outcome.get("data"), arrays=arrays, mode=mode, seconds=seconds)


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def _read_regular_file(path: Path, max_bytes: int) -> bytes | None:
    """The child controls its working directory: refuse symlinks (which would make the parent
    read a host file for it), FIFOs (which would block) and anything oversized."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode) or info.st_size > max_bytes:
            return None
        return handle.read(max_bytes + 1)


def _read_json(path: Path) -> dict[str, Any] | None:
    raw = _read_regular_file(path, _MAX_RESULT_BYTES)
    if raw is None:
        return None
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def _read_arrays(path: Path, stderr_path: Path, operation: str) -> dict[str, Any]:
    import numpy as np

    raw = _read_regular_file(path, _MAX_ARRAYS_BYTES)
    try:
        if raw is None:
            raise ValueError("missing or not a regular file")
        with np.load(io.BytesIO(raw), allow_pickle=False) as npz:
            return {name: npz[name] for name in npz.files}
    except (ValueError, OSError, EOFError) as exc:
        raise _internal(stderr_path, operation, f"unreadable arrays: {exc}") from None


def _while(stage: str) -> str:
    return _STAGE_PHRASES.get(stage, stage)


def _internal(stderr_path: Path, operation: str, why: str) -> SandboxFailure:
    reference = uuid.uuid4().hex[:10]
    try:
        with stderr_path.open("rb") as handle:
            handle.seek(max(0, stderr_path.stat().st_size - _STDERR_LOGGED))
            tail = handle.read().decode("utf-8", errors="replace")
    except OSError:
        tail = ""
    logger.error(
        "sandbox failure reference=%s operation=%s: %s; child stderr (tail):\n%s",
        reference,
        operation,
        why,
        tail,
    )
    return SandboxFailure(
        "internal",
        f"Validation stopped because of an internal error (reference {reference}). Give this "
        "reference to your ModelGate administrator.",
        reference=reference,
    )


def _signal_of(returncode: int, mode: str) -> int | None:
    if returncode < 0:
        return -returncode
    # bubblewrap exits with 128 + N when the sandboxed process was killed by signal N.
    if mode == "bwrap" and 128 < returncode < 128 + 65:
        return returncode - 128
    return None


def _classify(
    *,
    returncode: int,
    rusage: Any,
    timed_out: bool,
    mode: str,
    limits: SandboxLimits,
    stage: str,
    result: dict[str, Any] | None,
    stderr_path: Path,
    operation: str,
    inherited_kb: int = 0,
) -> dict[str, Any]:
    """Return the child's "ok" outcome or raise `SandboxFailure` saying how it ended.

    A signal counts as running out of memory only when the child's peak RSS came near the limit
    *and* rose above the peak it inherited from this process (``inherited_kb``): in a big
    worker, every child's ru_maxrss starts at the worker's own peak."""
    phrase = _while(stage)
    memory = SandboxFailure(
        "memory",
        f"The model used more than {limits.memory_mb} MB of memory while {phrase}. Make the model "
        "or the evaluation set smaller, or ask an administrator to raise "
        "MODELGATE_SANDBOX_MEMORY_MB.",
        stage=stage,
    )
    if timed_out:
        raise SandboxFailure(
            "deadline",
            f"The model did not finish within {limits.wall_seconds} s while {phrase}. Make it "
            "faster or the evaluation set smaller, or ask an administrator to raise "
            "MODELGATE_SANDBOX_WALL_SECONDS.",
            stage=stage,
        )
    if result is not None:
        kind = result.get("outcome")
        if kind == "ok":
            return result
        if kind in {"unsafe", "unusable"}:
            message, code = result.get("message"), result.get("code")
            if isinstance(message, str) and message and isinstance(code, str) and code:
                raise SandboxFailure(kind, message[:2000], code=code[:60], stage=stage)
        if kind == "memory":
            raise memory
        raise _internal(stderr_path, operation, f"the child reported {str(kind)[:40]!r}")
    sig = _signal_of(returncode, mode)
    cpu = (rusage.ru_utime + rusage.ru_stime) if rusage is not None else 0.0
    grew = rusage is not None and rusage.ru_maxrss > inherited_kb
    max_rss_mb = (rusage.ru_maxrss / 1024) if grew else 0.0
    if sig == signal.SIGXCPU or (sig == signal.SIGKILL and cpu >= limits.cpu_seconds - 0.5):
        raise SandboxFailure(
            "cpu",
            f"The model did not finish within {limits.cpu_seconds} s of CPU time while {phrase}. "
            "Make it faster or the evaluation set smaller, or ask an administrator to raise "
            "MODELGATE_SANDBOX_CPU_SECONDS.",
            stage=stage,
        )
    if sig is not None and max_rss_mb >= 0.8 * limits.memory_mb:
        raise memory
    if sig is not None:
        name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else str(sig)
        logger.warning("sandboxed %s killed by %s while %s", operation, name, stage)
        raise SandboxFailure(
            "crashed",
            f"The model crashed while {phrase} (the process was stopped by {name}). A model that "
            "crashes cannot be released: save it again with skops from a supported "
            "scikit-learn version, check it predicts locally, and upload that file.",
            stage=stage,
        )
    raise _internal(stderr_path, operation, f"exited with status {returncode} and no result")
