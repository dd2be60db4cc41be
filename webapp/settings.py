"""ModelGate settings, configured only by environment variables.

Two modes (``MODELGATE_MODE``):

* ``development`` (default): embedded defaults, so a fresh checkout runs with nothing else
  installed: SQLite under ``var/``, Celery over kombu's filesystem transport under ``var/``,
  a secret key generated once and kept in ``var/secret_key``.
* ``production``: ``SECRET_KEY`` and ``ALLOWED_HOSTS`` are required, HTTPS hardening is on and
  ``manage.py check --deploy`` passes with no warnings.

A bad value fails at start-up with ``ImproperlyConfigured`` naming the variable, never later.
"""

from __future__ import annotations

import ipaddress
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_bool(name: str, default: bool) -> bool:
    """django-environ reads any unknown word as False; a typo in a flag must fail instead."""
    raw = env.str(name, default=str(default)).strip().lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean; use one of: true, false, 1, 0.")


def env_int(name: str, default: int, *, minimum: int = 0) -> int:
    raw = env.str(name, default=str(default))
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not an integer.") from None
    if value < minimum:
        raise ImproperlyConfigured(f"{name}={value} must be at least {minimum}.")
    return value


MODE = env.str("MODELGATE_MODE", default="development")
if MODE not in {"development", "production"}:
    raise ImproperlyConfigured(
        f"MODELGATE_MODE={MODE!r} is not valid; use 'development' or 'production'."
    )
PRODUCTION = MODE == "production"

VAR_DIR = Path(env.str("MODELGATE_VAR_DIR", default=str(BASE_DIR / "var"))).resolve()
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env_bool("DEBUG", default=False)
if PRODUCTION and DEBUG:
    raise ImproperlyConfigured("DEBUG must be off when MODELGATE_MODE=production.")


def _secret_key() -> str:
    key = env.str("SECRET_KEY", default="")
    if key:
        # Django's own deploy check (security.W009): at least 50 characters, at least 5 distinct.
        if PRODUCTION and (len(key) < 50 or len(set(key)) < 5 or key.startswith("django-insecure")):
            raise ImproperlyConfigured(
                "SECRET_KEY is too weak for production: use at least 50 random characters "
                "(at least 5 different ones), e.g. python -c 'import secrets; "
                "print(secrets.token_urlsafe(64))'."
            )
        return key
    if PRODUCTION:
        raise ImproperlyConfigured("SECRET_KEY is required when MODELGATE_MODE=production.")
    # Development: generate once and keep it, so sessions survive restarts.
    path = VAR_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(64))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()

ALLOWED_HOSTS = env.list(
    "ALLOWED_HOSTS", default=[] if PRODUCTION else ["localhost", "127.0.0.1", "[::1]", "testserver"]
)
if PRODUCTION and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS is required when MODELGATE_MODE=production.")
if PRODUCTION and any("*" in host for host in ALLOWED_HOSTS):
    # A wildcard accepts any Host header: poisoned password-reset links and cache keys.
    raise ImproperlyConfigured(
        "ALLOWED_HOSTS must name the hosts in production, without '*' "
        "(use '.example.com' for a domain and its subdomains)."
    )
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "knox",  # hashed API tokens; the token table is releases.ApiToken (KNOX_TOKEN_MODEL)
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "releases",
    "scoring",
    "explain",
]

MIDDLEWARE = [
    # Predict and infer POSTs answer here, past the page middleware (see the module).
    "scoring.fast_path.ServingFastPathMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "webapp.errors.DomainErrorMiddleware",
]

ROOT_URLCONF = "webapp.urls"
WSGI_APPLICATION = "webapp.wsgi.application"
ASGI_APPLICATION = "webapp.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "releases.context_processors.navigation",
                "scoring.context_processors.relabel",
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------------------------
try:
    DATABASES = {
        "default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'modelgate.sqlite3'}")
    }
except (ValueError, KeyError) as exc:
    raise ImproperlyConfigured(f"DATABASE_URL is not a valid database URL: {exc}") from None
