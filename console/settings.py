"""Settings from the environment, with safe defaults for one machine.

WHARF_DATA_DIR   folder for the SQLite database, the secret key and the Fernet key
DATABASE_URL     PostgreSQL instead of SQLite (postgres://user:pass@host/db)
REDIS_URL        Redis channel layer instead of the in-memory one
WHARF_DEBUG      "1" for debug mode
WHARF_SECURE     "1" when served over HTTPS: secure cookies, HSTS, SSL redirect
WHARF_ALLOWED_HOSTS, WHARF_CSRF_TRUSTED_ORIGINS  comma-separated lists
WHARF_FERNET_KEYS  comma-separated Fernet keys, newest first (rotation: prepend, then
                   `manage.py rotatekeys`); default: a key kept in the data folder
WHARF_TRUSTED_PROXIES  comma-separated addresses/CIDRs of reverse proxies whose
                   X-Forwarded-For is believed (console/addresses.py); default: none
WHARF_AUDIT_KEYS   comma-separated keys of the audit chain, newest first (rotation:
                   prepend); default: a key kept in the data folder (audit.key)
WHARF_AUDIT_SYSLOG  also send the audit chain's anchors to syslog (/dev/log or HOST:PORT)
WHARF_MAX_BODY_BYTES  largest request body (default 10 MiB); console/server.py refuses
                   a larger one with 413 before reading it
WHARF_UPLOAD_MAX_BYTES  largest container file upload (default 1 GiB); a body over
                   WHARF_MAX_BODY_BYTES is read on that path for a logged-in session only
WHARF_RECORDINGS_DIR  folder of terminal session recordings (default: DATA_DIR/recordings)
WHARF_RECORDING_MAX_BYTES  a recording's size cap (default 50 MiB); past it, it is cut
WHARF_RECORD_INPUT "1" to record what is typed in terminals too (default: output only)
"""

import os
import secrets
from pathlib import Path

import dj_database_url
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

from console.addresses import parse_networks

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("WHARF_DATA_DIR", BASE_DIR / "data"))
DATA_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)  # private: see console/checks.py


def _env_list(name, default):
    return [v.strip() for v in os.environ.get(name, default).split(",") if v.strip()]


def _kept_secret(filename, make):
    """A secret generated on first run and kept (0600) in the data folder."""
    path = DATA_DIR / filename
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(make())
    return path.read_text().strip()


SECRET_KEY = os.environ.get("WHARF_SECRET_KEY") or _kept_secret(
    "secret_key", lambda: secrets.token_urlsafe(50)
)
FERNET_KEYS = _env_list("WHARF_FERNET_KEYS", "") or [
    _kept_secret("fernet.key", lambda: Fernet.generate_key().decode())
]
DEBUG = os.environ.get("WHARF_DEBUG") == "1"
SECURE = os.environ.get("WHARF_SECURE") == "1"
ALLOWED_HOSTS = _env_list("WHARF_ALLOWED_HOSTS", "127.0.0.1,localhost")
CSRF_TRUSTED_ORIGINS = _env_list("WHARF_CSRF_TRUSTED_ORIGINS", "")
TRUSTED_PROXIES = _env_list("WHARF_TRUSTED_PROXIES", "")
parse_networks(TRUSTED_PROXIES)  # a typo stops the start with a clear ValueError

INSTALLED_APPS = [
    "daphne",
    "console.apps.WharfConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.forms",  # its widget templates, for FORM_RENDERER
    "channels",
    "axes",
    "django_htmx",
    "console.hosts",
    "console.access",
    "console.audit",
    "console.containers",
    "console.images",
    "console.registries",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # async only: before the first sync-only middleware, so that under ASGI a request
    # crosses from the event loop to the sync thread once, not three times
    "servestatic.middleware.ServeStaticMiddleware",
    "console.middleware.ClientAddressMiddleware",
    "console.middleware.SecurityHeadersMiddleware",
    "console.middleware.RequestIdMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "console.middleware.ActorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "axes.middleware.AxesMiddleware",
    "console.middleware.WharfErrorMiddleware",
]

ROOT_URLCONF = "console.urls"
ASGI_APPLICATION = "console.asgi.application"

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
                "console.access.context.access",
            ],
        },
    },
]

# Every form field is rendered by templates/partials/_field.html (`{{ field.as_field_group }}`).
FORM_RENDERER = "console.pages.FormRenderer"

DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{DATA_DIR / 'wharf.sqlite3'}", conn_max_age=60
    )
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    DATABASES["default"]["OPTIONS"] = {"timeout": 20, "transaction_mode": "IMMEDIATE"}
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    if DATABASES["default"]["NAME"] not in ("", ":memory:"):  # made 0600 before SQLite makes it
        try:
            os.close(os.open(DATABASES["default"]["NAME"], os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        except FileExistsError:
            pass
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = os.environ.get("REDIS_URL", "")  # also: events fan out across processes (console/streams/relay.py)
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL]},
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": f"django.contrib.auth.password_validation.{v}"}
    for v in (
        "UserAttributeSimilarityValidator",
        "MinimumLengthValidator",
        "CommonPasswordValidator",
        "NumericPasswordValidator",
    )
]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"
# Login throttling (console/access/logins.py): a (username, address) pair is locked after
# LOGIN_FAILURE_LIMIT failures, an address after LOGIN_ADDRESS_FAILURE_LIMIT failures
# for any usernames; never a username alone, so the right password from elsewhere works.
AXES_FAILURE_LIMIT = int(os.environ.get("WHARF_LOGIN_FAILURE_LIMIT", "5"))
LOGIN_ADDRESS_FAILURE_LIMIT = int(os.environ.get("WHARF_LOGIN_ADDRESS_FAILURE_LIMIT", "30"))
AXES_COOLOFF_TIME = 0.25  # hours, from the failure that locked: more tries do not extend it
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_HANDLER = "console.access.logins.LoginThrottle"
AXES_CLIENT_IP_CALLABLE = "console.addresses.of_request"
AXES_RESET_ON_SUCCESS = True
# Failed logins on the audit trail: one by one up to these numbers per window, then counted
LOGIN_AUDIT_WINDOW = 900  # seconds
LOGIN_AUDIT_PER_PAIR = 10  # per (username, address)
LOGIN_AUDIT_PER_ADDRESS = 50  # per address (an IPv6 /64), whatever the usernames
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = 12 * 3600
CSRF_COOKIE_HTTPONLY = False  # htmx reads it for its requests
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
if SECURE:
    SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = True
    SECURE_HSTS_SECONDS = 31536000
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("WHARF_TIME_ZONE", "UTC")
USE_I18N = False
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = DATA_DIR / "static"
SERVESTATIC_USE_FINDERS = True
SERVESTATIC_AUTOREFRESH = DEBUG

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {"wharf": {"level": "INFO"}, "urllib3": {"level": "ERROR"}},
}
if _syslog := os.environ.get("WHARF_AUDIT_SYSLOG"):  # audit anchors to syslog too: /dev/log or HOST:PORT (UDP)
    _host, _, _port = _syslog.rpartition(":")
    LOGGING["handlers"]["syslog"] = {
        "class": "logging.handlers.SysLogHandler",
        "address": (_host, int(_port)) if _host and _port.isdigit() else _syslog,
    }
    LOGGING["loggers"]["wharf.audit"] = {"level": "INFO", "handlers": ["syslog"]}

# Request bodies: the server (console/server.py) refuses larger ones before reading them;
# the paths allowed more (console.server.LARGE_BODIES) name their own setting below.
MAX_BODY_BYTES = int(os.environ.get("WHARF_MAX_BODY_BYTES", str(10 * 1024**2)))

# Docker hosts
# Terminal session recordings (console/terminals/recording.py)
RECORDINGS_DIR = Path(os.environ.get("WHARF_RECORDINGS_DIR", DATA_DIR / "recordings"))
RECORDING_MAX_BYTES = int(os.environ.get("WHARF_RECORDING_MAX_BYTES", str(50 * 1024**2)))
RECORD_INPUT = os.environ.get("WHARF_RECORD_INPUT") == "1"
DOCKER_API_VERSION = os.environ.get("WHARF_DOCKER_API_VERSION", "1.41")
DOCKER_TIMEOUT = float(os.environ.get("WHARF_DOCKER_TIMEOUT", "60"))
HOST_STATUS_TIMEOUT = float(os.environ.get("WHARF_HOST_STATUS_TIMEOUT", "3"))
# A host's events feed, and the state it keeps for the lists, stays this long after its last page left
EVENTS_LINGER_SECONDS = float(os.environ.get("WHARF_EVENTS_LINGER", "30"))

# Audit
AUDIT_READS = os.environ.get("WHARF_AUDIT_READS") == "1"
AUDIT_RETENTION_DAYS = int(os.environ.get("WHARF_AUDIT_RETENTION_DAYS", "365"))
# The chain is sealed (HMAC-SHA256) with the first key; older keys verify older entries.
AUDIT_KEYS = _env_list("WHARF_AUDIT_KEYS", "") or [_kept_secret("audit.key", lambda: secrets.token_urlsafe(32))]
if any(len(key) < 32 for key in AUDIT_KEYS):
    raise ImproperlyConfigured("WHARF_AUDIT_KEYS: each key must be at least 32 characters long")
# The chain's head is anchored in this append-only file (and logged to `wharf.audit`)
# every AUDIT_ANCHOR_EVERY entries and AUDIT_ANCHOR_SECONDS after an entry (0: never).
AUDIT_ANCHOR_FILE = Path(os.environ.get("WHARF_AUDIT_ANCHOR_FILE", DATA_DIR / "audit.anchors"))
AUDIT_ANCHOR_EVERY = int(os.environ.get("WHARF_AUDIT_ANCHOR_EVERY", "100"))
AUDIT_ANCHOR_SECONDS = float(os.environ.get("WHARF_AUDIT_ANCHOR_SECONDS", "60"))

# Containers: run and files
CONTAINER_UPLOAD_MAX_BYTES = int(os.environ.get("WHARF_UPLOAD_MAX_BYTES", str(1024**3)))
# Images: the largest tar a load or an import may upload (it is spooled to a temporary file)
IMAGE_UPLOAD_MAX_BYTES = int(os.environ.get("WHARF_IMAGE_UPLOAD_MAX_BYTES", str(8 * 1024**3)))
# Host folders a bind mount may use without the container.run_privileged permission
RUN_ALLOWED_BIND_PATHS = _env_list("WHARF_RUN_ALLOWED_BIND_PATHS", "")
RUN_WAIT_SECONDS = float(os.environ.get("WHARF_RUN_WAIT_SECONDS", "300"))  # one-shot runs
