"""Settings for the support desk.

One module, as Django reads it (over 500 lines because every setting the README's
configuration table lists is read here, with its default and a line on what it does).

Configuration is read once, here, from environment variables through django-environ,
with defaults that work on a development machine where PostgreSQL and Redis run locally and
DEBUG is on (`make run` and the tests turn it on). With DEBUG off the defaults are production's:
HTTPS only, and no secret has a default (the end of this module refuses to start without them).
"""

import ipaddress
import re
from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from kombu import Queue

from supportdesk.deployment import DEVELOPMENT_SECRETS, InsecureDeployment, refusal_message, secret_problems
from supportdesk.logs import logging_config

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# A local .env file is optional; real environment variables always win.
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# Off unless asked for: `make run` and the test suite turn it on.
DEBUG = env.bool("DEBUG", default=False)


def _secret(name: str) -> str:
    """A secret from the environment; the published development value only with DEBUG on (with it
    off an unset secret stays empty, and the check at the end of this module refuses to start)."""
    return env.str(name, default=DEVELOPMENT_SECRETS[name] if DEBUG else "")


SECRET_KEY = _secret("SECRET_KEY")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# --- HTTPS ------------------------------------------------------------------------------
# Production defaults (DEBUG off) are what `manage.py check --deploy` asks for; each can be
# turned off from the environment where the deployment needs it.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
# The container and load-balancer probes ask over plain HTTP from inside.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
# Behind a proxy that ends TLS, whose header says the original scheme, e.g.
# SECURE_PROXY_SSL_HEADER=HTTP_X_FORWARDED_PROTO,https (only if the proxy always sets or strips it).
SECURE_PROXY_SSL_HEADER = env.tuple("SECURE_PROXY_SSL_HEADER", default=None) or None
if SECURE_PROXY_SSL_HEADER is not None and len(SECURE_PROXY_SSL_HEADER) != 2:
    raise ImproperlyConfigured("SECURE_PROXY_SSL_HEADER is '<header>,<value>', e.g. HTTP_X_FORWARDED_PROTO,https.")
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 365 * 24 * 3600)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
# Only takes effect once the domain is submitted to the browsers' preload list (hstspreload.org).
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# No page of the desk may be framed; the chat widget's frame exempts itself (widget_views.frame).
X_FRAME_OPTIONS = "DENY"

DATABASES = {
    "default": env.db_url("DATABASE_URL", default="postgres://localhost:5432/supportdesk"),
}
DATABASES["default"].setdefault("OPTIONS", {})
# While PostgreSQL is down or unreachable a request must fail fast (503, see
# supportdesk.middleware) instead of hanging: a short connect timeout, and a bound on how long
# data sent on an open connection may go unacknowledged (a dead network, not a slow query).
DATABASES["default"]["OPTIONS"].setdefault("connect_timeout", env.int("DATABASE_CONNECT_TIMEOUT", default=2))
DATABASES["default"]["OPTIONS"].setdefault(
    "tcp_user_timeout", env.int("DATABASE_TCP_USER_TIMEOUT_MS", default=3000))
# How long a request waits for a pooled connection before it answers 503.
DATABASE_POOL_TIMEOUT = env.float("DATABASE_POOL_TIMEOUT", default=2.0)
# Every connection is checked before use (the pool's check, or Django's health check
# without a pool), so one handed out after a PostgreSQL restart is never a dead one.
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# Under ASGI, persistent connections leak (a new one per request thread), so every process
# borrows from a small psycopg pool instead; CONN_MAX_AGE must then stay 0.
if env.bool("DATABASE_POOL", default=True):
    DATABASES["default"]["OPTIONS"]["pool"] = {
        "min_size": 1,
        "max_size": env.int("DATABASE_POOL_MAX_SIZE", default=8),
        "timeout": DATABASE_POOL_TIMEOUT,
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
# The event loop's own pool for the websockets' hot path (supportdesk.db.loop_connection).
DATABASE_LOOP_POOL_MAX_SIZE = env.int("DATABASE_LOOP_POOL_MAX_SIZE", default=4)
# What a 503 for an unreachable database tells the client to wait before retrying.
DATABASE_UNAVAILABLE_RETRY_AFTER_SECONDS = env.int("DATABASE_UNAVAILABLE_RETRY_AFTER_SECONDS", default=5)
# /readyz's own bound on reaching PostgreSQL, whatever the pool is doing.
HEALTH_CHECK_TIMEOUT_SECONDS = env.int("HEALTH_CHECK_TIMEOUT_SECONDS", default=2)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str("REDIS_URL", default="redis://localhost:6379/0")
# Every key, pub/sub channel and channel-layer group this deployment uses on Redis starts with
# this, so desks sharing one Redis server never meet (pub/sub ignores the db number): the
# channel layer, Celery's broker keys, rate limits, the OMS drain key (supportdesk.redis.redis_key).
REDIS_KEY_PREFIX = env.str("REDIS_KEY_PREFIX", default="sd")
# One plain word: a ':' or a glob character would let one desk's keys match another's patterns.
if not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", REDIS_KEY_PREFIX):
    raise ImproperlyConfigured(f"REDIS_KEY_PREFIX is letters, digits, '.', '_' or '-' (at most 64), "
                               f"not {REDIS_KEY_PREFIX!r}.")

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
    "axes",
    "supportdesk",
    "timeline",
    "routing",
    "conversations",
    "workflows",
    "integrations",
    "reports",
    "helpcenter",
    "anymail",
]