_db = DATABASES["default"]
if _db["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web process read while the worker writes; the timeout rides out short locks.
    _db.setdefault("OPTIONS", {}).update(
        {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
    # A file, not memory, so a Celery worker process started by the tests can open it too.
    _db["TEST"] = {"NAME": str(VAR_DIR / "test_modelgate.sqlite3")}
else:
    _db["CONN_MAX_AGE"] = env_int("DATABASE_CONN_MAX_AGE", default=60)
    _db["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache --------------------------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    if not REDIS_URL.startswith(("redis://", "rediss://", "unix://")):
        raise ImproperlyConfigured(
            f"REDIS_URL={REDIS_URL!r} must start with redis:// or rediss://."
        )
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "modelgate",
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Celery -------------------------------------------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
if CELERY_BROKER_URL.split("://", 1)[0] not in {"filesystem", "redis", "rediss", "amqp", "pyamqp"}:
    raise ImproperlyConfigured(
        f"CELERY_BROKER_URL={CELERY_BROKER_URL!r}: use filesystem://, redis:// or amqp://."
    )
CELERY_BROKER_IS_FILESYSTEM = CELERY_BROKER_URL.startswith("filesystem://")
CELERY_VISIBILITY_TIMEOUT = env_int("CELERY_VISIBILITY_TIMEOUT", default=3600, minimum=60)
if CELERY_BROKER_IS_FILESYSTEM:
    _broker_dir = VAR_DIR / "broker"
    for _sub in ("queue", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    # One folder for in and out: producers (web) and consumers (workers) share the queue.
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_VISIBILITY_TIMEOUT}
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default="") or None
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
# A task is acknowledged only after it ran; a worker killed mid-task gives it back to the queue.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Both limits stay below the visibility timeout, or Redis would hand a running task to a second
# worker.
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", default=1800, minimum=10)
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", default=1500, minimum=5)
if not CELERY_TASK_SOFT_TIME_LIMIT < CELERY_TASK_TIME_LIMIT < CELERY_VISIBILITY_TIMEOUT:
    raise ImproperlyConfigured(
        "Need CELERY_TASK_SOFT_TIME_LIMIT < CELERY_TASK_TIME_LIMIT < CELERY_VISIBILITY_TIMEOUT."
    )
# The sweeper (releases.services.sweeper), run by `celery beat`: re-queues versions stuck in
# pending or validating for longer than MODELGATE_SWEEP_AFTER_SECONDS (by default the visibility
# timeout, after which Redis would have handed a lost task out again anyway). It must exceed the
# task time limit, or a validation that is still running would be queued a second time.
MODELGATE_SWEEP_AFTER_SECONDS = env_int(
    "MODELGATE_SWEEP_AFTER_SECONDS", default=CELERY_VISIBILITY_TIMEOUT, minimum=1
)
if not MODELGATE_SWEEP_AFTER_SECONDS > CELERY_TASK_TIME_LIMIT:
    raise ImproperlyConfigured(
        "Need MODELGATE_SWEEP_AFTER_SECONDS > CELERY_TASK_TIME_LIMIT "
        f"({MODELGATE_SWEEP_AFTER_SECONDS} <= {CELERY_TASK_TIME_LIMIT})."
    )
MODELGATE_SWEEP_INTERVAL_SECONDS = env_int("MODELGATE_SWEEP_INTERVAL_SECONDS", 300, minimum=1)
# A version whose validation was re-queued or restarted this many times ends validation_failed.
MODELGATE_VALIDATION_MAX_RESETS = env_int("MODELGATE_VALIDATION_MAX_RESETS", 3, minimum=1)
# Monitoring (scoring.services.monitoring): how often the job aggregates the prediction log into
# hourly tables (the drift API is this fresh), how long it leaves just-logged rows for the
# background log writer, and how far back a version seen for the first time is aggregated.
MODELGATE_MONITORING_INTERVAL_SECONDS = env_int(
    "MODELGATE_MONITORING_INTERVAL_SECONDS", 60, minimum=5
)
MODELGATE_MONITORING_LAG_SECONDS = env_int("MODELGATE_MONITORING_LAG_SECONDS", 10)
# Blocks of log the job reads at once on PostgreSQL (one database connection each).
MODELGATE_MONITORING_READERS = env_int("MODELGATE_MONITORING_READERS", 2, minimum=1)
MODELGATE_MONITORING_BACKFILL_HOURS = env_int("MODELGATE_MONITORING_BACKFILL_HOURS", 168, minimum=1)
CELERY_BEAT_SCHEDULE = {
    "sweep-stuck-validations": {
        "task": "releases.sweep_stuck_validations",
        "schedule": float(MODELGATE_SWEEP_INTERVAL_SECONDS),
        # A sweep that waited longer than one interval is superseded by the next.
        "options": {"expires": float(MODELGATE_SWEEP_INTERVAL_SECONDS)},
    },
    # Compiled-form checks and batch jobs whose message was lost, swept the same way.
    "sweep-stuck-compiled-checks": {
        "task": "releases.sweep_stuck_compiled_checks",
        "schedule": float(MODELGATE_SWEEP_INTERVAL_SECONDS),
        "options": {"expires": float(MODELGATE_SWEEP_INTERVAL_SECONDS)},
    },
    "sweep-stuck-batch-jobs": {
        "task": "scoring.sweep_stuck_batch_jobs",
        "schedule": float(MODELGATE_SWEEP_INTERVAL_SECONDS),
        "options": {"expires": float(MODELGATE_SWEEP_INTERVAL_SECONDS)},
    },
    # Files of batch jobs finished more than MODELGATE_BATCH_RETENTION_DAYS ago.
    "expire-batch-files": {
        "task": "scoring.expire_batch_files",
        "schedule": 3600.0,
        "options": {"expires": 3600.0},
    },
    "monitor-served-models": {
        "task": "scoring.monitor",
        "schedule": float(MODELGATE_MONITORING_INTERVAL_SECONDS),
        "options": {"expires": float(MODELGATE_MONITORING_INTERVAL_SECONDS)},
    },
}
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

# --- Auth ---------------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

# API tokens (django-rest-knox): only a SHA-512 digest of each key is stored, with its first
# 15 characters to look it up; the key is shown once. Keys start with "mg_" so a leaked one is
# recognisable (secret scanners, logs). Expiry is optional: MODELGATE_TOKEN_TTL_DAYS=0 (the
# default) means keys last until rotated or revoked.
KNOX_TOKEN_MODEL = "releases.ApiToken"  # noqa: S105 -- a model name
# knox's own migrations would create its (swapped-out, unused) knox_authtoken table, whose
# foreign key to auth_user makes PostgreSQL refuse to flush the users table.
MIGRATION_MODULES = {"knox": None}
MODELGATE_TOKEN_TTL_DAYS = env_int("MODELGATE_TOKEN_TTL_DAYS", default=0)
REST_KNOX = {
    "TOKEN_PREFIX": "mg_",
    "AUTH_HEADER_PREFIX": "Token",
    "SECURE_HASH_ALGORITHM": "hashlib.sha512",
    "TOKEN_TTL": timedelta(days=MODELGATE_TOKEN_TTL_DAYS) if MODELGATE_TOKEN_TTL_DAYS else None,
    "AUTO_REFRESH": False,
}
# --- Serving (scoring app) ----------------------------------------------------------------------
MODELGATE_PREDICT_MAX_ROWS = env_int("MODELGATE_PREDICT_MAX_ROWS", 10_000, minimum=1)
MODELGATE_PREDICT_MAX_BODY_BYTES = env_int(
    "MODELGATE_PREDICT_MAX_BODY_BYTES", 32 * 1024**2, minimum=1024
)
# Batch scoring: the largest upload (capped by MODELGATE_MAX_UPLOAD_BYTES, which every upload
# obeys), the rows scored per chunk (progress is written after each) and the most rows per file.
MODELGATE_BATCH_MAX_BYTES = env_int("MODELGATE_BATCH_MAX_BYTES", 100 * 1024**2, minimum=1024)
MODELGATE_BATCH_CHUNK_ROWS = env_int("MODELGATE_BATCH_CHUNK_ROWS", 10_000, minimum=1)
MODELGATE_BATCH_MAX_ROWS = env_int("MODELGATE_BATCH_MAX_ROWS", 2_000_000, minimum=1)
# Rows with a bad value are set aside (listed in the job's errors file) up to this many; past it
# the whole file is refused. 0: any bad value fails the job, like a predict request.
MODELGATE_BATCH_MAX_BAD_ROWS = env_int("MODELGATE_BATCH_MAX_BAD_ROWS", 1000, minimum=0)
# Days a finished (succeeded or failed) job keeps its input, result and errors files; then the
# beat task scoring.expire_batch_files deletes them and the job says "expired" (a download is a
# 410). The job's row and audit history stay. 0 keeps the files forever.
MODELGATE_BATCH_RETENTION_DAYS = env_int("MODELGATE_BATCH_RETENTION_DAYS", 30, minimum=0)
# How often a serving process looks at the serving generation (promotions, revocations): one
# indexed query on the audit table per process per interval.
MODELGATE_SERVING_REFRESH_SECONDS = env.float("MODELGATE_SERVING_REFRESH_SECONDS", default=0.5)
# The prediction log: share of requests logged, flush cadence, and the hard cap of rows held in
# memory per process (beyond it rows are dropped and counted, never the request slowed).
MODELGATE_PREDICTION_LOG_SAMPLE = env.float("MODELGATE_PREDICTION_LOG_SAMPLE", default=1.0)
MODELGATE_PREDICTION_LOG_FLUSH_MS = env_int("MODELGATE_PREDICTION_LOG_FLUSH_MS", 200, minimum=10)
MODELGATE_PREDICTION_LOG_FLUSH_ROWS = env_int(
    "MODELGATE_PREDICTION_LOG_FLUSH_ROWS", 1000, minimum=1
)
MODELGATE_PREDICTION_LOG_MAX_ROWS = env_int("MODELGATE_PREDICTION_LOG_MAX_ROWS", 200_000, minimum=1)
# Tests flush by hand, in the test's own transaction.
MODELGATE_PREDICTION_LOG_THREAD = env.bool("MODELGATE_PREDICTION_LOG_THREAD", default=True)

# Shadow mode: rows waiting to be scored by a shadowing staging version, per process (beyond it
# a request's rows are not shadowed, and counted); tests drain the queue by hand.
MODELGATE_SHADOW_QUEUE_MAX_ROWS = env_int("MODELGATE_SHADOW_QUEUE_MAX_ROWS", 20_000, minimum=1)
MODELGATE_SHADOW_THREAD = env_bool("MODELGATE_SHADOW_THREAD", True)
# Regressors agree when the shadow answer is within this fraction of production's.
MODELGATE_SHADOW_REGRESSION_RTOL = env.float("MODELGATE_SHADOW_REGRESSION_RTOL", default=0.01)

# Prometheus /metrics: with a token set, scrapes must send it ("Authorization: Bearer <token>");
# without one, only these addresses (or networks) may scrape.
MODELGATE_METRICS_TOKEN = env.str("MODELGATE_METRICS_TOKEN", default="")
MODELGATE_METRICS_ALLOW_IPS = env.list("MODELGATE_METRICS_ALLOW_IPS", default=["127.0.0.1", "::1"])
for _network in MODELGATE_METRICS_ALLOW_IPS:
    try:
        ipaddress.ip_network(_network, strict=False)
    except ValueError:
        raise ImproperlyConfigured(
            f"MODELGATE_METRICS_ALLOW_IPS: {_network!r} is not an IP address or network."
        ) from None
# A prediction whose winning class's probability is below this counts as low-confidence.
MODELGATE_LOW_CONFIDENCE_THRESHOLD = env.float("MODELGATE_LOW_CONFIDENCE_THRESHOLD", default=0.6)
if not 0.0 <= MODELGATE_LOW_CONFIDENCE_THRESHOLD <= 1.0:
    raise ImproperlyConfigured("MODELGATE_LOW_CONFIDENCE_THRESHOLD must be between 0 and 1.")
# Relabel queues: how long a labeler holds an item before it returns to the queue (a model's
# policy may override it), and how long a serving process reuses a model's routing policy.
MODELGATE_RELABEL_LEASE_SECONDS = env_int("MODELGATE_RELABEL_LEASE_SECONDS", 600, minimum=5)
MODELGATE_RELABEL_POLICY_TTL_SECONDS = env_int("MODELGATE_RELABEL_POLICY_TTL_SECONDS", 10)

# A token's last use is written at most this often, not on every request.
MODELGATE_TOKEN_LAST_USE_RESOLUTION = timedelta(minutes=1)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "releases.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "releases.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "webapp.errors.api_exception_handler",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "ModelGate API",
    "DESCRIPTION": "Release scikit-learn models the way software teams release code.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "scoring.openapi.add_serving_paths",  # the predict views are plain Django views
    ],
}

# --- Files --------------------------------------------------------------------------------------
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media"))).resolve()
MEDIA_URL = "/media-not-served/"  # artifacts are downloaded through authorized views only
STATIC_URL = "/static/"
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(VAR_DIR / "static"))).resolve()
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns on every start without it
STATICFILES_DIRS = [BASE_DIR / "static"]
STATICFILES_FINDERS = [
    "django.contrib.staticfiles.finders.FileSystemFinder",
    "django.contrib.staticfiles.finders.AppDirectoriesFinder",
    "webapp.static_finders.PlotlyFinder",  # vendor/plotly.min.js from the plotly package
]
STORAGES: dict[str, dict[str, Any]] = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = not PRODUCTION

