"""What the hot path needs, cached per process: who a token is, what a model name and stage
resolve to, the loaded model.

Every cache here is dropped when the serving generation (``releases.serving_state``) moves, which
every promotion, rollback, archive, review decision and token or membership change does; a
process looks at the generation at most every ``MODELGATE_SERVING_REFRESH_SECONDS``. Caller
entries also expire after ``_CALLER_TTL`` seconds, as a backstop for changes made outside the
services (an account deactivated in the admin site). Refusals are not cached: they are rare and
must clear as soon as the cause does.
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass, field, replace
from typing import Any

from django.conf import settings
from django.utils import timezone

from releases import selectors
from releases.errors import Conflict, DomainError, NotFound
from releases.models import ModelVersion, RegisteredModel, Stage, VersionStatus
from releases.serving_state import serving_generation
from scoring.models import AppToken

APP_TOKEN_PREFIX = "mga_"  # noqa: S105 -- the public prefix of app keys
_CALLER_TTL = 60.0
_MAX_ENTRIES = 10_000


class NotAuthenticated(DomainError):
    status_code = 401
    code = "not_authenticated"


@dataclass(frozen=True)
class Caller:
    """Who is calling: a person (through their API token) or an app token."""

    kind: str  # "user" | "app"
    id: int
    name: str
    admin: bool = False
    team_ids: frozenset[int] = frozenset()  # a person's teams
    model_ids: frozenset[int] = frozenset()  # an app token's models
    expires_at: float | None = None  # monotonic; a person's token expiry
    loaded_at: float = field(default_factory=time.monotonic)

    @property
    def label(self) -> str:
        return f"{self.kind}:{self.id}"

    def may_predict(self, model: ServedModel) -> bool:
        if self.kind == "app":
            return model.id in self.model_ids
        return self.admin or model.team_id in self.team_ids


@dataclass(frozen=True)
class ServedModel:
    id: int
    name: str
    team_id: int


@dataclass(frozen=True)
class ServedVersion:
    """An approved, intact version with its model loaded, ready to score."""

    id: int
    number: int
    model_name: str
    registered_model_id: int
    signature: dict[str, Any]
    runtime: str
    model: Any = field(repr=False)


class _State:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.refresh_lock = threading.Lock()
        self.generation: int | None = None
        self.checked_at = 0.0
        self.callers: dict[str, Caller] = {}
        self.models: dict[str, ServedModel] = {}
        self.versions: dict[tuple[int, str], ServedVersion] = {}


_state = _State()


def refresh() -> None:
    """Drop every cache when the serving generation moved (read at most once per interval).

    Threads arriving while one thread reads the generation wait for its answer, so none of
    them serves from a cache that the read is about to drop."""
    interval = settings.MODELGATE_SERVING_REFRESH_SECONDS
    if time.monotonic() - _state.checked_at < interval:
        return
    with _state.refresh_lock:
        if time.monotonic() - _state.checked_at < interval:
            return  # another thread just checked
        generation = serving_generation()
        if generation != _state.generation:
            with _state.lock:
                _state.generation = generation
                _state.callers = {}
                _state.models = {}
                _state.versions = {}
        _state.checked_at = time.monotonic()


def generation() -> int | None:
    """The serving generation this process's caches hold (None before the first refresh)."""
    return _state.generation


def forget_everything() -> None:
    """Tests, and processes that must reload: the next request resolves from scratch."""
    with _state.lock:
        _state.generation = None
        _state.checked_at = 0.0
        _state.callers = {}
        _state.models = {}
        _state.versions = {}


# --- callers ------------------------------------------------------------------------------------


def caller_from_header(header: str) -> Caller:
    """The caller named by ``Authorization: Token <key>`` (or ``Bearer <key>``)."""
    parts = header.split()
    if len(parts) != 2 or parts[0].lower() not in ("token", "bearer"):
        raise NotAuthenticated(
            "Send your key as 'Authorization: Token <key>' (a person's API token or an app token)."
        )
    key = parts[1]
    cache_key = hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()
    caller = _state.callers.get(cache_key)
    now = time.monotonic()
    if (
        caller is not None
        and now - caller.loaded_at < _CALLER_TTL
        and (caller.expires_at is None or now < caller.expires_at)
    ):
        return caller
    generation = _state.generation
    caller = _app_caller(cache_key) if key.startswith(APP_TOKEN_PREFIX) else _person_caller(key)
    _store(_state.callers, cache_key, caller, generation)
    return caller


def app_token_digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()


def _app_caller(digest: str) -> Caller:
    token = AppToken.objects.filter(digest=digest, revoked_at__isnull=True).first()
    if token is None:
        raise NotAuthenticated(
            "Invalid or revoked app token; ask a reviewer of the model's team for a new one."
        )
    model_ids = frozenset(token.registered_models.values_list("pk", flat=True))
    return Caller(kind="app", id=token.pk, name=token.name, model_ids=model_ids)