MIDDLEWARE = [
    # First, so every line logged for the request carries its id (supportdesk.logs).
    "supportdesk.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "supportdesk.middleware.DatabaseUnavailableMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # The desk's pages in English or in the language their user chose (not Accept-Language).
    "supportdesk.middleware.DeskLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

# --- Login throttling (django-axes): the desk's and the admin's logins alike ----------------
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses a locked-out login before checking it
    "django.contrib.auth.backends.ModelBackend",
]
# Failed logins allowed per account and address before the lockout, and how long it lasts
# (minutes). A successful login clears the count.
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.float("LOGIN_LOCKOUT_MINUTES", default=15))
AXES_RESET_ON_SUCCESS = True
# Per account and address together: one address guessing cannot lock a colleague elsewhere out.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_LOCKOUT_CALLABLE = "supportdesk.lockout.login_locked_out"
AXES_ENABLE_ACCESS_FAILURE_LOG = True  # each failed login, for the admin to read
AXES_ENABLED = env.bool("LOGIN_THROTTLING", default=True)

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
# The languages every customer-facing text (widget, rating and call pages, help center, emails) ships in:
# those of the demo agents (supportdesk/demo/agents.py). supportdesk/languages.py picks one per
# customer; tests/supportdesk/test_customer_texts.py fails when a catalogue misses one of them.
CUSTOMER_LANGUAGES = ("en", "ar", "bg", "ca", "de", "es", "fr", "hr", "it", "ka", "kk", "ko", "ky", "pl", "pt",
                      "ro", "sr", "tr", "uk")
# The agents' and supervisors' pages: English by default, Spanish when chosen (the header's form).
DESK_LANGUAGES = ("en", "es")
DESK_LANGUAGE_COOKIE = "desk_language"
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
        "CONFIG": {
            "hosts": [{"address": REDIS_URL, "max_connections": REDIS_MAX_CONNECTIONS}],
            "prefix": f"{REDIS_KEY_PREFIX}:asgi",
        },
    },
}

# --- Celery -----------------------------------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL)
# kombu's Redis transport, made to close cleanly on a lost connection so the worker rides out a
# Redis outage (supportdesk/broker.py says why). Other schemes (rediss, sentinel) keep kombu's own.
if CELERY_BROKER_URL.startswith("redis://"):
    CELERY_BROKER_TRANSPORT = "supportdesk.broker:Transport"
