"""The prediction log, written off the request path.

A request appends one entry (its rows, outputs and ids: no database work) to this process's
buffer; a background thread turns entries into ``Prediction`` rows and writes them with
``bulk_create`` every ``MODELGATE_PREDICTION_LOG_FLUSH_MS`` or as soon as
``MODELGATE_PREDICTION_LOG_FLUSH_ROWS`` rows wait. The buffer is bounded: past
``MODELGATE_PREDICTION_LOG_MAX_ROWS`` buffered rows a request's rows are dropped and counted
(``stats()["dropped"]``), so a stalled database can never exhaust memory or slow serving.

Accepted predictions survive a clean stop: ``shutdown()`` flushes what is buffered, and runs
from ``atexit`` and from gunicorn's ``worker_exit`` hook (gunicorn.conf.py), which a worker
stopped by SIGTERM calls after finishing its requests. A failed write is retried on the next
flush (the rows go back in front of the buffer). Once written, rows are routed to the relabel
queues (``scoring.relabel_routing``), here rather than on the request path.

Every request that reached a version, refused or not, is also counted here by hour and status
(``count_request``: a dict increment) and added to ``HourlyRequests`` by the same flusher, so
monitoring knows each version's error rate without a write per request.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import orjson
import pandas as pd
from django.conf import settings
from django.db import close_old_connections
from django.db.models import Field

from releases.request_rows import Rows

if TYPE_CHECKING:
    from scoring.relabel_routing import Logged

logger = logging.getLogger("modelgate.prediction_log")


@dataclass
class Entry:
    """One request's worth of predictions, expanded into rows by the flusher."""

    ids: list[uuid.UUID]
    request_id: uuid.UUID
    registered_model_id: int
    model_version_id: int
    stage: str
    frame: Rows | pd.DataFrame  # the checked inputs (Rows on the predict path)
    predictions: list[Any]
    probabilities: np.ndarray | None
    confidence: np.ndarray | None
    latency_ms: float
    caller: str
    user_id: int | None
    app_token_id: int | None
    created_at: datetime

    @property
    def rows(self) -> int:
        return len(self.ids)


