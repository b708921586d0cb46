"""Settings: the environment is read here, once, through django-environ (SPEC §2).

A bad value stops start-up with a message naming the variable.
"""

import re
import secrets
from datetime import time, timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from restaurant.logging import formatter_path

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").is_file():
    env.read_env(BASE_DIR / ".env")


def _read(name, reader, **kwargs):
    try:
        return reader(name, **kwargs)
    except (ValueError, TypeError, ImproperlyConfigured) as exc:
        raise ImproperlyConfigured(f"{name}: invalid value ({exc})") from exc


def _rate(name: str, default: str) -> str | None:
    """A DRF throttle rate like '120/min', or None for 'off'."""
    value = _read(name, env.str, default=default).strip().lower()
    if value == "off":
        return None
    if not re.fullmatch(r"[1-9][0-9]*/(s|sec|second|m|min|minute|h|hour|d|day)", value):
        raise ImproperlyConfigured(f"{name}: expected 'N/min' (or /s, /hour, /day) or 'off', got {value!r}")
    return value


DEBUG = _read("DEBUG", env.bool, default=False)
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY: required when DEBUG is off (make run writes one to .env)")
    SECRET_KEY = secrets.token_urlsafe(50)  # dev run: a fresh key each start

ALLOWED_HOSTS = _read("ALLOWED_HOSTS", env.list, default=["localhost", "127.0.0.1"])
# Production behind TLS (README "Running it for real"): HTTPS=true makes every cookie secure, sends
# HSTS and redirects plain HTTP (but the health checks, which a local supervisor asks over HTTP);
# TRUSTED_PROXIES=N trusts N proxies in front: X-Forwarded-For for the client's address (rate limits)
# and, with HTTPS, X-Forwarded-Proto for the scheme.
HTTPS = _read("HTTPS", env.bool, default=False)
TRUSTED_PROXIES = _read("TRUSTED_PROXIES", env.int, default=0)
if TRUSTED_PROXIES < 0:
    raise ImproperlyConfigured("TRUSTED_PROXIES: must be >= 0")
