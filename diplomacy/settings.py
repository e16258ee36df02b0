"""Settings for the diplomatic-event database.

One module, driven by environment variables with safe local defaults:

- ``DATABASE_URL``: ``postgres://user@host:port/name`` for PostgreSQL; when unset, a
  SQLite file ``db.sqlite3`` next to ``manage.py``.
- ``DJANGO_DEBUG``: ``1``/``true`` turns debug on. Off by default.
- ``DJANGO_SECRET_KEY``: required when debug is off; a development key is used only in debug.
- ``DJANGO_ALLOWED_HOSTS``: comma-separated host names (``localhost,127.0.0.1`` by default).
- ``REDIS_URL``: ``redis://host:port/db`` for the shared cache; when unset, a local-memory cache
  (each process its own); the background jobs' queue too (a SQLite file under ``.local/``
  when unset).
"""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name, default=False):
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name, default):
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DJANGO_DEBUG")

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY must be set when DJANGO_DEBUG is off "
            "(set DJANGO_DEBUG=1 for local development)."
        )
    # Development only: never used with debug off.
    SECRET_KEY = "django-insecure-development-key-do-not-use-in-production"

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    # Thousands separators in the pages' counts (intcomma).
    "django.contrib.humanize",
    "rest_framework",
    "django_filters",
    # API tokens stored as digests, expiring (events/api/tokens.py).
    "knox",
    # Login lockout after repeated failures (events/lockout.py).
    "axes",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "simple_history",
    # Background jobs: `manage.py run_huey` (the worker), configured by HUEY below.
    "huey.contrib.djhuey",
    "events",
]

