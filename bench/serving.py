"""Serving benchmark: ModelGate against MLflow's scoring server and Seldon MLServer, same models,
same machine, same load generator, one server loaded at a time (issue 12).

    .venv/bin/python bench/serving.py [--duration 10] [--warmup 2]
                                      [--servers modelgate,mlflow,mlserver]

The peers are not project dependencies: they go in separate virtual environments created under
var/bench-peers/ (pinned below) and serve models trained there with the same data and seeds.
ModelGate runs under gunicorn against a throwaway var/ directory (SQLite): users, upload,
validation in the sandbox, approval and promotion go through the project's services, then the
load hits POST /api/v1/models/{name}/predict/ with a user token.

The load generator is one asyncio process with keep-alive HTTP/1.1 connections (concurrency 1
and 8), single-row and 100-row bodies, `--duration` seconds per case after `--warmup`. All
servers start first and stay up (idle); each case then runs on every server back to back, the
order rotating from case to case, so a change in the machine's load (other people's test runs
on a shared box) falls on every server of a case alike instead of on whichever server had its
turn then. Then ModelGate alone takes `--stress` seconds (60) of single-row requests from 32
connections, where the goal is zero errors. `--quick` shortens every case (3 s, 15 s sustained)
for tuning runs. The load average is recorded around each case. The client shares the cores
with the servers, as a real client on the same box would; its own ceiling is printed (a bare
socket echo) so a server cannot look faster than the client can measure.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PEERS = ROOT / "var" / "bench-peers"
PYTHON = sys.executable
# Peers, pinned: the newest releases that install on Python 3.11 from the package index here
# (mlflow 3.18.0 needs an mlflow-skinny 3.18.0 that is not published).
PEER_PACKAGES = {
    "mlflow": ["mlflow==3.17.2"],
    # uvloop 0.22+ breaks MLServer 1.7's inference-pool workers (no current event loop).
    "mlserver": ["mlserver==1.7.1", "mlserver-sklearn==1.7.1", "uvloop<0.22"],
}
N_FEATURES = 20
N_TRAIN = 5000
SEED = 0
MODELS = {"forest": "100-tree random forest", "logistic": "logistic regression"}
CASES = [(1, 1), (8, 1), (1, 100), (8, 100)]  # (concurrency, rows per request)
# The sustained case: ModelGate only (the goal is zero errors), forest, one row per request.
STRESS = (32, 1)
RUNTIMES: dict[str, str] = {}  # what serves each model in ModelGate, as validation decided

TRAIN_SCRIPT = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    import numpy as np
    from sklearn.datasets import make_classification
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression

    def data(n_features, n, seed):
        X, y = make_classification(n_samples=n, n_features=n_features, n_informative=10,
                                   random_state=seed)
        return X, y

    def models(n_features, n, seed):
        X, y = data(n_features, n, seed)
        return {
            "forest": RandomForestClassifier(n_estimators=100, random_state=seed).fit(X, y),
            "logistic": LogisticRegression(max_iter=1000).fit(X, y),
        }, X, y
    """
)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ---------------------------------------------------------------------------------------------
# Load generator