# A message a worker took and never acknowledged (the worker died, or lost its connection while
# it held the message: a task waiting for its countdown, a late-acked task running) goes back to
# its queue after this many seconds. Longer than any task runs or waits for its countdown (a
# drain hands over after 30 s, retries back off 16 s at most), or such a task would run twice.
BROKER_VISIBILITY_TIMEOUT_SECONDS = env.int("CELERY_VISIBILITY_TIMEOUT", default=300)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    # Every broker key and pub/sub channel (queues, unacked, bindings, pidbox, events) gets the
    # deployment's prefix, so two desks' workers never take each other's tasks on one Redis.
    "global_keyprefix": f"{REDIS_KEY_PREFIX}:",
    "visibility_timeout": BROKER_VISIBILITY_TIMEOUT_SECONDS,
    # Look for such messages every tenth of it (kombu's default looks every 100 s).
    "unacked_restore_interval": max(1, BROKER_VISIBILITY_TIMEOUT_SECONDS // 10),
    "unacked_restore_throttle": 1,
}
# A separate queue name keeps a benchmark's or a second checkout's tasks apart on one Redis.
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_TASK_DEFAULT_QUEUE", default="celery")
# The beat's short ticks (workflows, timers, segment membership), and the triggers' drains a
# commit asks for, go to a queue of their own, "<default queue>.ticks", so they never wait
# behind thousands of workflow runs in the default queue and expire there. A worker started
# without -Q consumes both (CELERY_TASK_QUEUES); one started with -Q must name both.
WORKER_TICKS_QUEUE = f"{CELERY_TASK_DEFAULT_QUEUE}.ticks"
CELERY_TASK_QUEUES = (Queue(CELERY_TASK_DEFAULT_QUEUE), Queue(WORKER_TICKS_QUEUE))
CELERY_TASK_ROUTES = {name: {"queue": WORKER_TICKS_QUEUE} for name in (
    "workflows.tasks.workflows_tick", "workflows.tasks.timers_fire", "workflows.tasks.triggers_drain",
    "workflows.segments.tasks.segments_membership_drain")}
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 4
# A late-acked task still running when the connection is lost finishes its work (the tasks are
# idempotent: it runs again after the visibility timeout if its acknowledgement was lost).
# Stopping it (celery 6's default) only puts the work off, and in a Redis-restart drill the
# stopped task was lost. (Celery 5 then logs a pending-deprecation warning per lost connection.)
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
# Beat and the worker beat every HEARTBEAT_INTERVAL_SECONDS (supportdesk.heartbeats); one
# silent for HEARTBEAT_MAX_AGE_SECONDS is stale: logged, and /readyz answers 503 naming it
# unless READYZ_HEARTBEATS is off (for a probe that should judge the web process alone).
HEARTBEAT_INTERVAL_SECONDS = env.float("HEARTBEAT_INTERVAL_SECONDS", default=10.0)
HEARTBEAT_MAX_AGE_SECONDS = env.float("HEARTBEAT_MAX_AGE_SECONDS", default=60.0)
READYZ_HEARTBEATS = env.bool("READYZ_HEARTBEATS", default=True)
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
    # Inbound emails a lost task did not process yet (integrations.email_inbound).
    "integrations-email-inbound-drain": {
        "task": "integrations.tasks.email_inbound_drain",
        "schedule": env.float("EMAIL_INBOUND_DRAIN_INTERVAL_SECONDS", default=5.0),
        "options": {"expires": 10},
    },
    # WhatsApp webhook posts a lost task did not apply yet (integrations.whatsapp).
    "integrations-whatsapp-drain": {
        "task": "integrations.tasks.whatsapp_drain",
        "schedule": env.float("WHATSAPP_DRAIN_INTERVAL_SECONDS", default=5.0),
        "options": {"expires": 10},
    },
    # Voice webhook posts a lost task did not apply yet (integrations.voice).
    "integrations-voice-drain": {
        "task": "integrations.tasks.voice_drain",
        "schedule": env.float("VOICE_DRAIN_INTERVAL_SECONDS", default=2.0),
        "options": {"expires": 5},
    },
    # Chats whose visitor went away before an agent answered are abandoned here.
    "conversations-chats-abandoned": {
        "task": "conversations.tasks.chats_abandoned_sweep",
        "schedule": 10.0,
        "options": {"expires": 20},
    },
    # Replies on email and messaging that a lost task did not send yet (conversations.channels;
    # each reply's commit asks for a drain at once).
    "conversations-outbound-deliver": {
        "task": "conversations.tasks.outbound_deliver",
        "schedule": env.float("OUTBOUND_DRAIN_INTERVAL_SECONDS", default=5.0),
        "options": {"expires": 10},
    },
    # What the desk asked of its calls that a lost task did not send yet (conversations.calls).
    "conversations-call-actions-send": {
        "task": "conversations.tasks.call_actions_send",
        "schedule": env.float("CALL_ACTIONS_DRAIN_INTERVAL_SECONDS", default=2.0),
        "options": {"expires": 5},
    },
    # Routing's history (queued, assigned, transferred, breached, ...) onto the contacts'
    # timelines: drains the outbox routing writes in the same transaction as each event.
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
    # Workflows: timeline events to triggered runs (drains the timeline's outbox), timers due,
    # runs whose wait ended or whose worker died mid-step, and schedules due. A short beat:
    # timers fire within a second of their time, not on hourly sweeps.
    "workflows-tick": {
        "task": "workflows.tasks.workflows_tick",
        "schedule": env.float("WORKFLOWS_TICK_SECONDS", default=1.0),
        "options": {"expires": 5},
    },
    # Satisfaction surveys: resolutions seen on the timeline schedule surveys; due ones are
    # sent by a task at their time, and here if that task was lost; averages age daily.
    "surveys-on-resolutions": {
        "task": "workflows.surveys.tasks.surveys_on_resolutions",
        "schedule": env.float("CSAT_RESOLUTIONS_INTERVAL_SECONDS", default=5.0),
        "options": {"expires": 10},
    },
    # The reports' counters per hour: the events routing, the timeline and the replies wrote
    # since (reports.rollups drains their outbox).
    "reports-rollups-drain": {
        "task": "reports.tasks.rollups_drain",
        "schedule": env.float("REPORTS_ROLLUPS_INTERVAL_SECONDS", default=2.0),
        "options": {"expires": 10},
    },
    "surveys-send-due": {
        "task": "workflows.surveys.tasks.surveys_send_due",
        "schedule": 30.0,
        "options": {"expires": 60},
    },
    "contacts-ratings-age": {
        "task": "workflows.surveys.tasks.contacts_ratings_age",
        "schedule": 3600.0,
        "options": {"expires": 1800},
    },
    # Segments: the timeline's new events applied to their members (incremental), and a full
    # re-evaluation now and then (conditions over time windows change with no event).
    "segments-membership": {
        "task": "workflows.segments.tasks.segments_membership_drain",
        "schedule": env.float("SEGMENT_DRAIN_INTERVAL_SECONDS", default=1.0),
        "options": {"expires": 10},
    },
    "segments-refresh": {
        "task": "workflows.segments.tasks.segments_refresh",
        "schedule": env.float("SEGMENT_REFRESH_INTERVAL_SECONDS", default=3600.0),
        "options": {"expires": 600},
    },
    # Campaigns whose next batch is overdue (their task was lost) are sent on.
    "outreach-campaigns-resume": {
        "task": "workflows.outreach.tasks.campaigns_resume",
        "schedule": 60.0,
        "options": {"expires": 60},
    },
    # The suggested replies' model, trained again from the desk's latest history and measured.
    "conversations-suggestions-train": {
        "task": "conversations.tasks.suggestions_train",
        "schedule": env.float("SUGGESTIONS_TRAIN_INTERVAL_SECONDS", default=6 * 3600.0),
        "options": {"expires": 3600},
    },
    # Beat's and the worker's heartbeats for /readyz and the logs.
    "supportdesk-heartbeat": {
        "task": "supportdesk.tasks.heartbeat",
        "schedule": HEARTBEAT_INTERVAL_SECONDS,
        "options": {"expires": HEARTBEAT_MAX_AGE_SECONDS},
    },
}

