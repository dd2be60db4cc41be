"""Running work on a user's model in a short-lived, isolated child process.

Plain package: no Django, no broker. The worker calls `run_operation`; the child
(`releases.sandbox.child`) imports only plain modules and sends back plain data (JSON and numpy
arrays), never live objects. See `runner` for what the child can and cannot see.
"""

from releases.sandbox.runner import (
    SandboxFailure,
    SandboxLimits,
    SandboxResult,
    SandboxUnavailable,
    describe_mode,
    resolve_mode,
    run_operation,
)

__all__ = [
    "SandboxFailure",
    "SandboxLimits",
    "SandboxResult",
    "SandboxUnavailable",
    "describe_mode",
    "resolve_mode",
    "run_operation",
]
