"""gunicorn settings for ModelGate (read from the working directory: `gunicorn webapp.wsgi`).

Serving is CPU work under the GIL: a process scores one request at a time whatever its thread
count, so throughput comes from worker processes, one or two per core. Threads (gthread) keep a
worker answering cheap requests (health, cached 4xx) while another thread scores, and let a slow
upload on the registry side not block the process. Worker and thread counts have not been
compared on a quiet machine yet (bench/serving.py is where that belongs); 2 workers x 4 threads
is what the serving tests and the first local load runs used.

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