class PredictionLog:
    def __init__(self) -> None:
        self._entries: deque[Entry] = deque()
        self._rows = 0
        # (registered model, version, hour as epoch seconds, status) -> requests
        self._requests: dict[tuple[int, int, int, int], int] = {}
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid: int | None = None
        self.written = 0
        self.dropped = 0
        self.failures = 0

    # -- request path --

    def append(self, entry: Entry) -> bool:
        """Buffer one request's rows; False when the buffer is full and they were dropped."""
        with self._lock:
            if self._rows + entry.rows > settings.MODELGATE_PREDICTION_LOG_MAX_ROWS:
                self.dropped += entry.rows
                return False
            self._entries.append(entry)
            self._rows += entry.rows
            waiting = self._rows
        if settings.MODELGATE_PREDICTION_LOG_THREAD:
            self._ensure_thread()
            if waiting >= settings.MODELGATE_PREDICTION_LOG_FLUSH_ROWS:
                self._wake.set()
        return True

    def count_request(
        self, *, registered_model_id: int, model_version_id: int, status: int
    ) -> None:
        """One predict or infer request that reached this version answered ``status``."""
        key = (registered_model_id, model_version_id, int(time.time()) // 3600 * 3600, status)
        with self._lock:
            self._requests[key] = self._requests.get(key, 0) + 1
        if settings.MODELGATE_PREDICTION_LOG_THREAD:
            self._ensure_thread()

    def holds(self, prediction_id: uuid.UUID) -> bool:
        """Is this prediction buffered here, not yet written? (Feedback that arrives before
        the flush writes it now instead of answering 404.)"""
        with self._lock:
            return any(prediction_id in entry.ids for entry in self._entries)

    # -- flushing --

    def flush(self) -> int:
        """Write everything buffered now; returns the number of rows written."""
        with self._flush_lock:
            with self._lock:
                entries = list(self._entries)
                self._entries.clear()
                self._rows = 0
                requests, self._requests = self._requests, {}
            if requests:
                self._write_requests(requests)
            if not entries:
                return 0
            try:
                count = _write(entries)
            except Exception:
                self.failures += 1
                logger.exception(
                    "prediction log: writing %d entries failed; will retry", len(entries)
                )
                with self._lock:
                    self._entries.extendleft(reversed(entries))
                    self._rows += sum(e.rows for e in entries)
                close_old_connections()
                raise
            self.written += count
            return count

    def _write_requests(self, requests: dict[tuple[int, int, int, int], int]) -> None:
        try:
            _write_requests(requests)
        except Exception:
            # Counts, not predictions: keep them for the next flush, never fail the rows.
            self.failures += 1
            logger.exception("prediction log: adding %d request counts failed", len(requests))
            with self._lock:
                for key, count in requests.items():
                    self._requests[key] = self._requests.get(key, 0) + count
            close_old_connections()

    def shutdown(self) -> None:
        """Stop the flusher and write what is left (atexit, gunicorn worker_exit)."""
        self._stop.set()
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=30)
        for _ in range(3):
            try:
                self.flush()
                return
            except Exception:  # noqa: S112 -- logged in flush; try again, then give up
                continue

    def discard(self) -> None:
        """Forget buffered rows and counters (tests)."""
        with self._lock:
            self._entries.clear()
            self._rows = 0
            self._requests.clear()
            self.written = self.dropped = self.failures = 0

    def stats(self) -> dict[str, int]:
        with self._lock:
            buffered = self._rows
        return {
            "buffered": buffered,
            "written": self.written,
            "dropped": self.dropped,
            "failures": self.failures,
        }

    def _ensure_thread(self) -> None:
        import os

        # A thread started before gunicorn forked does not exist in the worker: start per pid.
        if self._thread is not None and self._pid == os.getpid() and self._thread.is_alive():
            return
        with self._lock:
            if self._thread is not None and self._pid == os.getpid() and self._thread.is_alive():
                return
            self._pid = os.getpid()
            self._stop.clear()
            self._thread = threading.Thread(
                target=self._run, name="modelgate-prediction-log", daemon=True
            )
            self._thread.start()

    def _run(self) -> None:
        interval = settings.MODELGATE_PREDICTION_LOG_FLUSH_MS / 1000
        while not self._stop.is_set():
            self._wake.wait(interval)
            self._wake.clear()
            if self._stop.is_set():
                break
            try:
                self.flush()
            except Exception:  # logged in flush; the rows wait for the next round
                self._stop.wait(min(5.0, interval * 10))
            # No request cycle closes this thread's connection: honour CONN_MAX_AGE here.
            close_old_connections()


# Columns of scoring.models.Prediction the writer fills, in INSERT order.
_COLUMNS = (
    "id", "request_id", "registered_model_id", "model_version_id", "stage", "inputs",
    "prediction", "probabilities", "confidence", "latency_ms", "caller", "user_id",
    "app_token_id", "created_at",
)  # fmt: skip