if HTTPS:
    SECURE_SSL_REDIRECT = True
    SECURE_REDIRECT_EXEMPT = [r"^health(/|$)"]
    SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = _read("HSTS_SECONDS", env.int, default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = _read("HSTS_INCLUDE_SUBDOMAINS", env.bool, default=True)
    SECURE_HSTS_PRELOAD = _read("HSTS_PRELOAD", env.bool, default=True)
    if TRUSTED_PROXIES:
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Scripts only from the site's own files; sockets and fetches to itself; no framing.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)
# At most this many live-screen sockets per client address in a display process (0: no limit).
SOCKETS_PER_CLIENT = _read("SOCKETS_PER_CLIENT", env.int, default=20)
# A live-screen socket is dropped once more than this many bytes wait unsent for its client (one
# that does not read: the display would hold every update for it; restaurant/display.py); 0: no limit.
SOCKET_SEND_BUFFER = _read("SOCKET_SEND_BUFFER", env.int, default=1024 * 1024)
if SOCKET_SEND_BUFFER < 0:
    raise ImproperlyConfigured("SOCKET_SEND_BUFFER: must be >= 0")
# Origins besides a site's own that may post forms and open the display's sockets (scheme://host[:port]).
CSRF_TRUSTED_ORIGINS = _read("TRUSTED_ORIGINS", env.list, default=[])
LOG_LEVEL = _read("LOG_LEVEL", env.str, default="INFO").upper()
if LOG_LEVEL not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
    raise ImproperlyConfigured(f"LOG_LEVEL: expected DEBUG, INFO, WARNING or ERROR, got {LOG_LEVEL!r}")
# json: one JSON object per line (SPEC §7); console: the same fields as readable text (`make run`).
LOG_FORMAT = _read("LOG_FORMAT", env.str, default="json").strip().lower()
try:
    LOG_FORMATTER = formatter_path(LOG_FORMAT)
except ValueError as exc:
    raise ImproperlyConfigured(str(exc)) from None
COOKING_TIME_SCALE = _read("COOKING_TIME_SCALE", env.float, default=1.0)
if COOKING_TIME_SCALE < 0:
    raise ImproperlyConfigured("COOKING_TIME_SCALE: must be >= 0")
RABBITMQ_URL = _read("RABBITMQ_URL", env.str, default="amqp://guest:guest@localhost:5672/%2F")
# The apps' queues (SPEC §5), each function declaring some on a channel: restaurant/broker.py's
# declare_topology calls them after declaring the exchanges.
BROKER_TOPOLOGY = ["kitchen.topology.declare_kitchen_queues"]
ORDERS_RATE_LIMIT = _rate("ORDERS_RATE_LIMIT", "120/min")
TRACKING_RATE_LIMIT = _rate("TRACKING_RATE_LIMIT", "600/min")
# The order number's day (README "Capacity and promised times"): utc, SPEC §3's UTC date; local, the
# restaurant's business day (its menu's kitchen time zone), which starts at BUSINESS_DAY_STARTS local
# time, so a late service keeps its day's numbers past midnight.
ORDER_NUMBER_DAY = _read("ORDER_NUMBER_DAY", env.str, default="utc").strip().lower()
if ORDER_NUMBER_DAY not in {"utc", "local"}:
    raise ImproperlyConfigured(f"ORDER_NUMBER_DAY: expected utc or local, got {ORDER_NUMBER_DAY!r}")
_day_starts = _read("BUSINESS_DAY_STARTS", env.str, default="04:00").strip()
if not re.fullmatch(r"([01][0-9]|2[0-3]):[0-5][0-9]", _day_starts):
    raise ImproperlyConfigured(f"BUSINESS_DAY_STARTS: expected HH:MM from 00:00 to 23:59, got {_day_starts!r}")
BUSINESS_DAY_STARTS = time.fromisoformat(_day_starts)
# open: POST /orders takes the seed's free items ({name, quantity, price}) next to menu items; strict: menu items only.
MENU_MODE = _read("MENU_MODE", env.str, default="open").strip().lower()
if MENU_MODE not in {"open", "strict"}:
    raise ImproperlyConfigured(f"MENU_MODE: expected open or strict, got {MENU_MODE!r}")
# The staff order API has a budget of its own: the customers polling tracking from the restaurant's
# wifi share its IP with the front-of-house tablets, and must not use up theirs.
STAFF_RATE_LIMIT = _rate("STAFF_RATE_LIMIT", "600/min")
# Where staff open the kitchen screens (/kitchen/, /kitchen/expo/, /board/), linked from the admin:
# the display process, on its own port under `make run` (honcho's base port + 500). Empty: this host.
DISPLAY_URL = _read("DISPLAY_URL", env.str, default="http://localhost:8500").strip().rstrip("/")
if DISPLAY_URL and not re.fullmatch(r"https?://[^/\s]+(/\S*)?", DISPLAY_URL):
    raise ImproperlyConfigured(f"DISPLAY_URL: expected an http(s) URL or nothing, got {DISPLAY_URL!r}")
# The guests' side (README "Guests order from their phones"). Where guests open the ordering and
# tracking pages (the display process): the tables' QR codes and the notifications' track links
# point here. Empty: DISPLAY_URL.
PUBLIC_BASE_URL = _read("PUBLIC_BASE_URL", env.str, default="").strip().rstrip("/") or DISPLAY_URL
if PUBLIC_BASE_URL and not re.fullmatch(r"https?://[^/\s]+(/\S*)?", PUBLIC_BASE_URL):
    raise ImproperlyConfigured(f"PUBLIC_BASE_URL: expected an http(s) URL, got {PUBLIC_BASE_URL!r}")
RESTAURANT_NAME = _read("RESTAURANT_NAME", env.str, default="Our restaurant").strip()
# A guest's phone number without a leading + is read as a number of this country (ISO 3166, e.g. IT).
PHONE_REGION = _read("PHONE_REGION", env.str, default="").strip().upper()
# The customer notifier (notifications/): email through Django's backend (EMAIL_URL, read by
# django-environ: smtp://user:password@host:587 with ?tls=true, consolemail://, filemail:///path),
# SMS through SMS_BACKEND: console (prints), file (a JSON line per message in SMS_FILE_PATH) or
# twilio (TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TWILIO_FROM; TWILIO_API_URL for a stand-in).
vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = _read("DEFAULT_FROM_EMAIL", env.str, default="orders@localhost")
SMS_BACKEND = _read("SMS_BACKEND", env.str, default="console").strip().lower()
if SMS_BACKEND not in {"console", "file", "twilio"}:
    raise ImproperlyConfigured(f"SMS_BACKEND: expected console, file or twilio, got {SMS_BACKEND!r}")
SMS_FILE_PATH = _read("SMS_FILE_PATH", env.str, default="sms.jsonl")
TWILIO_ACCOUNT_SID = _read("TWILIO_ACCOUNT_SID", env.str, default="")
TWILIO_AUTH_TOKEN = _read("TWILIO_AUTH_TOKEN", env.str, default="")
TWILIO_FROM = _read("TWILIO_FROM", env.str, default="")
TWILIO_API_URL = _read("TWILIO_API_URL", env.str, default="https://api.twilio.com").rstrip("/")
if SMS_BACKEND == "twilio" and not (TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN and TWILIO_FROM):
    raise ImproperlyConfigured("SMS_BACKEND=twilio needs TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_FROM")
# A provider's answer is awaited this long (seconds); a failed send is tried again after 2, 4, 8 …
# seconds (at most NOTIFY_RETRY_MAX_SECONDS), NOTIFY_ATTEMPTS times in all, then marked failed.
NOTIFY_TIMEOUT_SECONDS = _read("NOTIFY_TIMEOUT_SECONDS", env.float, default=10.0)
NOTIFY_ATTEMPTS = _read("NOTIFY_ATTEMPTS", env.int, default=6)
NOTIFY_RETRY_MAX_SECONDS = _read("NOTIFY_RETRY_MAX_SECONDS", env.float, default=300.0)
# How often the outbox relay polls when no NOTIFY arrives (a fallback, seconds).
OUTBOX_POLL_INTERVAL = _read("OUTBOX_POLL_INTERVAL", env.float, default=5.0)
# Logins (restaurant/logins.py): a username is locked out from one client address after this many
# failed logins in a row, for this many minutes (every failure during the lockout starts it again).
LOGIN_FAILURE_LIMIT = _read("LOGIN_FAILURE_LIMIT", env.int, default=5)
LOGIN_LOCKOUT_MINUTES = _read("LOGIN_LOCKOUT_MINUTES", env.int, default=15)
if LOGIN_FAILURE_LIMIT < 1 or LOGIN_LOCKOUT_MINUTES < 1:
    raise ImproperlyConfigured("LOGIN_FAILURE_LIMIT and LOGIN_LOCKOUT_MINUTES: must be >= 1")

INSTALLED_APPS = [
    "daphne",
    "restaurant.apps.RestaurantAdminConfig",  # django.contrib.admin with our site (restaurant/admin_site.py)
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "knox",  # the staff order API's tokens, stored hashed (orders/tokens.py)
    "axes",  # failed logins counted, a username locked out from an address (restaurant/logins.py)
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI's files, so /api/docs/ works without a CDN
    "channels",
    "restaurant",
    "menu",
    "orders",
    "kitchen",
    "tracking",
    "notifications",
]

MIDDLEWARE = [
    "restaurant.middleware.RequestIDMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "restaurant.middleware.ContentSecurityPolicyMiddleware",
    # Static files (admin, Swagger UI) straight from the apps, in every process, with no CDN.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as its documentation asks: turns a login refused for a lockout into the lockout's answer.
    "axes.middleware.AxesMiddleware",
]

# Axes' backend first: it refuses a locked-out username and address before a password is checked.
# (Having no get_user, it is not the backend that Client.force_login picks.)
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_FAILURE_LIMIT = LOGIN_FAILURE_LIMIT
AXES_COOLOFF_TIME = timedelta(minutes=LOGIN_LOCKOUT_MINUTES)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True  # "in a row": a login that succeeds forgets the failures before it
AXES_CLIENT_IP_CALLABLE = "restaurant.throttling.client_address"  # TRUSTED_PROXIES, as the rate limits
AXES_LOCKOUT_CALLABLE = "restaurant.logins.lockout_response"  # 429 with Retry-After
# Django's four standard rules, for every password a person sets: the back office's forms (a staff
# account's, a password change) and `manage.py changepassword`.
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

ROOT_URLCONF = "restaurant.urls"
WSGI_APPLICATION = "restaurant.wsgi.application"
ASGI_APPLICATION = "restaurant.asgi.application"
# Each display process relays RabbitMQ's status updates to its own WebSocket clients
# (kitchen/bridge.py): a layer in memory is all it needs, no Redis.
CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
APPEND_SLASH = False

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
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

DATABASES = {"default": _read("DATABASE_URL", env.db_url, default="postgres:///restaurant")}
DATABASES["default"].setdefault("OPTIONS", {})
# Django's PostgreSQL backend with a health check that asks the socket, not the server.
DATABASES["default"]["ENGINE"] = "restaurant.db"
# Fail fast when PostgreSQL is unreachable: the API must answer 503 within 5 s.
DATABASES["default"]["OPTIONS"].setdefault("connect_timeout", 2)
# Sync processes (the web process's threads, the relay, workers) keep one connection each
# (CONN_MAX_AGE), checked before reuse. Under ASGI (daphne) Django handles each request on a fresh
# thread, so per-thread connections would pile up: set DATABASE_POOL_SIZE there for a psycopg pool.
DATABASE_POOL_SIZE = _read("DATABASE_POOL_SIZE", env.int, default=0)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASE_POOL_SIZE > 0:
    DATABASES["default"]["OPTIONS"]["pool"] = {
        "min_size": 1,
        "max_size": DATABASE_POOL_SIZE,
        "timeout": 2,  # waiting for a free connection (or a reachable database): 503 well within 5 s
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
else:
    DATABASES["default"]["CONN_MAX_AGE"] = _read("CONN_MAX_AGE", env.int, default=60)
# One database per test run (tests/settings.py sets TEST_DATABASE_NAME).
if env.str("TEST_DATABASE_NAME", default=""):
    DATABASES["default"]["TEST"] = {"NAME": env.str("TEST_DATABASE_NAME")}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
WHITENOISE_USE_FINDERS = True  # served from the installed apps: no STATIC_ROOT, no collectstatic step to forget

# Bodies above 64 KiB are refused with 413 (SPEC §3).
MAX_ORDER_BODY_BYTES = 64 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = MAX_ORDER_BODY_BYTES

REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "UNAUTHENTICATED_USER": None,
    "EXCEPTION_HANDLER": "restaurant.api.exception_handler",
    "COERCE_DECIMAL_TO_STRING": False,
    # Per-client-IP limits (SPEC §2); a view names its scope. None ("off") lets everything through.
    # A logged-in user (the staff API's) is counted per account rather than per IP. The counters are
    # shared by every web process: they live in PostgreSQL (restaurant/throttling.py).
    "DEFAULT_THROTTLE_CLASSES": ["restaurant.throttling.DatabaseRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "orders": ORDERS_RATE_LIMIT,
        "tracking": TRACKING_RATE_LIMIT,
        "staff": STAFF_RATE_LIMIT,
    },
    # The client is the address TRUSTED_PROXIES hops back in X-Forwarded-For (0: REMOTE_ADDR): a
    # header the client wrote itself is not trusted.
    "NUM_PROXIES": TRUSTED_PROXIES,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}

# The staff order API's tokens (orders/tokens.py): no expiry unless one is given, sent as `Token <key>`.
REST_KNOX = {"TOKEN_TTL": None, "AUTH_HEADER_PREFIX": "Token"}

# OpenAPI 3 at /api/schema/, Swagger UI at /api/docs/ (restaurant/openapi.py holds the shared parts).
SPECTACULAR_SETTINGS = {
    "TITLE": "Restaurant order system",
    "VERSION": "1.0.0",
    "DESCRIPTION": (
        "Order intake, order tracking and health of the restaurant order system. "
        'Every error is answered as `{"code": "...", "errors": {"<field or detail>": ["message", ...]}}`. '
        "Limits per client IP: `ORDERS_RATE_LIMIT` on `POST /orders`, `TRACKING_RATE_LIMIT` on the tracking "
        "endpoints; over the limit the answer is `429` with `Retry-After`."
    ),
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "OrderTypeEnum": "orders.models.OrderType",
        "OrderStatusEnum": "orders.models.OrderStatus",
        "WorkerStatusEnum": "kitchen.models.WorkerStatus",
    },
    # The health endpoints are plain Django views, which drf-spectacular does not see.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "restaurant.openapi.add_health_paths",
    ],
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "restaurant.logging.RequestIDFilter"}},
    "formatters": {"lines": {"()": LOG_FORMATTER}},
    "handlers": {
        "stdout": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stdout",
            "formatter": "lines",
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["stdout"], "level": LOG_LEVEL},
    "loggers": {
        # Our own lines carry an action; Django's request log would repeat every 4xx.
        "django.request": {"level": "ERROR"},
        "django.server": {"level": "ERROR"},
        # pika reports each failed connection attempt at length; our own line says it once.
        "pika": {"level": "CRITICAL"},
        # Axes' failures and lockouts (username and address masked); the lockout's own line, with
        # both, is restaurant/logins.py's `login_locked_out`.
        "axes": {"level": "WARNING"},
    },
}