# --- Artifacts ----------------------------------------------------------------------------------
MODELGATE_STORAGE = env.str("MODELGATE_STORAGE", default="local")
if MODELGATE_STORAGE == "s3":
    # Web and workers on several machines share artifacts through an S3-compatible bucket.
    _bucket = env.str("AWS_STORAGE_BUCKET_NAME", default="")
    if not _bucket:
        raise ImproperlyConfigured("MODELGATE_STORAGE=s3 needs AWS_STORAGE_BUCKET_NAME.")
    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": _bucket,
            "endpoint_url": env.str("AWS_S3_ENDPOINT_URL", default="") or None,
            "region_name": env.str("AWS_S3_REGION_NAME", default="") or None,
            "access_key": env.str("AWS_ACCESS_KEY_ID", default="") or None,
            "secret_key": env.str("AWS_SECRET_ACCESS_KEY", default="") or None,
            "location": env.str("AWS_LOCATION", default="modelgate"),
            "default_acl": None,
            "file_overwrite": True,  # names are content hashes: same name, same bytes
            "querystring_auth": True,
        },
    }
elif MODELGATE_STORAGE != "local":
    raise ImproperlyConfigured(f"MODELGATE_STORAGE={MODELGATE_STORAGE!r}: use 'local' or 's3'.")