# --- Outbox (supportdesk.outbox): events in, reactions out --------------------------------
# A consumer's entry that fails this many drains in a row is parked with its error (admin:
# outbox entries), so one bad event cannot hold back the rest of its stream.
OUTBOX_MAX_ATTEMPTS = env.int("OUTBOX_MAX_ATTEMPTS", default=5)
# A bulk producer (the OMS drain catching up on a backlog) waits up to this long between
# batches while latency-sensitive work downstream is behind (supportdesk.backpressure); 0: never.
BACKPRESSURE_MAX_WAIT_SECONDS = env.float("BACKPRESSURE_MAX_WAIT_SECONDS", default=2.0)

# --- Workflows ---------------------------------------------------------------------------------
# Chains of workflows (one's action triggering another) stop at this depth, with a log line.
WORKFLOWS_MAX_CHAIN_DEPTH = env.int("WORKFLOWS_MAX_CHAIN_DEPTH", default=3)
# Workflows are behind (the OMS drain gives way) with more timeline events or received
# messages waiting for the triggers, or more timers past due, than this.
WORKFLOWS_BACKLOG_LIMIT = env.int("WORKFLOWS_BACKLOG_LIMIT", default=150)
# A step that fails transiently (OMS 503, SMTP 4xx) is tried this many times, backing off.
WORKFLOWS_STEP_MAX_ATTEMPTS = env.int("WORKFLOWS_STEP_MAX_ATTEMPTS", default=5)
# How long a worker holds a run while a step reaches outside; past it, another may retry.
WORKFLOWS_STEP_LEASE_SECONDS = env.float("WORKFLOWS_STEP_LEASE_SECONDS", default=120.0)
# A running run untouched this long is taken as lost (its task went with the broker) and the
# tick queues it again. Not seconds: under a backlog every queued run would be queued again
# each tick, and the duplicates would grow the backlog.
WORKFLOWS_LOST_RUN_SECONDS = env.float("WORKFLOWS_LOST_RUN_SECONDS", default=60.0)
# A schedule over a large segment is fired a chunk of members per transaction, this many
# chunks at once (threads, each with its own database connection): about the cores
# PostgreSQL may use for it.
WORKFLOWS_SCHEDULE_WORKERS = env.int("WORKFLOWS_SCHEDULE_WORKERS", default=2)
# Outbound URL steps: timeout, and whether private addresses (localhost, 10.x) are allowed.
WORKFLOWS_OUTBOUND_TIMEOUT_SECONDS = env.float("WORKFLOWS_OUTBOUND_TIMEOUT_SECONDS", default=5.0)
WORKFLOWS_OUTBOUND_ALLOW_PRIVATE = env.bool("WORKFLOWS_OUTBOUND_ALLOW_PRIVATE", default=DEBUG)

# --- REST API ---------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # Agents and supervisors (supportdesk.access); viewsets widen it (integrations) or narrow it.
    "DEFAULT_PERMISSION_CLASSES": ["supportdesk.access.IsDeskUser"],
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
WIDGET_IDENTITY_SECRET = _secret("WIDGET_IDENTITY_SECRET")
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
# The widget's help-center suggestions, articles and reads (helpcenter.widget_views): per IP
# address, and the reads per visitor too. A visitor typing asks at most every pause.
HELP_WIDGET_RATE_IP = env.str("HELP_WIDGET_RATE_IP", default="120/60")
# How often each process shares its websocket rate-limit counts through Redis.
RATE_LIMIT_SYNC_SECONDS = env.float("RATE_LIMIT_SYNC_SECONDS", default=0.5)
# The language of a chat whose first message says too little to tell.
CHAT_DEFAULT_LANGUAGE = env.str("CHAT_DEFAULT_LANGUAGE", default="en")
# A chat no agent answered yet whose visitor has had no socket open for this long was
# abandoned (ended at the disconnect). A connected widget's socket refreshes its "last seen"
# every CHAT_VISITOR_SEEN_SECONDS, so a killed web process (no disconnect runs) counts too.
CHAT_ABANDON_AFTER_SECONDS = env.float("CHAT_ABANDON_AFTER_SECONDS", default=120.0)
if CHAT_ABANDON_AFTER_SECONDS <= 0:
    raise ImproperlyConfigured("CHAT_ABANDON_AFTER_SECONDS must be more than 0.")