def _write(entries: list[Entry]) -> int:
    """Insert the entries' rows with one ``executemany`` per 1,000 rows.

    Not ``bulk_create``: building a ``Prediction`` per row and letting the SQL compiler
    prepare each of its fields cost about 100 us a row (measured: 11 ms for a 100-row request,
    three times the request itself), CPU this thread takes from the requests of its process.
    Values a request shares are prepared once by the fields themselves; per row only the id
    and the JSON columns (orjson) are."""
    from django.db import connections, router, transaction

    from scoring.models import Prediction
    from scoring.relabel_routing import Logged

    using = router.db_for_write(Prediction)
    connection = connections[using]
    meta = Prediction._meta
    fields = {name: cast("Field[Any, Any]", meta.get_field(name)) for name in _COLUMNS}

    def prep(name: str, value: Any) -> Any:
        return fields[name].get_db_prep_save(value, connection)

    uuid_value = (lambda u: u) if connection.features.has_native_uuid_field else (lambda u: u.hex)
    params: list[tuple[Any, ...]] = []
    logged: list[Logged] = []
    for entry in entries:
        shared = (
            prep("request_id", entry.request_id),
            entry.registered_model_id,
            entry.model_version_id,
            entry.stage,
        )
        tail = (
            prep("latency_ms", entry.latency_ms),
            entry.caller,
            entry.user_id,
            entry.app_token_id,
            prep("created_at", entry.created_at),
        )
        records = _records(entry.frame)
        count = entry.rows
        raw_probabilities = (
            entry.probabilities.tolist() if entry.probabilities is not None else [None] * count
        )
        probabilities = [_json(p) if p is not None else None for p in raw_probabilities]
        confidence = entry.confidence.tolist() if entry.confidence is not None else [None] * count
        for i, prediction_id in enumerate(entry.ids):
            params.append(
                (
                    uuid_value(prediction_id),
                    *shared,
                    _json(records[i]),
                    _json(entry.predictions[i]),
                    probabilities[i],
                    confidence[i],
                    *tail,
                )
            )
            logged.append(
                Logged(
                    prediction_id, entry.registered_model_id, entry.model_version_id,
                    entry.predictions[i], raw_probabilities[i],
                )
            )  # fmt: skip
    table = connection.ops.quote_name(meta.db_table)
    columns = ", ".join(connection.ops.quote_name(str(fields[name].column)) for name in _COLUMNS)
    sql = f"INSERT INTO {table} ({columns}) VALUES ({', '.join(['%s'] * len(_COLUMNS))})"  # noqa: S608 -- our names
    with transaction.atomic(using=using, savepoint=False), connection.cursor() as cursor:
        for start in range(0, len(params), 1000):
            cursor.executemany(sql, params[start : start + 1000])
    _route(logged)
    return len(params)


def _write_requests(requests: dict[tuple[int, int, int, int], int]) -> None:
    """Add the counts to ``HourlyRequests`` with one upsert per key that increments (every
    serving process adds its own; sorted keys, so two flushers never lock rows in opposite
    orders on PostgreSQL). SQLite (3.24+) and PostgreSQL both read this ON CONFLICT."""
    from django.db import connections, router, transaction

    from scoring.models import HourlyRequests

    using = router.db_for_write(HourlyRequests)
    connection = connections[using]
    meta = HourlyRequests._meta
    hour_field = meta.get_field("hour")
    quote = connection.ops.quote_name
    table = quote(meta.db_table)
    sql = (
        f"INSERT INTO {table} (registered_model_id, model_version_id, hour, status, count) "  # noqa: S608 -- our names
        f"VALUES (%s, %s, %s, %s, %s) ON CONFLICT (model_version_id, hour, status) "
        f"DO UPDATE SET count = {table}.count + excluded.count"
    )
    params = []
    for (model_id, version_id, hour, status), count in sorted(requests.items()):
        at = hour_field.get_db_prep_save(datetime.fromtimestamp(hour, tz=UTC), connection)
        params.append((model_id, version_id, at, status, count))
    with transaction.atomic(using=using, savepoint=False), connection.cursor() as cursor:
        cursor.executemany(sql, params)


def _route(rows: list[Logged]) -> None:
    """Queue the written rows that need a person's label. The rows are stored whatever
    happens here: a routing failure is logged, never retried as a failed write (that would
    insert the rows twice)."""
    from django.db import transaction

    from scoring.relabel_routing import route

    try:
        # A savepoint, so a failure here cannot break a surrounding transaction (tests flush
        # inside theirs).
        with transaction.atomic():
            route(rows)
    except Exception:
        logger.exception("prediction log: routing %d rows to relabel queues failed", len(rows))


def _json(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY).decode()


def _records(frame: Rows | pd.DataFrame) -> list[dict[str, Any]]:
    if isinstance(frame, Rows):
        return frame.records()
    columns = {
        name: (
            [None if v != v else v for v in frame[name].tolist()]  # NaN -> null (JSON)
            if pd.api.types.is_float_dtype(frame[name])
            else frame[name].tolist()
        )
        for name in frame.columns
    }
    names = list(columns)
    return [dict(zip(names, values, strict=True)) for values in zip(*columns.values(), strict=True)]


prediction_log = PredictionLog()
atexit.register(prediction_log.shutdown)