MODELGATE_MAX_UPLOAD_BYTES = env_int("MODELGATE_MAX_UPLOAD_BYTES", 200 * 1024**2, minimum=1024)
MODELGATE_MAX_UNCOMPRESSED_BYTES = env_int("MODELGATE_MAX_UNCOMPRESSED_BYTES", 2 * 1024**3)
MODELGATE_MAX_ZIP_ENTRIES = env_int("MODELGATE_MAX_ZIP_ENTRIES", 20_000, minimum=1)
# A skops file's schema.json is parsed (in the web process, by a linear scan) only below this
# size; a 1,000-tree random forest's is about 15 MB.
MODELGATE_MAX_SCHEMA_BYTES = env_int("MODELGATE_MAX_SCHEMA_BYTES", 16 * 1024**2, minimum=1024)
MODELGATE_MAX_EVALUATION_ROWS = env_int("MODELGATE_MAX_EVALUATION_ROWS", 200_000, minimum=1)
# Types an admin has reviewed and allows for every model, on top of the shipped allowlist
# (releases.artifact_safety.DEFAULT_TRUSTED_TYPES). Never read from an uploaded file. A name on
# the never-trusted list here stops start-up (system check releases.E001).
MODELGATE_EXTRA_TRUSTED_TYPES = frozenset(env.list("MODELGATE_EXTRA_TRUSTED_TYPES", default=[]))
# Everything that touches a user's model runs in a short-lived child process (releases.sandbox):
# bubblewrap when it works here ("auto"), required ("bwrap"), or a plain child process with the
# same limits ("process": no isolation of files and network).
MODELGATE_SANDBOX = env.str("MODELGATE_SANDBOX", default="auto")
if MODELGATE_SANDBOX not in {"auto", "bwrap", "process"}:
    raise ImproperlyConfigured(
        f"MODELGATE_SANDBOX={MODELGATE_SANDBOX!r} is not valid; use 'auto', 'bwrap' or 'process'."
    )