CHAT_VISITOR_SEEN_SECONDS = min(30.0, CHAT_ABANDON_AFTER_SECONDS / 4)

# --- Suggested replies (conversations.suggestions) -------------------------------------------
# The model learns from the replies of the last SUGGESTIONS_HISTORY_DAYS (at most
# SUGGESTIONS_MAX_EXAMPLES, the newest), is measured on the last SUGGESTIONS_HELD_OUT_DAYS held
# out, and is trained again every SUGGESTIONS_TRAIN_INTERVAL_SECONDS by beat; the newest
# SUGGESTIONS_MODELS_KEPT trained models are kept for the supervisors' page.
SUGGESTIONS_HISTORY_DAYS = env.int("SUGGESTIONS_HISTORY_DAYS", default=90)
SUGGESTIONS_HELD_OUT_DAYS = env.int("SUGGESTIONS_HELD_OUT_DAYS", default=7)
SUGGESTIONS_MAX_EXAMPLES = env.int("SUGGESTIONS_MAX_EXAMPLES", default=100_000)
SUGGESTIONS_MODELS_KEPT = env.int("SUGGESTIONS_MODELS_KEPT", default=10)
if not 0 < SUGGESTIONS_HELD_OUT_DAYS < SUGGESTIONS_HISTORY_DAYS or SUGGESTIONS_MODELS_KEPT < 1:
    raise ImproperlyConfigured("SUGGESTIONS_HELD_OUT_DAYS must be more than 0 and less than "
                               "SUGGESTIONS_HISTORY_DAYS, and SUGGESTIONS_MODELS_KEPT at least 1.")

# --- Integrations -------------------------------------------------------------------------
OMS_WEBHOOK_SECRET = _secret("OMS_WEBHOOK_SECRET")
OMS_WEBHOOK_TOLERANCE_SECONDS = env.int("OMS_WEBHOOK_TOLERANCE_SECONDS", default=300)
OMS_WEBHOOK_MAX_BODY_BYTES = env.int("OMS_WEBHOOK_MAX_BODY_BYTES", default=256 * 1024)
OMS_API_URL = env.str("OMS_API_URL", default="http://localhost:9000/api")
OMS_API_TOKEN = env.str("OMS_API_TOKEN", default="")
OMS_API_TIMEOUT_SECONDS = env.float("OMS_API_TIMEOUT_SECONDS", default=5.0)
# "http" calls the real OMS; "fake" records calls in memory (tests, demos without an OMS).
OMS_CLIENT = env.str("OMS_CLIENT", default="http")
if OMS_CLIENT not in {"http", "fake"}:
    raise ImproperlyConfigured(f"OMS_CLIENT must be 'http' or 'fake', not {OMS_CLIENT!r}.")

# --- Outgoing email ---------------------------------------------------------------------------
# Sent through Django's email framework over a real SMTP connection (integrations.mail). EMAIL_URL
# names any SMTP server or provider: smtp://user:password@host:587 (STARTTLS: smtp+tls://,
# TLS: smtp+ssl://). The default is the desk's own local sink (`manage.py smtp_sink`, started by
# `make run`), which keeps every message it receives for the staff-only page /desk/mailbox/.
SMTP_SINK_HOST = env.str("SMTP_SINK_HOST", default="127.0.0.1")
SMTP_SINK_PORT = env.int("SMTP_SINK_PORT", default=8025)
_email = env.email_url("EMAIL_URL", default=f"smtp://{SMTP_SINK_HOST}:{SMTP_SINK_PORT}")
EMAIL_BACKEND = _email["EMAIL_BACKEND"]
EMAIL_HOST = _email.get("EMAIL_HOST") or "localhost"
EMAIL_PORT = _email.get("EMAIL_PORT") or 25
EMAIL_HOST_USER = _email.get("EMAIL_HOST_USER") or ""
EMAIL_HOST_PASSWORD = _email.get("EMAIL_HOST_PASSWORD") or ""
EMAIL_USE_TLS = bool(_email.get("EMAIL_USE_TLS"))
EMAIL_USE_SSL = bool(_email.get("EMAIL_USE_SSL"))
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT_SECONDS", default=10)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Support <support@localhost>")
# The right-hand side of the Message-IDs the desk sets (derived from each send's idempotency key,
# so a retried send carries the same Message-ID and the receiver can tell it is the same message).
EMAIL_MESSAGE_ID_DOMAIN = env.str("EMAIL_MESSAGE_ID_DOMAIN", default="supportdesk.local")

