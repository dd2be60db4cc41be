"""gunicorn settings for ModelGate (read from the working directory: `gunicorn webapp.wsgi`).

Serving is CPU work under the GIL: a process scores one request at a time whatever its thread
count, so throughput comes from worker processes. Threads (gthread, which also keeps HTTP/1.1
connections alive) let a worker take the next request while its prediction-log thread writes,
and keep a slow upload on the registry side from blocking the process.

Chosen by measurement (bench/serving.py --quick, ModelGate only, 2 cores shared with the load
generator and with other engineers' test runs: load average 5 to 9, so figures moved by +-50%
between identical runs). req/s, 100-tree forest served by ONNX Runtime, 8 connections:

    workers x threads   1 row   100 rows  | logistic 1 row  100 rows | 32 connections, 1 row
    2 x 1                1067        86   |           743       312  |   968, 0 errors
    2 x 4           1863/1811   250/222   |     1145/998   535/448  |  1296, 0 errors
    2 x 8                1838       184   |          1166       427  |
    3 x 2                1935       219   |          1880       386  |  1067, 0 errors
    4 x 1                1307       190   |          1340       143  |  1182, 0 errors
    4 x 4           3156/1111   380/280   |    1167/1116    92/387  |  1264, 0 errors

One thread per worker is clearly worse (the log writer and the request take turns); past that,
2, 3 or 4 workers with 4 threads differ less than the noise. The default stays 2 workers per
core (at most 8) with 4 threads: never measurably worse, the best single figure, and a spare
process per core when one is busy writing its log. The final comparison with MLflow and
MLServer is in README.md (Benchmarks).

Environment overrides: MODELGATE_BIND (127.0.0.1:8000), WEB_CONCURRENCY (workers, default
2 x cores, at most 8), MODELGATE_THREADS (4), MODELGATE_TIMEOUT (300: model uploads are
streamed through the web process).

A worker stopped with SIGTERM (a deploy, a scale-down, the master's graceful stop) finishes its
requests and then runs ``worker_exit``, which writes the predictions still buffered in memory
(scoring/prediction_log.py), so no accepted prediction is lost on a clean stop.

Prometheus (scoring/metrics.py) runs in multiprocess mode: every worker writes its counters to
files in PROMETHEUS_MULTIPROC_DIR (default ``$MODELGATE_VAR_DIR/prometheus``), set here before
any worker imports prometheus-client. The master empties the directory when it starts (values
of a previous run must not be summed in) and ``child_exit`` marks a dead worker's files.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

bind = os.environ.get("MODELGATE_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", min(8, 2 * (os.cpu_count() or 1))))
worker_class = "gthread"
threads = int(os.environ.get("MODELGATE_THREADS", "4"))
timeout = int(os.environ.get("MODELGATE_TIMEOUT", "300"))
# Enough for the prediction log's final flush after in-flight requests finish.
graceful_timeout = 30
keepalive = 5
# Each worker loads models into its own memory; preloading would share nothing useful (models
# load lazily, on first request) and would start the log thread in the master.
preload_app = False

_var_dir = Path(os.environ.get("MODELGATE_VAR_DIR") or Path(__file__).resolve().parent / "var")
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(_var_dir / "prometheus"))


def on_starting(server: Any) -> None:
    """Start every run with an empty metrics directory (counters restart at zero, which
    Prometheus' rate() expects after a restart)."""
    directory = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    if directory.exists():
        for entry in directory.glob("*.db"):
            entry.unlink()
    else:
        directory.mkdir(parents=True)


def child_exit(server: Any, worker: Any) -> None:
    """A worker ended: its live-gauge files go; its counters stay in the sums."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def post_worker_init(worker: Any) -> None:
    """Import scikit-learn, skops and the serving modules before the first request, not during
    it (seconds on a busy machine)."""
    import releases.artifact_safety  # noqa: F401
    import scoring.apis  # noqa: F401


def worker_exit(server: Any, worker: Any) -> None:
    """Write the buffered prediction log before the worker process ends."""
    try:
        from scoring.prediction_log import prediction_log
    except Exception:  # the app never loaded in this worker: nothing was buffered
        return
    stats = prediction_log.stats()
    prediction_log.shutdown()
    server.log.info(
        "prediction log flushed at exit (pid %s): %s buffered, %s written in total, %s dropped",
        worker.pid, stats["buffered"], prediction_log.written, prediction_log.dropped,
    )  # fmt: skip