MIDDLEWARE = [
    # Stores anonymous responses as the client gets them: first, as Django's own cache.
    "events.response_cache.UpdateResponseCacheMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Content-Security-Policy and Permissions-Policy (settings below) on every response.
    "csp.middleware.CSPMiddleware",
    "django_permissions_policy.PermissionsPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "diplomacy.routers.PinPrimaryAfterWriteMiddleware",
    # A read retried on a server that answers; writes 503 while the primary is down.
    "diplomacy.read_only.DatabaseOutageMiddleware",
    "events.throttling.PageThrottleMiddleware",
    # Serves them: last, after the page throttle has counted the request.
    "events.response_cache.FetchResponseCacheMiddleware",
    # Answers a login django-axes refused with the lockout page; it only rewrites that
    # response, and its documentation asks for the end of the list.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "diplomacy.urls"

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

WSGI_APPLICATION = "diplomacy.wsgi.application"

DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=int(os.environ.get("DATABASE_CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
}
IS_POSTGRES = DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Write-ahead logging: pages (an import job's among them) read on while the worker's import
    # writes; with the default rollback journal, every reader waits for the import's commit.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
        "init_command", "PRAGMA journal_mode=WAL;"
    )

# Read replicas (diplomacy/routers.py): `DATABASE_REPLICA_URLS=postgres://…,postgres://…`.
# The word `primary` stands for a second alias to the primary itself (the tests use it).
for _number, _url in enumerate(env_list("DATABASE_REPLICA_URLS", ""), start=1):
    DATABASES[f"replica{_number}"] = {
        **(
            DATABASES["default"]
            if _url == "primary"
            else dj_database_url.parse(_url, conn_max_age=60, conn_health_checks=True)
        ),
        "TEST": {"MIRROR": "default"},
    }
DATABASE_REPLICAS = [alias for alias in DATABASES if alias.startswith("replica")]
# PostgreSQL's JIT compiles plans whose estimated cost is high, which the list's filtered
# queries reach on millions of rows: 55-80 ms of compiling for queries that run in a few ms.
for _database in DATABASES.values():
    if _database["ENGINE"] == "django.db.backends.postgresql":
        _database.setdefault("OPTIONS", {}).setdefault("options", "-c jit=off")
        # A server that is gone fails the connection in seconds, not the OS's minutes.
        _database["OPTIONS"].setdefault(
            "connect_timeout", int(os.environ.get("DATABASE_CONNECT_TIMEOUT", "2"))
        )
DATABASE_ROUTERS = ["diplomacy.routers.PrimaryReplicaRouter"]
DATABASE_PIN_SECONDS = int(os.environ.get("DATABASE_PIN_SECONDS", "10"))
# A server that did not answer is left alone this long, then tried again (diplomacy/routers.py);
# also the `Retry-After` of a write refused while the primary is down.
DATABASE_RETRY_SECONDS = int(os.environ.get("DATABASE_RETRY_SECONDS", "5"))

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Login lockout (django-axes, events/lockout.py): its backend first, so a locked account is
# refused before its password is checked. Failures count per account *and* address (the
# address by the throttles' rule, `DJANGO_TRUSTED_PROXIES`); after `LOGIN_FAILURE_LIMIT` that
# account is refused from that address for `LOGIN_COOLOFF_MINUTES`, the admin's form (a 429
# page) and the API's token login (a 429) alike. `manage.py axes_reset_username <name>` lifts it.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = int(os.environ.get("LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("LOGIN_COOLOFF_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_CLIENT_IP_CALLABLE = "events.lockout.client_address"
AXES_LOCKOUT_CALLABLE = "events.lockout.lockout_response"
AXES_HTTP_RESPONSE_CODE = 429

# API tokens (django-rest-knox): only a SHA-512 digest and the first 15 characters (the
# prefix that lists and revokes it) are stored; each expires `API_TOKEN_TTL_DAYS` after it
# was made, and using it does not push that back.
REST_KNOX = {
    "TOKEN_TTL": timedelta(days=int(os.environ.get("API_TOKEN_TTL_DAYS", "30"))),
    "AUTO_REFRESH": False,
    "AUTH_HEADER_PREFIX": "Token",
}

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

FIXTURE_DIRS = [BASE_DIR / "fixtures"]

# Security settings that `check --deploy` asks for; relaxed only in debug.
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", not DEBUG)
SILENCED_SYSTEM_CHECKS = []
if not DEBUG and not SECURE_SSL_REDIRECT:
    # Turned off on purpose: the proxy in front terminates TLS and redirects HTTP to HTTPS
    # (or, with `make serve`, a local HTTP server on the loopback).
    SILENCED_SYSTEM_CHECKS.append("security.W008")
SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_HSTS_SECONDS", "0" if DEBUG else "31536000"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
# Asking browsers to preload HSTS is hard to take back (removal from their lists takes
# months) and binds every subdomain: only on the owner's word.
SECURE_HSTS_PRELOAD = env_bool("DJANGO_HSTS_PRELOAD")
if not SECURE_HSTS_PRELOAD:
    # `check --deploy` asks for preload; leaving it off is the decision above.
    SILENCED_SYSTEM_CHECKS.append("security.W021")
# How many proxies in front of the application set X-Forwarded-For and X-Forwarded-Proto.
# With 0 neither header is believed: any client can write them. With n, the client's address
# is the n-th from the end of X-Forwarded-For (REST_FRAMEWORK's NUM_PROXIES below), and
# `X-Forwarded-Proto: https` marks the request secure (the outermost proxy must set it, not
# pass on the client's).
TRUSTED_PROXIES = int(os.environ.get("DJANGO_TRUSTED_PROXIES", "0"))
if TRUSTED_PROXIES > 0:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# No Referer to other sites: a listing's URL holds the reader's filters and search words.
# Within the site the whole URL still goes (CSRF checks over HTTPS read it).
SECURE_REFERRER_POLICY = "same-origin"

# Content-Security-Policy (django-csp): scripts, styles, fonts and requests from this origin
# only, nothing inline (the templates keep scripts and styles in static files; charts colour
# with SVG presentation attributes, which the policy allows), no plugins, no framing.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        # data: for the admin's and Swagger UI's inline SVG icons in their stylesheets.
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
    }
}
# Permissions-Policy (django-permissions-policy): no page here needs a device or a payment.
# Only features Chromium knows: it logs a warning on every page for one it does not
# (`bluetooth`, for one, is not a policy-controlled feature there).
PERMISSIONS_POLICY = {
    feature: []
    for feature in (
        "accelerometer",
        "autoplay",
        "browsing-topics",
        "camera",
        "display-capture",
        "geolocation",
        "gyroscope",
        "hid",
        "magnetometer",
        "microphone",
        "midi",
        "payment",
        "screen-wake-lock",
        "serial",
        "usb",
        "xr-spatial-tracking",
    )
}

# The shared cache: Redis when `REDIS_URL` is set, so that every worker and host sees the same
# entries (the throttles' counts among them); otherwise each process keeps its own in memory.
REDIS_URL = os.environ.get("REDIS_URL", "")
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "KEY_PREFIX": os.environ.get("CACHE_KEY_PREFIX", "diplomacy"),
    }
}
if REDIS_URL:
    CACHES["default"].update(
        # Django's RedisCache, with one client per connection pool (diplomacy/cache.py).
        BACKEND="diplomacy.cache.RedisCache",
        LOCATION=REDIS_URL,
        # A Redis that does not answer fails the request within a second rather than
        # holding the worker.
        OPTIONS={"socket_connect_timeout": 1, "socket_timeout": 1},
    )

# Anonymous requests per client address, counted in the default cache: the API
# (events/api/throttle.py), its CSV exports, and the HTML pages (events/throttling.py).
API_ANON_THROTTLE = os.environ.get("API_ANON_THROTTLE", "1000/hour")
CSV_ANON_THROTTLE = os.environ.get("CSV_ANON_THROTTLE", "100/hour")
PAGES_ANON_THROTTLE = os.environ.get("PAGES_ANON_THROTTLE", "2000/hour")