# --- Incoming email (integrations.email_inbound) ---------------------------------------------------
# Mail to any address at this domain is the desk's: support@ opens conversations, the replies'
# reply+<token>@ addresses land in theirs. `make run` serves it by SMTP (`manage.py smtp_inbound`).
EMAIL_INBOUND_DOMAIN = env.str("EMAIL_INBOUND_DOMAIN", default="supportdesk.local")
# The address customers are told to write to: the chat widget offers it outside business hours.
SUPPORT_EMAIL_ADDRESS = env.str("SUPPORT_EMAIL_ADDRESS", default=f"support@{EMAIL_INBOUND_DOMAIN}")
EMAIL_INBOUND_SMTP_HOST = env.str("EMAIL_INBOUND_SMTP_HOST", default="127.0.0.1")
EMAIL_INBOUND_SMTP_PORT = env.int("EMAIL_INBOUND_SMTP_PORT", default=2525)
EMAIL_INBOUND_MAX_BYTES = env.int("EMAIL_INBOUND_MAX_BYTES", default=25 * 1024 * 1024)
# Providers' inbound webhooks (django-anymail), each on only when its secret is set (with DEBUG on,
# a development value): Mailgun signs each post (HMAC-SHA256 with the account's signing key) to
# /integrations/email/mailgun/inbound_mime/; Postmark posts with the user:password you put in
# the URL you give it (https://user:password@host/integrations/email/postmark/inbound/).
MAILGUN_WEBHOOK_SIGNING_KEY = _secret("MAILGUN_WEBHOOK_SIGNING_KEY")
POSTMARK_INBOUND_BASIC_AUTH = _secret("POSTMARK_INBOUND_BASIC_AUTH")
ANYMAIL = {"MAILGUN_WEBHOOK_SIGNING_KEY": MAILGUN_WEBHOOK_SIGNING_KEY}

# --- Messaging: the WhatsApp Business Cloud API (integrations.whatsapp) --------------------------
# The webhook at /integrations/whatsapp/webhook/ checks each post's X-Hub-Signature-256 with the app
# secret and answers Meta's subscription check with the verify token. Replies go to WHATSAPP_API_URL
# (Meta's Graph API, e.g. https://graph.facebook.com/v21.0; by default the fake provider `make run`
# starts) as the business number WHATSAPP_PHONE_NUMBER_ID; outside the 24-hour window, as the approved
# template WHATSAPP_TEMPLATE (one body parameter: the reply), in the conversation's language.
WHATSAPP_APP_SECRET = _secret("WHATSAPP_APP_SECRET")
WHATSAPP_VERIFY_TOKEN = _secret("WHATSAPP_VERIFY_TOKEN")
# Meta's posts are a few KB (media come by id, not in the post); a bigger one is refused with 413.
WHATSAPP_WEBHOOK_MAX_BODY_BYTES = 1024 * 1024
WHATSAPP_ACCESS_TOKEN = env.str("WHATSAPP_ACCESS_TOKEN", default="")
WHATSAPP_PHONE_NUMBER_ID = env.str("WHATSAPP_PHONE_NUMBER_ID", default="100000000000001")
FAKE_WHATSAPP_HOST = env.str("FAKE_WHATSAPP_HOST", default="127.0.0.1")
FAKE_WHATSAPP_PORT = env.int("FAKE_WHATSAPP_PORT", default=9100)
WHATSAPP_API_URL = env.str("WHATSAPP_API_URL", default=f"http://{FAKE_WHATSAPP_HOST}:{FAKE_WHATSAPP_PORT}")
WHATSAPP_TEMPLATE = env.str("WHATSAPP_TEMPLATE", default="support_follow_up")
WHATSAPP_TIMEOUT_SECONDS = env.float("WHATSAPP_TIMEOUT_SECONDS", default=10.0)
# Where the fake provider posts its status reports and the demo's inbound messages (the desk's webhook).
FAKE_WHATSAPP_WEBHOOK_URL = env.str("FAKE_WHATSAPP_WEBHOOK_URL",
                                    default="http://127.0.0.1:8000/integrations/whatsapp/webhook/")

# --- Voice: the desk's side of a call (conversations.services.calls) -------------------------------
# The languages of the phone menu, in the order the caller hears them (key 1 is the first); the
# choice becomes the call's routing language. A caller who chooses none within the menu's timeout
# is routed in CHAT_DEFAULT_LANGUAGE.
VOICE_LANGUAGES = env.list("VOICE_LANGUAGES", default=["en", "es", "pt", "ko", "fr", "de", "it", "ca", "pl"])
VOICE_MENU_TIMEOUT = timedelta(seconds=env.int("VOICE_MENU_SECONDS", default=60))

