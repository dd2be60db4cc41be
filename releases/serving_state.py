"""The serving generation: what serving processes watch to know their caches are stale.

Serving processes cache which version a stage resolves to, and who a token is, so the hot path
does no database work. Any change that could alter those answers (a promotion, rollback,
archive, review decision, compiled-form verdict, a token, app token or membership change)
writes an audit row; the generation is the id of the newest such row. Each serving process
reads it at most every ``MODELGATE_SERVING_REFRESH_SECONDS`` (one indexed query) and drops its
caches when it moved. So a promotion reaches every worker within that interval, with no restart
and no per-request query.

Why the audit table rather than a counter in Redis: the row becomes visible exactly when the
change commits (a counter bumped before the commit would let a worker re-read and cache the old
state; one bumped after it needs a commit callback per action), it survives a cache restart,
and it works the same with no Redis at all.
"""

from __future__ import annotations

from django.db.models import Max

# Audited actions after which a serving process may answer differently: what a stage holds,
# whether a version may serve, who a token is and what its holder may see.
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
        "app_token.revoke",
        "model.shadow",  # whether serving hands production rows to the staging version
        "version.serving_runtime",  # the compiled check switched what answers
    }
)


def serving_generation() -> int:
    from releases.models import AuditEvent

    newest = AuditEvent.objects.filter(action__in=SERVING_ACTIONS).aggregate(newest=Max("id"))
    return int(newest["newest"] or 0)