def _person_caller(key: str) -> Caller:
    from rest_framework.exceptions import AuthenticationFailed

    from releases.authentication import ApiTokenAuthentication

    try:
        user, token = ApiTokenAuthentication().authenticate_credentials(
            key.encode("utf-8", "surrogateescape")
        )
    except AuthenticationFailed as exc:
        raise NotAuthenticated(str(exc.detail)) from None
    expires_at = None
    if token.expiry is not None:
        expires_at = time.monotonic() + (token.expiry - timezone.now()).total_seconds()
    return replace(caller_for_user(user), expires_at=expires_at)


def caller_for_user(user: Any) -> Caller:
    """A signed-in person (browser session) as a caller, with the same rights as their token."""
    return Caller(
        kind="user",
        id=user.pk,
        name=user.get_username(),
        admin=selectors.user_is_admin(user=user),
        team_ids=frozenset(selectors.roles_by_team(user=user)),
    )


# --- models and versions ------------------------------------------------------------------------


def served_model(name: str, caller: Caller) -> ServedModel:
    """The registered model, if the caller may predict on it (else 404: no existence leak)."""
    model = _state.models.get(name)
    if model is None:
        generation = _state.generation
        row = RegisteredModel.objects.filter(name=name).values_list("pk", "team_id").first()
        if row is not None:
            model = ServedModel(id=row[0], name=name, team_id=row[1])
            _store(_state.models, name, model, generation)
    if model is None or not caller.may_predict(model):
        raise NotFound(f"No model {name!r} that this token may predict on.", field="name")
    return model


def served_version(model: ServedModel, *, stage: str | None, version: int | None) -> ServedVersion:
    key = (model.id, f"v{version}" if version is not None else f"stage:{stage}")
    hit = _state.versions.get(key)
    if hit is not None:
        return hit
    generation = _state.generation
    row = _version_row(model, stage=stage, version=version)
    served = _load(row)
    _store(_state.versions, key, served, generation)
    return served


def servable_version(model: ServedModel, *, stage: str | None, version: int | None) -> ModelVersion:
    """The version predict would serve (approved, artifact intact), read fresh and not loaded:
    for work that runs the model elsewhere (batch jobs)."""
    row = _version_row(model, stage=stage, version=version)
    _check_intact(row)
    return row


def _store(cache: dict[Any, Any], key: Any, value: Any, generation: int | None) -> None:
    """Cache ``value`` unless the generation moved while it was being resolved: an answer
    read before a promotion must not outlive the refresh that followed it."""
    with _state.lock:
        if _state.generation != generation:
            return
        if len(cache) >= _MAX_ENTRIES:
            cache.clear()
        cache[key] = value


def _version_row(model: ServedModel, *, stage: str | None, version: int | None) -> ModelVersion:
    registered = RegisteredModel.objects.filter(pk=model.id).first()
    if registered is None:
        raise NotFound(f"No model {model.name!r}.", field="name")
    if version is None:
        if stage not in Stage.values:
            raise NotFound(
                f"Unknown stage {stage!r}; use 'production' or 'staging'.", field="stage"
            )
        row = selectors.stage_version(registered_model=registered, stage=str(stage))
        if row is None:
            raise NotFound(
                f"{model.name} has no {stage} version; a reviewer promotes an approved version "
                f"to {stage} first.",
                code="no_version_in_stage",
                field="stage",
            )
    else:
        found = ModelVersion.objects.filter(registered_model=registered, version=version).first()
        if found is None:
            raise NotFound(f"{model.name} has no version {version}.", field="version")
        row = found
    if row.status != VersionStatus.APPROVED:
        raise Conflict(
            f"{model.name} v{row.version} is {row.status}; only approved versions are served.",
            code="not_servable",
            detail={"status": row.status},
        )
    return row


def _load(row: ModelVersion) -> ServedVersion:
    from releases import loading

    _check_intact(row)
    loader = getattr(loading, "load_serving_model", loading.load_version_model)
    loaded = loader(row)
    return ServedVersion(
        id=row.pk,
        number=row.version,
        model_name=row.registered_model.name,
        registered_model_id=row.registered_model_id,
        signature=row.signature or {},
        runtime="onnx" if loaded.format == "onnx" or _is_session(loaded.model) else "sklearn",
        model=loaded.model,
    )


def _check_intact(row: ModelVersion) -> None:
    from releases import loading

    if not selectors.version_artifact_intact(row):
        raise loading.ArtifactChanged(
            f"The stored file of {row.registered_model.name} v{row.version} no longer matches "
            "the sha256 it was uploaded and approved with, so it is not served. Restore the "
            "file or release a new version."
        )


def _is_session(model: Any) -> bool:
    return type(model).__name__ == "InferenceSession"