@dataclass
class Result:
    server: str
    model: str
    concurrency: int
    rows: int
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    seconds: float = 0.0
    first_error: str = ""
    load: tuple[float, float] = (0.0, 0.0)  # 1-minute load average before and after

    @property
    def throughput(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    def pct(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


@dataclass
class Target:
    """One server's endpoint for one model, and how to talk to it."""

    server: str
    port: int
    path: str
    body: str  # key of bodies_json()
    check: Any
    headers: dict[str, str] = field(default_factory=dict)


def _request_bytes(port: int, path: str, body: bytes, headers: dict[str, str]) -> bytes:
    lines = [f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    status = int(status_line.split()[1])
    headers = {}
    for line in header_lines:
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    if "content-length" in headers:
        return status, await reader.readexactly(int(headers["content-length"]))
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = b""
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip(), 16)
            chunk = await reader.readexactly(size + 2)
            if size == 0:
                return status, body
            body += chunk[:-2]
    return status, await reader.read()


async def _worker(
    port: int, request: bytes, until: float, record_from: float, result: Result, check: Any
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while True:
            started = time.perf_counter()
            if started >= until:
                return
            try:
                writer.write(request)
                status, body = await _read_response(reader)
                ok = status == 200 and check(body)
            except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                ok, status, body = False, 0, repr(exc).encode()
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            elapsed = time.perf_counter() - started
            if started < record_from:
                continue
            if ok:
                result.latencies.append(elapsed)
            else:
                result.errors += 1
                result.first_error = result.first_error or f"{status} {body[:300]!r}"
    finally:
        writer.close()


def drive(
    *,
    server: str,
    model: str,
    port: int,
    path: str,
    body: bytes,
    headers: dict[str, str],
    concurrency: int,
    rows: int,
    duration: float,
    warmup: float,
    check: Any,
) -> Result:
    result = Result(server=server, model=model, concurrency=concurrency, rows=rows)
    load_before = os.getloadavg()[0]
    request = _request_bytes(port, path, body, {"Content-Type": "application/json", **headers})

    async def main() -> None:
        start = time.perf_counter()
        record_from, until = start + warmup, start + warmup + duration
        await asyncio.gather(
            *(_worker(port, request, until, record_from, result, check) for _ in range(concurrency))
        )

    asyncio.run(main())
    result.seconds = duration
    result.load = (load_before, os.getloadavg()[0])
    return result


# ---------------------------------------------------------------------------------------------
# Servers


@contextlib.contextmanager
def running(cmd: list[str], *, env: dict[str, str], cwd: Path, log_path: Path) -> Iterator[Any]:
    """Start a server in its own process group; stop it (and its workers) on exit."""
    with log_path.open("wb") as out:
        proc = subprocess.Popen(
            cmd, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            yield proc
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def wait_ready(url: str, proc: Any, log_path: Path, timeout: float = 180) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(
                f"server exited ({proc.returncode}); see {log_path}:\n{tail(log_path)}"
            )
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 -- our http URL
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.5)
    raise RuntimeError(f"server not ready after {timeout:.0f} s; see {log_path}:\n{tail(log_path)}")


def tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def ensure_peer(name: str) -> Path | str:
    """The peer's virtualenv (created on first use), or the reason it could not be installed."""
    venv = PEERS / name
    marker = venv / ".installed"
    wanted = " ".join(PEER_PACKAGES[name])
    if marker.exists() and marker.read_text() == wanted:
        return venv
    PEERS.mkdir(parents=True, exist_ok=True)
    log(f"installing {wanted} into {venv} (once) ...")
    if not (venv / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    install = subprocess.run(
        [str(venv / "bin" / "pip"), "install", "-q", *PEER_PACKAGES[name]],
        capture_output=True,
        text=True,
    )
    if install.returncode != 0:
        errors = [line for line in install.stderr.splitlines() if "ERROR" in line]
        return f"pip install {wanted} failed: " + (" ".join(errors)[-600:] or "see pip output")
    marker.write_text(wanted)
    return venv


def peer_python(venv: Path, code: str, *args: str) -> str:
    done = subprocess.run(
        [str(venv / "bin" / "python"), "-c", TRAIN_SCRIPT + code, *args],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    return done.stdout


def bodies_json(rows: int, columns: list[str], X: Any) -> dict[str, bytes]:
    data = X[:rows].tolist()
    instances = [dict(zip(columns, r, strict=True)) for r in data]
    return {
        "instances": json.dumps({"instances": instances}).encode(),
        "dataframe_split": json.dumps(
            {"dataframe_split": {"columns": columns, "data": data}}
        ).encode(),
        "v2": json.dumps(
            {
                "inputs": [
                    {"name": "input-0", "shape": [rows, len(columns)], "datatype": "FP64",
                     "data": [v for r in data for v in r]}
                ],
                "outputs": [{"name": "predict_proba"}],
            }
        ).encode(),
    }  # fmt: skip


ECHO_SERVER = """
import asyncio, sys
BODY = b'{"predictions": [0]}'
HEAD = b"HTTP/1.1 200 OK\\r\\nContent-Type: application/json\\r\\nContent-Length: %d\\r\\n\\r\\n"
RESPONSE = HEAD % len(BODY) + BODY
async def handle(reader, writer):
    try:
        while True:
            head = await reader.readuntil(b"\\r\\n\\r\\n")
            length = [l for l in head.split(b"\\r\\n") if l.lower().startswith(b"content-length:")]
            if length:
                await reader.readexactly(int(length[0].split(b":")[1]))
            writer.write(RESPONSE)
    except (asyncio.IncompleteReadError, ConnectionError):
        writer.close()
async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", int(sys.argv[1]))
    async with server:
        await server.serve_forever()
asyncio.run(main())
"""


def client_ceiling(args: argparse.Namespace, work: Path, X: Any, columns: list[str]) -> Result:
    """The load generator against a server that does nothing: no server can be measured faster."""
    port = free_port()
    log_path = work / "echo.log"
    with running(
        [PYTHON, "-c", ECHO_SERVER, str(port)], env=dict(os.environ), cwd=work, log_path=log_path
    ):
        deadline = time.time() + 10
        while time.time() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port)):
                break
            time.sleep(0.1)
        result = drive(
            server="client ceiling",
            model="-",
            port=port,
            path="/",
            body=bodies_json(1, columns, X)["instances"],
            headers={},
            concurrency=8,
            rows=1,
            duration=min(args.duration, 5),
            warmup=1,
            check=lambda b: b.startswith(b'{"predictions"'),
        )
    return result  # fmt: skip


def start_mlflow(stack: contextlib.ExitStack[Any], work: Path) -> dict[str, Target]:
    venv = ensure_peer("mlflow")
    if isinstance(venv, str):
        log(f"MLflow skipped: {venv}")
        return {}
    peer_python(
        venv,
        textwrap.dedent(
            """
            import mlflow.sklearn
            built, X, y = models(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]))
            for name, model in built.items():
                # MLflow 3 saves with skops; the tree node storage needs explicit trust.
                mlflow.sklearn.save_model(model, sys.argv[4] + "/mlflow-" + name,
                                          pyfunc_predict_fn="predict_proba",
                                          skops_trusted_types=["sklearn.tree._tree.Tree"])
            """
        ),
        str(N_FEATURES), str(N_TRAIN), str(SEED), str(work),
    )  # fmt: skip
    targets = {}
    for model in MODELS:
        port = free_port()
        env = {
            **os.environ,
            "MLFLOW_TRACKING_URI": f"file://{work}/mlruns",
            # `mlflow models serve` execs `uvicorn` from PATH.
            "PATH": f"{venv / 'bin'}:{os.environ.get('PATH', '')}",
        }
        log_path = work / f"mlflow-{model}.log"
        cmd = [str(venv / "bin" / "mlflow"), "models", "serve", "-m", str(work / f"mlflow-{model}"),
               "--env-manager", "local", "-h", "127.0.0.1", "-p", str(port)]  # fmt: skip
        proc = stack.enter_context(running(cmd, env=env, cwd=work, log_path=log_path))
        wait_ready(f"http://127.0.0.1:{port}/ping", proc, log_path)
        targets[model] = Target(
            server="MLflow", port=port, path="/invocations", body="dataframe_split",
            check=lambda b: b.startswith(b'{"predictions"'),
        )  # fmt: skip
    return targets


def start_mlserver(stack: contextlib.ExitStack[Any], work: Path) -> dict[str, Target]:
    venv = ensure_peer("mlserver")
    if isinstance(venv, str):
        log(f"MLServer skipped: {venv}")
        return {}
    peer_python(
        venv,
        textwrap.dedent(
            """
            import joblib, json, os
            built, X, y = models(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]))
            for name, model in built.items():
                folder = sys.argv[4] + "/mlserver-" + name
                os.makedirs(folder, exist_ok=True)
                joblib.dump(model, folder + "/model.joblib")
                with open(folder + "/model-settings.json", "w") as fh:
                    json.dump({"name": name, "implementation": "mlserver_sklearn.SKLearnModel",
                               "parameters": {"uri": "./model.joblib"}}, fh)
            """
        ),
        str(N_FEATURES), str(N_TRAIN), str(SEED), str(work),
    )  # fmt: skip
    targets = {}
    for model in MODELS:
        folder = work / f"mlserver-{model}"
        port = free_port()
        (folder / "settings.json").write_text(
            json.dumps(
                {"http_port": port, "grpc_port": free_port(), "metrics_port": free_port(),
                 "host": "127.0.0.1"}
            )
        )  # fmt: skip
        log_path = work / f"mlserver-{model}.log"
        cmd = [str(venv / "bin" / "mlserver"), "start", str(folder)]
        env = {**os.environ, "PATH": f"{venv / 'bin'}:{os.environ.get('PATH', '')}"}
        proc = stack.enter_context(running(cmd, env=env, cwd=folder, log_path=log_path))
        wait_ready(f"http://127.0.0.1:{port}/v2/models/{model}/ready", proc, log_path)
        targets[model] = Target(
            server="MLServer", port=port, path=f"/v2/models/{model}/infer", body="v2",
            check=lambda b: b'"outputs"' in b,
        )  # fmt: skip
    return targets


SETUP_MODELGATE = """
import json, sys, tempfile
from pathlib import Path
import django
django.setup()
import skops.io as sio
from django.core.files import File
from django.core.management import call_command
from releases import services
from releases.models import ModelVersion
from releases.tasks import compiled_check_run, validate_model_version

call_command("migrate", verbosity=0, interactive=False)
ds = services.user_upsert(actor=None, username="bench-ds", role="data_scientist", team_name="bench")
rev = services.user_upsert(actor=None, username="bench-rev", role="reviewer", team_name="bench")
work = Path(sys.argv[1])
exec(sys.argv[2])  # TRAIN_SCRIPT: the same models the peers serve
built, X, y = models(int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))
columns = [f"f{i}" for i in range(X.shape[1])]
import pandas as pd
out = {}
for name, model in built.items():
    import numpy as np
    frame = pd.DataFrame(X, columns=columns)
    model.fit(frame, y)  # refit on a frame so the model knows its feature names
    (work / f"{name}.skops").write_bytes(sio.dumps(model))
    frame.assign(label=y)[:2000].to_csv(work / f"{name}.csv", index=False)
    registered = services.registered_model_create(actor=ds, name=name, team_name="bench")
    with open(work / f"{name}.skops", "rb") as a, open(work / f"{name}.csv", "rb") as e:
        version = services.model_version_upload(
            actor=ds, registered_model=registered, artifact=File(a, name=f"{name}.skops"),
            evaluation_data=File(e, name=f"{name}.csv"), target="label")
    assert validate_model_version.run(version_id=version.pk) == "validated", version.pk
    compiled_check_run.run(version_id=version.pk)  # its own job since validation stopped waiting
    version = ModelVersion.objects.get(pk=version.pk)
    version = services.model_version_review(actor=rev, model_version=version, decision="approve")
    services.model_version_promote(actor=rev, model_version=version, stage="production")
    version.refresh_from_db()
    out[name] = {"runtime": getattr(version, "serving_runtime", "sklearn (no compiled inference)"),
                 "evidence": version.compiled_evidence}
_, key = services.api_token_rotate(actor=None, user=ds)
out["token"] = key
print(json.dumps(out))
"""


def start_modelgate(
    stack: contextlib.ExitStack[Any],
    args: argparse.Namespace,
    work: Path,
    X: Any,
    columns: list[str],
) -> dict[str, Target]:
    root = Path(args.modelgate_root).resolve()
    var = work / "modelgate-var"
    var.mkdir(exist_ok=True)
    env = {
        **os.environ,
        "MODELGATE_VAR_DIR": str(var),
        "DJANGO_SETTINGS_MODULE": "webapp.settings",
        "PYTHONPATH": str(root),
        "PYTHONDONTWRITEBYTECODE": "1",  # another checkout (--modelgate-root) stays untouched
    }
    for key in ("DATABASE_URL", "CELERY_BROKER_URL", "REDIS_URL"):
        env.pop(key, None)  # a throwaway SQLite var dir, never the developer's database
    log("ModelGate: migrate, users, upload, validate (sandbox), approve, promote ...")
    done = subprocess.run(
        [PYTHON, "-c", SETUP_MODELGATE, str(work), TRAIN_SCRIPT, str(N_FEATURES), str(N_TRAIN),
         str(SEED)],
        env=env, cwd=root, capture_output=True, text=True,
    )  # fmt: skip
    if done.returncode != 0:
        log(f"ModelGate skipped: setting it up failed:\n{done.stderr[-3000:]}")
        return {}
    setup = json.loads(done.stdout.strip().splitlines()[-1])
    for model in MODELS:
        evidence = setup[model]["evidence"] or {}
        RUNTIMES[model] = f"{setup[model]['runtime']} ({evidence.get('reason', '')})"
        log(f"ModelGate {model}: serving runtime {RUNTIMES[model]}")
    port = free_port()
    log_path = work / "modelgate-gunicorn.log"
    cmd = [str(root / ".venv" / "bin" / "gunicorn"), "webapp.wsgi:application",
           "--bind", f"127.0.0.1:{port}", "--log-level", "warning"]  # fmt: skip
    conf = root / "gunicorn.conf.py"
    if conf.exists():
        cmd += ["-c", str(conf)]  # the documented serving configuration
    if args.workers or not conf.exists():
        cmd += ["--workers", str(args.workers or 2)]
    if args.threads:
        cmd += ["--threads", str(args.threads)]
    log(f"ModelGate: {' '.join(cmd[1:])}")
    headers = {"Authorization": f"Token {setup['token']}"}
    proc = stack.enter_context(running(cmd, env=env, cwd=root, log_path=log_path))
    wait_ready(f"http://127.0.0.1:{port}/healthz", proc, log_path)
    probe = bodies_json(1, columns, X)["instances"]
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v1/models/forest/predict/",
        data=probe, headers={"Content-Type": "application/json", **headers}, method="POST",
    )  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            response.read()
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            log(
                "ModelGate skipped: POST /api/v1/models/{name}/predict/ answers 404 here: "
                "the serving endpoint (issue 12) is not in this checkout yet."
            )
            return {}
        log(f"ModelGate probe failed: HTTP {exc.code} {exc.read()[:500]!r}")
    return {
        model: Target(
            server="ModelGate", port=port, path=f"/api/v1/models/{model}/predict/",
            body="instances", headers=headers, check=lambda b: b'"predictions"' in b,
        )
        for model in MODELS
    }  # fmt: skip


def run_cases(
    args: argparse.Namespace, servers: list[dict[str, Target]], X: Any, columns: list[str]
) -> list[Result]:
    """Every case on every server back to back (the order rotating from case to case), so a
    change in the machine's load lands on all servers of a case alike, not on whichever
    server happened to run during it."""
    results = []
    turn = 0
    for model in MODELS:
        for concurrency, rows in CASES:
            bodies = bodies_json(rows, columns, X)
            order = servers[turn % len(servers) :] + servers[: turn % len(servers)]
            turn += 1
            for targets in order:
                target = targets.get(model)
                if target is None:
                    continue
                results.append(
                    drive(server=target.server, model=model, port=target.port,
                          path=target.path, body=bodies[target.body], headers=target.headers,
                          concurrency=concurrency, rows=rows, duration=args.duration,
                          warmup=args.warmup, check=target.check)
                )  # fmt: skip
                report_line(results[-1])
    modelgate = next(
        (t["forest"] for t in servers if t and t["forest"].server == "ModelGate"), None
    )
    if args.stress and modelgate is not None:
        concurrency, rows = STRESS
        log(f"ModelGate: {args.stress:.0f} s at concurrency {concurrency} (zero errors?) ...")
        results.append(
            drive(server="ModelGate", model="forest", port=modelgate.port, path=modelgate.path,
                  body=bodies_json(rows, columns, X)["instances"], headers=modelgate.headers,
                  concurrency=concurrency, rows=rows, duration=args.stress,
                  warmup=args.warmup, check=modelgate.check)
        )  # fmt: skip
        report_line(results[-1])
    return results


# ---------------------------------------------------------------------------------------------
# Floors and report


def floors() -> dict[tuple[str, int], dict[str, float]]:
    """In-process predict_proba (and the compiled ONNX form) per call: what no server beats."""
    import warnings

    import numpy as np
    import pandas as pd

    warnings.simplefilter("ignore")
    sys.path.insert(0, str(ROOT))
    from releases.compiled import compile_and_check, onnx_feed

    namespace: dict[str, Any] = {}
    exec(TRAIN_SCRIPT, namespace)  # noqa: S102 -- the same source trains the peers' models
    built, X, y = namespace["models"](N_FEATURES, N_TRAIN, SEED)
    columns = [f"f{i}" for i in range(N_FEATURES)]
    frame = pd.DataFrame(X, columns=columns)
    out: dict[tuple[str, int], dict[str, float]] = {}
    for name, model in built.items():
        model.fit(frame, y)
        signature = {
            "task": "classification",
            "features": [{"name": c, "type": "numeric"} for c in columns],
        }
        with tempfile.TemporaryDirectory() as tmp:
            compiled = compile_and_check(
                estimator=model, signature=signature, X=frame[:2000], work=Path(tmp),
                load_session=lambda path: session_from(path.read_bytes()),
            )  # fmt: skip
        onnx_session = session_from(compiled.onnx) if compiled.onnx else None
        for rows in (1, 100):
            batch = frame[:rows]
            out[(name, rows)] = {"sklearn_ms": best_ms(lambda b=batch, m=model: m.predict_proba(b))}
            if onnx_session is not None:
                feed = onnx_feed(onnx_session, batch)
                out[(name, rows)]["onnx_ms"] = best_ms(
                    lambda f=feed, o=onnx_session: o.run(None, f)
                )
            arr = np.asarray(batch)
            out[(name, rows)]["sklearn_numpy_ms"] = best_ms(
                lambda a=arr, m=model: m.predict_proba(a)
            )
    return out


def session_from(data: bytes) -> Any:
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    return onnxruntime.InferenceSession(data, options, providers=["CPUExecutionProvider"])


def best_ms(call: Any, repeat: int = 30) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def report_line(r: Result) -> None:
    log(f"  {r.server:9s} {r.model:8s} c={r.concurrency} rows={r.rows:<3d} "
        f"p50 {r.pct(0.5):7.2f} ms  p99 {r.pct(0.99):7.2f} ms  {r.throughput:8.1f} req/s  "
        f"errors {r.errors}  load {r.load[0]:.2f}->{r.load[1]:.2f}"
        f"{'  first: ' + r.first_error if r.first_error else ''}")  # fmt: skip


def print_table(results: list[Result], floor: dict[tuple[str, int], dict[str, float]]) -> None:
    by_key = {(r.server, r.model, r.concurrency, r.rows): r for r in results}
    servers = [
        s for s in ("ModelGate", "MLflow", "MLServer") if any(r.server == s for r in results)
    ]
    print()
    print("Serving benchmark: same models, same machine, same load generator "
          f"({os.cpu_count()} CPUs). p50/p99 in ms, throughput in requests/s.")  # fmt: skip
    header = f"{'model':9s} {'conc':>4s} {'rows':>4s} "
    for s in servers:
        header += f"| {s + ' p50':>14s} {'p99':>8s} {'req/s':>8s} {'err':>4s} "
    peers = [s for s in servers if s != "ModelGate"]
    if "ModelGate" in servers:
        for p in peers:
            header += f"| MG/{p} req/s  p50 "
    print(header)
    print("-" * len(header))
    for model in MODELS:
        for concurrency, rows in CASES:
            line = f"{model:9s} {concurrency:>4d} {rows:>4d} "
            for s in servers:
                r = by_key.get((s, model, concurrency, rows))
                if r is None:
                    line += f"| {'—':>14s} {'—':>8s} {'—':>8s} {'—':>4s} "
                else:
                    line += (
                        f"| {r.pct(0.5):14.2f} {r.pct(0.99):8.2f} {r.throughput:8.1f} "
                        f"{r.errors:4d} "
                    )
            mg = by_key.get(("ModelGate", model, concurrency, rows))
            if mg is not None:
                for p in peers:
                    peer = by_key.get((p, model, concurrency, rows))
                    if peer is None or not peer.throughput:
                        line += f"| {'—':>15s} "
                    else:
                        ratio = mg.throughput / peer.throughput
                        line += f"| {ratio:8.1f}x {mg.pct(0.5) / peer.pct(0.5):5.2f} "
            print(line)
    for model, runtime in RUNTIMES.items():
        # A conversion that failed (or was refused) means scikit-learn serves: not comparable.
        print(f"ModelGate {model} served by {runtime}")
    stress = by_key.get(("ModelGate", "forest", *STRESS))
    if stress is not None:
        print(f"ModelGate forest, {STRESS[0]} connections, {STRESS[1]} row, "
              f"{stress.seconds:.0f} s: "
              f"{len(stress.latencies)} answered, {stress.throughput:.1f} req/s, p50 "
              f"{stress.pct(0.5):.2f} ms, p99 {stress.pct(0.99):.2f} ms, errors {stress.errors}"
              + (f" (first: {stress.first_error})" if stress.first_error else ""))  # fmt: skip
    print()
    for s in servers:
        loads = [r.load for r in results if r.server == s]
        print(f"Load average (1 min) while {s} ran: {min(min(pair) for pair in loads):.2f} to "
              f"{max(max(pair) for pair in loads):.2f}")  # fmt: skip
    print_goals(by_key, stress)
    print()
    print("In-process floor (median per call, one process, no HTTP):")
    for (model, rows), f in sorted(floor.items()):
        onnx = f"{f['onnx_ms']:.3f} ms" if "onnx_ms" in f else "not compiled"
        print(f"  {model:9s} rows={rows:<3d} scikit-learn predict_proba {f['sklearn_ms']:.3f} ms "
              f"(numpy input {f['sklearn_numpy_ms']:.3f} ms), ONNX Runtime {onnx}")  # fmt: skip


def print_goals(by_key: dict[Any, Result], stress: Result | None) -> None:
    """Issue 12's goals, each as measured / needed."""

    def ratio(model: str, concurrency: int, rows: int, peer: str, what: str) -> float | None:
        mg = by_key.get(("ModelGate", model, concurrency, rows))
        other = by_key.get((peer, model, concurrency, rows))
        if mg is None or other is None or not other.latencies or not mg.latencies:
            return None
        if what == "throughput":
            return mg.throughput / other.throughput if other.throughput else None
        return mg.pct(0.5) / other.pct(0.5)

    goals = [
        ("forest 1 row c=8 throughput vs MLflow", ratio("forest", 8, 1, "MLflow", "throughput"),
         ">=", 20.0),
        ("forest 1 row c=8 throughput vs MLServer",
         ratio("forest", 8, 1, "MLServer", "throughput"), ">=", 5.0),
        ("logistic 1 row c=8 throughput vs MLServer",
         ratio("logistic", 8, 1, "MLServer", "throughput"), ">=", 1.0),
        ("forest 100 rows c=8 throughput vs MLflow",
         ratio("forest", 8, 100, "MLflow", "throughput"), ">=", 5.0),
        ("logistic 100 rows c=8 throughput vs MLflow",
         ratio("logistic", 8, 100, "MLflow", "throughput"), ">=", 5.0),
        ("forest 1 row c=1 p50 vs MLflow", ratio("forest", 1, 1, "MLflow", "p50"), "<=", 0.1),
        ("logistic 1 row c=1 p50 vs MLflow", ratio("logistic", 1, 1, "MLflow", "p50"), "<=",
         0.1),
    ]  # fmt: skip
    print()
    print("Goals (issue 12), ModelGate / peer in this run:")
    for label, value, op, needed in goals:
        if value is None:
            print(f"  {label:44s} not measured")
            continue
        met = value >= needed if op == ">=" else value <= needed
        print(f"  {label:44s} {value:7.2f}x  (goal {op} {needed:g}x)  {'met' if met else 'MISSED'}")
    if stress is not None:
        verdict = "met" if stress.errors == 0 and stress.latencies else "MISSED"
        print(
            f"  {'zero errors, c=32 for ' + format(stress.seconds, '.0f') + ' s':44s} "
            f"{stress.errors:7d}   (goal 0)        {verdict}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--servers", default="modelgate,mlflow,mlserver")
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="ModelGate's gunicorn workers (default: 2, or gunicorn.conf.py's)",
    )
    parser.add_argument("--threads", type=int, default=None, help="threads per worker")
    parser.add_argument(
        "--modelgate-root",
        default=str(ROOT),
        help="the ModelGate checkout to serve (default: this)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument(
        "--stress", type=float, default=60.0, help="seconds of the c=32 run (0: skip it)"
    )
    parser.add_argument(
        "--quick", action="store_true", help="3 s per case, 1 s warm-up, 15 s sustained"
    )
    args = parser.parse_args()
    if args.quick:
        args.duration, args.warmup, args.stress = 3.0, 1.0, min(args.stress, 15.0)

    import numpy as np

    namespace: dict[str, Any] = {}
    exec(TRAIN_SCRIPT, namespace)  # noqa: S102 -- the same source trains the peers' models
    X, _ = namespace["data"](N_FEATURES, N_TRAIN, SEED)
    X = np.asarray(X)[-200:]  # request rows: the tail of the same distribution
    columns = [f"f{i}" for i in range(N_FEATURES)]

    work = Path(
        tempfile.mkdtemp(prefix="serving-", dir=PEERS.parent if PEERS.parent.exists() else None)
    )
    log(f"work directory {work}; load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    results: list[Result] = []
    try:
        wanted = args.servers.split(",")
        with contextlib.ExitStack() as stack:
            # All servers up at once (idle ones cost nothing), then each case on each in turn.
            servers: list[dict[str, Target]] = []
            if "modelgate" in wanted:
                servers.append(start_modelgate(stack, args, work, X, columns))
            if "mlflow" in wanted:
                servers.append(start_mlflow(stack, work))
            if "mlserver" in wanted:
                try:
                    servers.append(start_mlserver(stack, work))
                except RuntimeError as exc:
                    log(f"MLServer failed: {exc}")
            results = run_cases(args, [s for s in servers if s], X, columns)
        floor = floors()
        ceiling = client_ceiling(args, work, X, columns)
    finally:
        if any(r.errors for r in results) and not args.keep:
            # The servers' logs hold the tracebacks: keep them past the work directory.
            kept = ROOT / "var" / "bench-logs" / work.name
            kept.mkdir(parents=True, exist_ok=True)
            for server_log in work.glob("*.log"):
                shutil.copy(server_log, kept / server_log.name)
            log(f"errors: the servers' logs are in {kept}")
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print_table(results, floor)
    print(
        f"Load generator ceiling (a server that does nothing, c=8, 1 row): "
        f"{ceiling.throughput:.0f} req/s, p50 {ceiling.pct(0.5):.2f} ms, errors {ceiling.errors}."
    )


if __name__ == "__main__":
    main()
