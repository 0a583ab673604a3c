"""Settings for the support desk.

Configuration is read once, here, from environment variables through django-environ,
with defaults that work on a development machine where PostgreSQL and Redis run locally.
"""

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# A local .env file is optional; real environment variables always win.
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=True)
SECRET_KEY = env.str("SECRET_KEY", default="dev-only-insecure-secret-key-change-me")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

DATABASES = {
    "default": env.db_url("DATABASE_URL", default="postgres://localhost:5432/supportdesk"),
}
DATABASES["default"].setdefault("OPTIONS", {})
DATABASES["default"]["OPTIONS"].setdefault("connect_timeout", 5)
# Under ASGI, persistent connections leak (a new one per request thread), so every process
# borrows from a small psycopg pool instead; CONN_MAX_AGE must then stay 0.
if env.bool("DATABASE_POOL", default=True):
    DATABASES["default"]["OPTIONS"]["pool"] = {
        "min_size": 1,
        "max_size": env.int("DATABASE_POOL_MAX_SIZE", default=8),
        "timeout": 10,
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str("REDIS_URL", default="redis://localhost:6379/0")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "supportdesk",
    "timeline",
    "routing",
    "conversations",
    "workflows",
    "integrations",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "supportdesk.urls"
ASGI_APPLICATION = "supportdesk.asgi.application"

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
            ],
        },
    },
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Serve straight from the app folders when collectstatic has not run (development, tests).
WHITENOISE_USE_FINDERS = True

LOGIN_URL = "desk:login"

# --- Channels -------------------------------------------------------------------------
# Channels over Redis. "pubsub" (the default) sends a group message with one PUBLISH and
# keeps group membership in the process that holds the socket: about a third less CPU per
# chat message than "core" in the live-chat benchmark, and no group expiry for sockets
# open for days. Both deliver at most once; pages resync from the database on reconnect.
CHANNEL_LAYER_BACKENDS = {
    "pubsub": "channels_redis.pubsub.RedisPubSubChannelLayer",
    "core": "channels_redis.core.RedisChannelLayer",
}
CHANNEL_LAYER = env.str("CHANNEL_LAYER", default="pubsub")
if CHANNEL_LAYER not in CHANNEL_LAYER_BACKENDS:
    raise ImproperlyConfigured(f"CHANNEL_LAYER must be 'pubsub' or 'core', not {CHANNEL_LAYER!r}.")
# redis-py's asyncio pool refuses (instead of waiting) past its size, which is 100 unless
# set: thousands of sockets opening at once would see errors.
REDIS_MAX_CONNECTIONS = env.int("REDIS_MAX_CONNECTIONS", default=1000)
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": CHANNEL_LAYER_BACKENDS[CHANNEL_LAYER],
        "CONFIG": {"hosts": [{"address": REDIS_URL, "max_connections": REDIS_MAX_CONNECTIONS}]},
    },
}

# --- Celery -----------------------------------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL)
# A separate queue name keeps a benchmark's or a second checkout's tasks apart on one Redis.
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_TASK_DEFAULT_QUEUE", default="celery")
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 4
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_BEAT_SCHEDULE = {
    # Safety net: whatever the webhook stored while no worker ran is processed here.
    "oms-events-drain": {
        "task": "integrations.tasks.oms_events_drain",
        "schedule": env.float("OMS_DRAIN_INTERVAL_SECONDS", default=5.0),
    },
    # Offers that timed out, silent agents, escalations, and the match's safety net.
    "routing-sweep": {
        "task": "routing.tasks.routing_sweep",
        "schedule": env.float("ROUTING_SWEEP_INTERVAL_SECONDS", default=2.0),
        "options": {"expires": 10},
    },
    # Chats whose routing task was lost (no worker, Redis restarted) are routed here.
    "conversations-unrouted-sweep": {
        "task": "conversations.tasks.conversations_unrouted_sweep",
        "schedule": 15.0,
        "options": {"expires": 30},
    },
    # Routing's history (queued, assigned, transferred, breached, ...) onto the contacts' timelines.
    "routing-history-to-timeline": {
        "task": "conversations.tasks.routing_history_to_timeline",
        "schedule": 5.0,
        "options": {"expires": 10},
    },
    # The supervisors' live view: one snapshot per tick, pushed to every open view.
    "supervisor-live-push": {
        "task": "conversations.tasks.supervisor_live_push",
        "schedule": env.float("SUPERVISOR_LIVE_INTERVAL_SECONDS", default=2.0),
        "options": {"expires": 5},
    },
}