# --- Voice: the provider (integrations.voice; Twilio's webhooks and REST API) ----------------------
# The number's webhooks are under /integrations/voice/ (incoming/ for a call, status/ for its status
# reports); each post's X-Twilio-Signature is checked with TWILIO_AUTH_TOKEN (unset: every post is
# refused and the desk asks no provider anything). Twilio signs the URL it requested: behind a proxy,
# VOICE_WEBHOOK_BASE_URL (e.g. https://desk.example.com) is the desk's public address, which the
# checks use and the desk's REST calls give as callback addresses (unset: the request's own address
# is checked, and callbacks go to DESK_PUBLIC_URL). The desk's REST calls go to TWILIO_API_URL
# (https://api.twilio.com for the real one; by default the simulator `make run` starts) as
# TWILIO_ACCOUNT_SID, calling out from TWILIO_NUMBER.
TWILIO_ACCOUNT_SID = env.str("TWILIO_ACCOUNT_SID", default="AC" + "0" * 32)
TWILIO_AUTH_TOKEN = _secret("TWILIO_AUTH_TOKEN")
TWILIO_NUMBER = env.str("TWILIO_NUMBER", default="+34910000000")
FAKE_VOICE_HOST = env.str("FAKE_VOICE_HOST", default="127.0.0.1")
FAKE_VOICE_PORT = env.int("FAKE_VOICE_PORT", default=9200)
TWILIO_API_URL = env.str("TWILIO_API_URL", default=f"http://{FAKE_VOICE_HOST}:{FAKE_VOICE_PORT}")
TWILIO_TIMEOUT_SECONDS = env.float("TWILIO_TIMEOUT_SECONDS", default=10.0)
VOICE_WEBHOOK_BASE_URL = env.str("VOICE_WEBHOOK_BASE_URL", default="").rstrip("/")
# Seconds the menu waits for a key before the caller is queued in the default language.
VOICE_MENU_GATHER_SECONDS = env.int("VOICE_MENU_GATHER_SECONDS", default=6)
# What waiting and held callers hear (an MP3 or WAV the provider can fetch).
VOICE_HOLD_MUSIC_URL = env.str("VOICE_HOLD_MUSIC_URL",
                               default="http://com.twilio.sounds.music.s3.amazonaws.com/MARKOVICHAMP-Borghestral.mp3")
# Where the simulator (`manage.py fake_voice`, `manage.py demo_call`) places its calls: the desk's webhooks.
FAKE_VOICE_WEBHOOK_URL = env.str("FAKE_VOICE_WEBHOOK_URL", default="http://127.0.0.1:8000/integrations/voice/")

# --- The fake OMS (integrations.oms.fake_server, `manage.py fake_oms`) ----------------------------
# A real HTTP server answering the calls HttpOmsClient makes, for the demo and the tests; `make run`
# starts it where OMS_API_URL points (by default http://localhost:9000/api).
FAKE_OMS_HOST = env.str("FAKE_OMS_HOST", default="127.0.0.1")
FAKE_OMS_PORT = env.int("FAKE_OMS_PORT", default=9000)

# Log lines carry the request's or task's id (supportdesk.logs); LOG_FORMAT=json writes each as
# a JSON object for a log shipper.
LOG_FORMAT = env.str("LOG_FORMAT", default="text").strip().lower()
if LOG_FORMAT not in ("text", "json"):
    raise ImproperlyConfigured(f"LOG_FORMAT must be text or json, not {LOG_FORMAT!r}.")
LOGGING = logging_config(log_format=LOG_FORMAT, level=env.str("LOG_LEVEL", default="INFO"))
LOGGING["loggers"].update({
    # Beat's sweeps every few seconds would fill the worker's log with "received" and
    # "succeeded" lines; failures still show (WARNING and up).
    "celery.app.trace": {"level": env.str("CELERY_TASK_LOG_LEVEL", default="WARNING")},
    "celery.worker.strategy": {"level": env.str("CELERY_TASK_LOG_LEVEL", default="WARNING")},
})

# --- /metrics (reports.metrics) -----------------------------------------------------------------
# A scraper shows METRICS_TOKEN as "Authorization: Bearer <token>", or comes from one of these
# networks (the address the desk sees: behind a proxy, the proxy's).
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
METRICS_ALLOWED_NETWORKS = env.list("METRICS_ALLOWED_NETWORKS", default=["127.0.0.1/32", "::1/128"])
for _network in METRICS_ALLOWED_NETWORKS:
    try:
        ipaddress.ip_network(_network, strict=False)
    except ValueError:
        raise ImproperlyConfigured(f"METRICS_ALLOWED_NETWORKS: {_network!r} is not a network "
                                   "(e.g. 10.0.0.0/8 or ::1/128).") from None
