"""Open Inference Protocol v2 (KServe / Triton HTTP) over the same serving core.

Routes: ``GET /v2/health/live``, ``/v2/health/ready``, ``GET /v2/models/{name}[/versions/{v}]``
(metadata), ``GET .../ready``, ``POST .../infer``. Inputs: one tensor per feature (named after
it, shape ``[N]`` or ``[N, 1]``; numbers as FP32/FP64/INT*, categories as BYTES), or a single
``[N, features]`` FP32/FP64 tensor for an all-numeric model. Tensor data may be JSON (flat or
nested row-major) or Triton's binary tensor extension (``Inference-Header-Content-Length``),
which is what ``tritonclient.http`` sends by default. Outputs: ``predict`` (labels) and, for
classifiers, ``predict_proba`` (``[N, classes]`` FP64), always as JSON. Errors are
``{"error": "<message>"}`` (plus ``code`` and ``field``) with a 4xx status, as the protocol
says. Values go through the same signature checks as ``/api/v1`` (``releases.request_rows``).
"""

from __future__ import annotations

from scoring.v2.views import (
    infer,
    live,
    model_metadata,
    model_ready,
    ready,
    server_metadata,
)

__all__ = [
    "infer",
    "live",
    "model_metadata",
    "model_ready",
    "ready",
    "server_metadata",
]