# Whole anonymous responses of the API and the public pages, served from the default cache
# under the data version that every committed write moves on (events/response_cache.py).
# On by default only with Redis: a local-memory cache is per process, and a write in one
# process (an import command) would not reach what another serves.
RESPONSE_CACHE = env_bool("RESPONSE_CACHE", bool(REDIS_URL))
RESPONSE_CACHE_SECONDS = int(os.environ.get("RESPONSE_CACHE_SECONDS", "300"))
# A larger response (a big CSV export) is served, not stored; a streamed one never is.
RESPONSE_CACHE_MAX_BYTES = int(os.environ.get("RESPONSE_CACHE_MAX_BYTES", str(2 * 1024 * 1024)))
# How long a proxy or CDN may keep an anonymous response (Cache-Control: public, max-age).
PUBLIC_MAX_AGE = int(os.environ.get("PUBLIC_MAX_AGE", "60"))

# Background jobs (huey, events/tasks.py): an admin upload is stored, then checked and
# imported by the worker, `manage.py run_huey`, which `make run` and `make serve` start beside
# the server. The queue (and the running imports' progress) is in Redis when `REDIS_URL` is set;
# otherwise in a SQLite file of its own, never the data's database, whose write lock a long
# import holds. `HUEY_IMMEDIATE=1` runs each job inside the request instead (no worker).
HUEY_SQLITE_PATH = Path(os.environ.get("HUEY_SQLITE_PATH", BASE_DIR / ".local" / "huey.sqlite3"))
HUEY = {
    "name": os.environ.get("HUEY_QUEUE_NAME", "diplomacy"),
    # djhuey's default is DEBUG, which would run `make run`'s imports inside the request.
    "immediate": env_bool("HUEY_IMMEDIATE"),
    # A job's outcome is its ImportJob row; huey keeps no results.
    "results": False,
    "huey_class": "huey.RedisHuey" if REDIS_URL else "huey.SqliteHuey",
    "connection": {"url": REDIS_URL} if REDIS_URL else {"filename": str(HUEY_SQLITE_PATH)},
    # One import at a time per worker process: they hold the database's write locks anyway.
    "consumer": {"workers": int(os.environ.get("HUEY_WORKERS", "1")), "worker_type": "thread"},
}
if not REDIS_URL:
    HUEY_SQLITE_PATH.parent.mkdir(parents=True, exist_ok=True)
# Where uploads wait for their job: outside any served directory, on a disk the worker reads
# (a directory both share when the worker runs on another host).
IMPORT_UPLOAD_DIR = Path(os.environ.get("IMPORT_UPLOAD_DIR", BASE_DIR / ".local" / "imports"))
# The largest admin upload; the request only stores it, so a proxy's body limit and free disk
# space are what bound it.
IMPORT_MAX_BYTES = int(os.environ.get("IMPORT_MAX_BYTES", str(2 * 1024**3)))

# The public REST API (events/api/). Token authentication first, so that an anonymous write
# is answered 401 with a WWW-Authenticate header; sessions serve the browsable API.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "events.api.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_THROTTLE_CLASSES": [
        "events.api.throttle.AnonThrottle",
        "events.api.throttle.CsvAnonThrottle",
    ],
    # How many proxies in front append to X-Forwarded-For. With 0 the header is ignored
    # (anyone can write it) and the client's address is REMOTE_ADDR; with n, it is the n-th
    # address from the header's end: the client as the outermost of the n proxies saw it.
    "NUM_PROXIES": TRUSTED_PROXIES,
    "DEFAULT_SCHEMA_CLASS": "events.api.views.ApiSchema",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Diplomatic event database API",
    "DESCRIPTION": "Diplomatic events with their participants, sources and typed links. "
    "Read access is public (published events only); writes need a curator's or editor's "
    "token. CSV columns: docs/csv.md.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Interactive documentation served from our own static files: no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    # No validator badge: an image from validator.swagger.io, which the CSP refuses.
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    "REDOC_DIST": "SIDECAR",
    # Several models have a `kind`; name each choice set after its model.
    "ENUM_NAME_OVERRIDES": {
        "EventKindEnum": "events.models.EventKind",
        "ActorKindEnum": "events.models.ActorKind",
        "SourceKindEnum": "events.models.SourceKind",
        "LinkKindEnum": "events.models.LinkKind",
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "django.server": {
            "()": "django.utils.log.ServerFormatter",
            "format": "[{server_time}] {message}",
            "style": "{",
        },
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler"},
        "django.server": {"class": "logging.StreamHandler", "formatter": "django.server"},
    },
    "root": {"handlers": ["console"], "level": os.environ.get("DJANGO_LOG_LEVEL", "WARNING")},
    "loggers": {
        # Django's default logging gives "django" a console handler of its own (with debug on)
        # and lets it propagate to the root's console as well: every line of `make run` came out
        # twice. Here "django" has no handler of its own, so its lines reach the root's once.
        "django": {"handlers": [], "level": "INFO"},
        # Naming "django" resets its children, so the server's request lines keep their own
        # handler (with the time) explicitly, and do not propagate.
        "django.server": {"handlers": ["django.server"], "level": "INFO", "propagate": False},
        # The worker says which jobs it runs (once: run_huey adds no handler of its own then).
        "huey": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}