if MODELGATE_SANDBOX == "bwrap" and not Path("/usr/bin/bwrap").exists():
    raise ImproperlyConfigured(
        "MODELGATE_SANDBOX=bwrap but /usr/bin/bwrap is missing: install bubblewrap "
        "(apt-get install bubblewrap) or set MODELGATE_SANDBOX=auto."
    )
MODELGATE_SANDBOX_MEMORY_MB = env_int("MODELGATE_SANDBOX_MEMORY_MB", 2048, minimum=256)
MODELGATE_SANDBOX_CPU_SECONDS = env_int("MODELGATE_SANDBOX_CPU_SECONDS", 600, minimum=1)
MODELGATE_SANDBOX_WALL_SECONDS = env_int("MODELGATE_SANDBOX_WALL_SECONDS", 900, minimum=1)
# The sandbox's deadline, not Celery's soft limit (which native code ignores), must end the work.
if not MODELGATE_SANDBOX_WALL_SECONDS < CELERY_TASK_SOFT_TIME_LIMIT:
    raise ImproperlyConfigured(
        "Need MODELGATE_SANDBOX_WALL_SECONDS < CELERY_TASK_SOFT_TIME_LIMIT "
        f"({MODELGATE_SANDBOX_WALL_SECONDS} >= {CELERY_TASK_SOFT_TIME_LIMIT})."
    )
