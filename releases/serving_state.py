"""The serving generation: a counter in the shared cache that serving processes watch.

Serving processes cache which version a stage resolves to, and who a token is, so the hot path
does no database work. Any change that could alter those answers (a promotion, rollback,
archive, review decision, a token or membership change) bumps the counter once its transaction
commits; each serving process reads the counter at most every
``MODELGATE_SERVING_REFRESH_SECONDS`` and drops its caches when it moved. So a promotion reaches
every worker within that interval, with no restart and no per-request query.

The counter lives in the ``serving`` cache: Redis when configured, else a file-based cache under
the var directory, which the processes of one machine share.
"""

from __future__ import annotations

import time

from django.core.cache import caches
from django.db import transaction

GENERATION_KEY = "serving-generation"


def serving_changed() -> None:
    """Tell every serving process to forget what it resolved, once the transaction commits."""
    transaction.on_commit(_bump)


def _bump() -> None:
    cache = caches["serving"]
    try:
        cache.incr(GENERATION_KEY)
    except ValueError:
        # Missing (first change, or the cache was emptied): any new value differs from what
        # processes last saw, which is all they compare.
        cache.set(GENERATION_KEY, time.time_ns(), timeout=None)


def serving_generation() -> int:
    value = caches["serving"].get(GENERATION_KEY)
    return int(value) if value is not None else 0


# Audited actions after which a serving process may answer differently: what a stage holds,
# whether a version may serve, who a token is and what its holder may see. (App tokens, in the
# scoring app, bump the generation themselves.)
SERVING_ACTIONS = frozenset(
    {
        "version.promote",
        "model.rollback",
        "version.archive",
        "version.approve",
        "version.reject",
        "token.rotate",
        "token.revoke",
        "membership.add",
        "membership.change_role",
        "membership.remove",
        "model.update",
    }
)