# --- REST API ---------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.SearchFilter",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_PAGINATION_CLASS": "supportdesk.api.DefaultCursorPagination",
    "PAGE_SIZE": 50,
    # The API speaks JSON only, read by the one safe loader (supportdesk.json_input).
    "DEFAULT_PARSER_CLASSES": ["supportdesk.parsers.SafeJSONParser"],
    "TEST_REQUEST_DEFAULT_FORMAT": "json",  # so tests' APIClient speaks what the API takes
    "DEFAULT_SCHEMA_CLASS": "supportdesk.schema.ErrorDocumentingAutoSchema",
    "EXCEPTION_HANDLER": "supportdesk.api.exception_handler",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Support desk API",
    "DESCRIPTION": "Contacts, orders, conversations and messages of the support desk.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI assets come from the drf-spectacular-sidecar package: no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    # Request bodies get their own components: read-only fields leave them, and a text field that
    # may not be blank says so (minLength 1).
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Two models have a field named status with different choices: name their enums apart.
    # A work item's state gets its own name too, before another model's state takes "StateEnum".
    "ENUM_NAME_OVERRIDES": {
        "OrderStatusEnum": "timeline.models.OrderStatus",
        "ConversationStatusEnum": "conversations.models.ConversationStatus",
        "WorkItemStateEnum": "routing.models.ItemState",
    },
}

# --- Live chat ----------------------------------------------------------------------------
# The host site signs the visitor's identity (a JWT, HS256) with this secret; see README.
WIDGET_IDENTITY_SECRET = env.str("WIDGET_IDENTITY_SECRET", default="dev-widget-identity-secret-change-me-32b")
# How long a widget's own session token stays valid (it is renewed on every visit).
WIDGET_SESSION_DAYS = env.int("WIDGET_SESSION_DAYS", default=30)
CHAT_MESSAGE_MAX_CHARS = env.int("CHAT_MESSAGE_MAX_CHARS", default=4000)
CHAT_FRAME_MAX_BYTES = env.int("CHAT_FRAME_MAX_BYTES", default=16 * 1024)
# Rate limits as "<count>/<seconds>": frames a visitor may send, per visitor and per IP
# address, and widget sessions and sockets an IP address may open.
CHAT_RATE_VISITOR = env.str("CHAT_RATE_VISITOR", default="30/10")
CHAT_RATE_IP = env.str("CHAT_RATE_IP", default="300/10")
# Frames from one agent's sockets (heartbeats and reads write to the database).
CHAT_RATE_AGENT = env.str("CHAT_RATE_AGENT", default="60/10")
CHAT_RATE_CONNECT_IP = env.str("CHAT_RATE_CONNECT_IP", default="120/60")
# How often each process shares its websocket rate-limit counts through Redis.
RATE_LIMIT_SYNC_SECONDS = env.float("RATE_LIMIT_SYNC_SECONDS", default=0.5)
# The language of a chat whose first message says too little to tell.
CHAT_DEFAULT_LANGUAGE = env.str("CHAT_DEFAULT_LANGUAGE", default="en")
# Keys this deployment writes to the shared Redis start with this (rate limits, ...).
REDIS_KEY_PREFIX = env.str("REDIS_KEY_PREFIX", default="sd")

# --- Integrations -------------------------------------------------------------------------
OMS_WEBHOOK_SECRET = env.str("OMS_WEBHOOK_SECRET", default="dev-oms-webhook-secret")
OMS_WEBHOOK_TOLERANCE_SECONDS = env.int("OMS_WEBHOOK_TOLERANCE_SECONDS", default=300)
OMS_WEBHOOK_MAX_BODY_BYTES = env.int("OMS_WEBHOOK_MAX_BODY_BYTES", default=256 * 1024)
OMS_API_URL = env.str("OMS_API_URL", default="http://localhost:9000/api")
OMS_API_TOKEN = env.str("OMS_API_TOKEN", default="")
OMS_API_TIMEOUT_SECONDS = env.float("OMS_API_TIMEOUT_SECONDS", default=5.0)
# "http" calls the real OMS; "fake" records calls in memory (tests, demos without an OMS).
OMS_CLIENT = env.str("OMS_CLIENT", default="http")
if OMS_CLIENT not in {"http", "fake"}:
    raise ImproperlyConfigured(f"OMS_CLIENT must be 'http' or 'fake', not {OMS_CLIENT!r}.")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # Beat's sweeps every few seconds would fill the worker's log with "received" and
        # "succeeded" lines; failures still show (WARNING and up).
        "celery.app.trace": {"level": env.str("CELERY_TASK_LOG_LEVEL", default="WARNING")},
        "celery.worker.strategy": {"level": env.str("CELERY_TASK_LOG_LEVEL", default="WARNING")},
    },
}

# --- Routing ----------------------------------------------------------------------------
# Items no rule routes go to this queue (created when first needed).
ROUTING_DEFAULT_QUEUE = env.str("ROUTING_DEFAULT_QUEUE", default="general")
# The language of an item whose conversation has none.
ROUTING_DEFAULT_LANGUAGE = env.str("ROUTING_DEFAULT_LANGUAGE", default="en")
# Offers let time out in a row before the agent is set away.
ROUTING_MISSED_OFFERS_AWAY = env.int("ROUTING_MISSED_OFFERS_AWAY", default=2)
# How long a process may reuse the rules and queues it read (saves clear its own copy).
ROUTING_CONFIG_SECONDS = env.float("ROUTING_CONFIG_SECONDS", default=2.0)
# An agent whose browser sent no heartbeat for this long goes offline; their items return.
ROUTING_HEARTBEAT_TIMEOUT_SECONDS = env.int("ROUTING_HEARTBEAT_TIMEOUT_SECONDS", default=90)