# How often each process adds what it counted to Redis (supportdesk.metrics).
METRICS_FLUSH_SECONDS = env.float("METRICS_FLUSH_SECONDS", default=5.0)

# --- Staffing (reports.forecast) -------------------------------------------------------------
# The share of work to be answered within its queue's target wait, that the agents needed are
# worked out for.
STAFFING_TARGET_SERVICE_LEVEL = env.float("STAFFING_TARGET_SERVICE_LEVEL", default=0.8)
if not 0 < STAFFING_TARGET_SERVICE_LEVEL < 1:
    raise ImproperlyConfigured(f"STAFFING_TARGET_SERVICE_LEVEL is a share above 0 and below 1, e.g. 0.8, "
                               f"not {STAFFING_TARGET_SERVICE_LEVEL!r}.")

# --- Routing ----------------------------------------------------------------------------
# Items no rule routes go to this queue (created when first needed).
ROUTING_DEFAULT_QUEUE = env.str("ROUTING_DEFAULT_QUEUE", default="general")
# The language of an item whose conversation has none.
ROUTING_DEFAULT_LANGUAGE = env.str("ROUTING_DEFAULT_LANGUAGE", default="en")
# Offers let time out in a row before the agent is set away.
ROUTING_MISSED_OFFERS_AWAY = env.int("ROUTING_MISSED_OFFERS_AWAY", default=2)
# An offer expired more than this long before routing noticed (no sweep, no access: the beat
# or the desk was down) is not counted as the agent's miss, nor kept from them. A few sweeps.
ROUTING_OFFER_MISS_GRACE_SECONDS = env.float(
    "ROUTING_OFFER_MISS_GRACE_SECONDS", default=max(10.0, 5 * CELERY_BEAT_SCHEDULE["routing-sweep"]["schedule"]))
# How long a process may reuse the rules and queues it read (saves clear its own copy).
ROUTING_CONFIG_SECONDS = env.float("ROUTING_CONFIG_SECONDS", default=2.0)
# An agent whose browser sent no heartbeat for this long goes offline; their items return.
ROUTING_HEARTBEAT_TIMEOUT_SECONDS = env.int("ROUTING_HEARTBEAT_TIMEOUT_SECONDS", default=90)
# An item an agent declined (or let time out) and nobody else took is offered to them again
# after this pause, on the next sweep or their next heartbeat.
ROUTING_DECLINE_PAUSE_SECONDS = env.float("ROUTING_DECLINE_PAUSE_SECONDS", default=30.0)

# --- Satisfaction surveys (workflows.surveys) ------------------------------------------------
# Where customers open the desk's public pages (the rating link in a survey email).
DESK_PUBLIC_URL = env.str("DESK_PUBLIC_URL", default="http://localhost:8000").rstrip("/")
# A contact is asked at most once in this many days (a survey setting may say otherwise).
CSAT_MIN_DAYS_BETWEEN = env.int("CSAT_MIN_DAYS_BETWEEN", default=7)
# A rating may be changed for this many days after it was first given.
CSAT_CHANGE_DAYS = env.int("CSAT_CHANGE_DAYS", default=7)
# A survey link (and a survey in the widget) is good for this many days after it was sent.
CSAT_LINK_MAX_AGE_DAYS = env.int("CSAT_LINK_MAX_AGE_DAYS", default=28)
# A conversation reopened and resolved again is not asked again within this many hours.
CSAT_REASK_AFTER_HOURS = env.int("CSAT_REASK_AFTER_HOURS", default=24)

# --- Demo ----------------------------------------------------------------------------------
# `manage.py seed_demo` creates logins whose passwords the README prints (a superuser among
# them): a development machine's data, loaded in production only when asked for.
DEMO_DATA = env.bool("DEMO_DATA", default=DEBUG)

# --- Refuse unsafe production settings -----------------------------------------------------
# Last, so every secret above has been read. With DEBUG on, the development values are fine.
if not DEBUG:
    _problems = secret_problems(
        {"SECRET_KEY": SECRET_KEY, "OMS_WEBHOOK_SECRET": OMS_WEBHOOK_SECRET,
         "WIDGET_IDENTITY_SECRET": WIDGET_IDENTITY_SECRET, "OMS_API_TOKEN": OMS_API_TOKEN,
         "MAILGUN_WEBHOOK_SIGNING_KEY": MAILGUN_WEBHOOK_SIGNING_KEY,
         "POSTMARK_INBOUND_BASIC_AUTH": POSTMARK_INBOUND_BASIC_AUTH,
         "WHATSAPP_APP_SECRET": WHATSAPP_APP_SECRET, "WHATSAPP_VERIFY_TOKEN": WHATSAPP_VERIFY_TOKEN,
         "TWILIO_AUTH_TOKEN": TWILIO_AUTH_TOKEN},
        oms_client=OMS_CLIENT, database_password=DATABASES["default"].get("PASSWORD") or "",
    )
    if _problems:
        raise InsecureDeployment(refusal_message(_problems))