# ONNX Runtime's thread pool per served session (an uploaded ONNX model or a compiled form):
# gunicorn's workers and threads already use the cores, and idle pool threads spin-wait.
MODELGATE_ONNX_THREADS = env_int("MODELGATE_ONNX_THREADS", 1, minimum=1)
# SHAP reports (explain): rows of the evaluation set explained per version, background rows, and
# the largest synchronous explanation request (more is a 413).
MODELGATE_SHAP_SAMPLE_ROWS = env_int("MODELGATE_SHAP_SAMPLE_ROWS", 1000, minimum=1)
MODELGATE_SHAP_BACKGROUND_ROWS = env_int("MODELGATE_SHAP_BACKGROUND_ROWS", 100, minimum=1)
MODELGATE_EXPLAIN_MAX_ROWS = env_int("MODELGATE_EXPLAIN_MAX_ROWS", 100, minimum=1)
# Every upload goes to a temporary file (never memory), counted against the limit as it arrives.
FILE_UPLOAD_HANDLERS = [
    "releases.uploads.SizeLimitUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]
FILE_UPLOAD_TEMP_DIR = None

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

# --- Webhooks -----------------------------------------------------------------------------------
# Webhook URLs must resolve to public addresses; hosts named here (comma list, as written in the
# URL: "hooks.internal,10.0.0.5") may be internal. Deliveries make at most MAX_ATTEMPTS tries,
# waiting RETRY_BASE_SECONDS * 2**n (with jitter) between them.
MODELGATE_WEBHOOK_ALLOW_HOSTS = env.list("MODELGATE_WEBHOOK_ALLOW_HOSTS", default=[])
MODELGATE_WEBHOOK_MAX_ATTEMPTS = env_int("MODELGATE_WEBHOOK_MAX_ATTEMPTS", 6, minimum=1)
MODELGATE_WEBHOOK_RETRY_BASE_SECONDS = env_int("MODELGATE_WEBHOOK_RETRY_BASE_SECONDS", 30)
MODELGATE_WEBHOOK_TIMEOUT_SECONDS = env_int("MODELGATE_WEBHOOK_TIMEOUT_SECONDS", 5, minimum=1)

# --- Security -----------------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # the upload page's fetch() reads it to send X-CSRFToken
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if PRODUCTION:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SILENCED_SYSTEM_CHECKS: list[str] = []

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # The filesystem transport has no host; kombu warns about that on every connection.
    "loggers": {"kombu.connection": {"level": "ERROR"}},
}
