"""Where a predict request's time goes, in one process, without HTTP (issue 12's fast path).

    .venv/bin/python bench/serving_profile.py [--rows 1] [--requests 2000] [--profile]

Sets up ModelGate the way bench/serving.py does (throwaway var/ directory, SQLite, the same
forest and logistic regression, uploaded, validated in the sandbox, approved and promoted),
then calls the WSGI application directly with a prebuilt environ: the figure is Django's
middleware plus the view plus the prediction log writer, with no sockets and no load generator.
It prints microseconds per request per model, the same with the prediction log flusher's
share, and with ``--profile`` the top of a cProfile listing.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

import serving  # noqa: E402 -- the benchmark's setup and bodies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--model", default="forest,logistic")
    parser.add_argument("--var", default="", help="reuse a set-up var directory")
    args = parser.parse_args()

    var = Path(args.var) if args.var else Path(tempfile.mkdtemp(prefix="serving-profile-"))
    work = var / "work"
    work.mkdir(parents=True, exist_ok=True)
    os.environ.update(
        MODELGATE_VAR_DIR=str(var), DJANGO_SETTINGS_MODULE="webapp.settings", LOG_LEVEL="WARNING"
    )
    for key in ("DATABASE_URL", "CELERY_BROKER_URL", "REDIS_URL"):
        os.environ.pop(key, None)
    token_file = var / "token.json"
    if not token_file.exists():
        done = subprocess.run(
            [sys.executable, "-c", serving.SETUP_MODELGATE, str(work), serving.TRAIN_SCRIPT,
             str(serving.N_FEATURES), str(serving.N_TRAIN), str(serving.SEED)],
            cwd=ROOT, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)},
        )  # fmt: skip
        if done.returncode != 0:
            sys.exit(done.stderr[-3000:])
        token_file.write_text(done.stdout.strip().splitlines()[-1])
    setup = json.loads(token_file.read_text())
    runtimes = ", ".join(f"{m}={setup[m]['runtime']}" for m in serving.MODELS)
    print(f"var {var}; runtimes: {runtimes}")

    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    import numpy as np
    from django.core.handlers.wsgi import WSGIHandler

    from scoring.prediction_log import prediction_log

    namespace: dict = {}
    exec(serving.TRAIN_SCRIPT, namespace)  # noqa: S102
    X, _ = namespace["data"](serving.N_FEATURES, serving.N_TRAIN, serving.SEED)
    X = np.asarray(X)[-200:]
    columns = [f"f{i}" for i in range(serving.N_FEATURES)]
    body = serving.bodies_json(args.rows, columns, X)["instances"]
    app = WSGIHandler()

    def call(model: str) -> bytes:
        environ = {
            "REQUEST_METHOD": "POST", "PATH_INFO": f"/api/v1/models/{model}/predict/",
            "QUERY_STRING": "", "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8000",
            "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": str(len(body)),
            "HTTP_AUTHORIZATION": f"Token {setup['token']}", "HTTP_HOST": "127.0.0.1:8000",
            "wsgi.input": io.BytesIO(body), "wsgi.url_scheme": "http",
            "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1",
        }  # fmt: skip
        status = []
        out = b"".join(app(environ, lambda s, h: status.append(s)))
        if not status[0].startswith("200"):
            raise SystemExit(f"{status[0]} {out[:300]!r}")
        return out

    from django.conf import settings

    settings.MODELGATE_PREDICTION_LOG_THREAD = False  # flush explicitly, to time it apart
    for model in args.model.split(","):
        for _ in range(50):
            call(model)
        prediction_log.flush()
        profiler = cProfile.Profile() if args.profile else None
        started = time.perf_counter()
        if profiler:
            profiler.enable()
        for _ in range(args.requests):
            call(model)
        request_s = time.perf_counter() - started
        flush_started = time.perf_counter()
        prediction_log.flush()
        flush_s = time.perf_counter() - flush_started
        if profiler:
            profiler.disable()
        n = args.requests
        total = request_s + flush_s
        print(f"{model:9s} rows={args.rows:<3d} request {request_s / n * 1e6:8.1f} us  "
              f"log write {flush_s / n * 1e6:8.1f} us  total {total / n * 1e6:8.1f} us"
              f"  (~{n / total:.0f} req/s on one core)")  # fmt: skip
        if profiler:
            stats = pstats.Stats(profiler)
            stats.sort_stats("cumulative").print_stats(45)
            stats.sort_stats("tottime").print_stats(30)


if __name__ == "__main__":
    main()
