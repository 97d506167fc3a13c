"""Settings for Healthboard, read from the environment (see the README's table).

Defaults are the embedded ones of ``make demo``: SQLite in ``var/`` and Celery's filesystem
transport, so a fresh machine needs no services. Production overrides live in
``healthboard.settings_production``.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from healthboard.env import env_bool, env_int, env_list, env_str, parse_database_url

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("HEALTHBOARD_VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env_bool("DEBUG", False)
# An insecure key is acceptable only for local runs; production settings refuse it.
SECRET_KEY = env_str("SECRET_KEY", "insecure-local-development-key-change-me-0123456789abcdef")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "guardian",
    "django_htmx",
    "axes",
    "healthboard",
    "catalog",
    "metrics",
    "alerts",
    "dashboards",
]

MIDDLEWARE = [
    "healthboard.middleware.RequestIdMiddleware",
    "healthboard.middleware.RejectNulMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "healthboard.security.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # last, as django-axes requires: it turns a lockout raised during authentication into a 429
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "healthboard.urls"
WSGI_APPLICATION = "healthboard.wsgi.application"

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
                "healthboard.context_processors.navigation",
            ],
        },
    },
]

DATABASES = {
    "default": parse_database_url(
        "DATABASE_URL",
        env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'healthboard.sqlite3'}"),
        base_dir=BASE_DIR,
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTHENTICATION_BACKENDS = [
    # first: refuses a locked-out username + address before any password is checked
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
# Guardian's anonymous user is not used: anonymous requests are redirected to the login page.
ANONYMOUS_USER_NAME = None
GUARDIAN_RAISE_403 = False
GUARDIAN_RENDER_403 = False

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"

# Login throttling (django-axes, database handler: the failure counter is a row updated with
# SELECT … FOR UPDATE, so it is exact across web processes). LOGIN_FAILURE_LIMIT failed logins
# for one username from one address lock that pair out for LOGIN_LOCKOUT_MINUTES (answer 429);
# a successful login resets the count. Behind a proxy every client has the proxy's address,
# so the lockout is then per username.
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LOGIN_LOCKOUT_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"

# Security headers on every response (healthboard/security.py). Scripts only from this
# origin: no inline script, no eval. Inline styles are allowed for Plotly and htmx.
CONTENT_SECURITY_POLICY = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'", "'unsafe-inline'"],
    "img-src": ["'self'", "data:", "blob:"],
    "font-src": ["'self'", "data:"],
    "connect-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'none'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"

EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "healthboard@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "healthboard.tokens.PersonalTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "healthboard.api.LimitOffsetPagination",
    "PAGE_SIZE": 100,
    "DEFAULT_SCHEMA_CLASS": "healthboard.schema.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "EXCEPTION_HANDLER": "healthboard.api.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Healthboard API",
    "DESCRIPTION": "Model-health telemetry ingestion and read API (v1).",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SCHEMA_PATH_PREFIX": "/api/v1/",
    # One OpenAPI name per choice set (else drf_spectacular.W001, which fails check --deploy).
    "ENUM_NAME_OVERRIDES": {
        "ReadinessEnum": ["ready", "staged", "blocked"],
        "AlertStateEnum": "alerts.models.alerts.Alert.State",
        "IncidentStateEnum": "alerts.models.incidents.Incident.State",
    },
}

# Celery. The default broker is the filesystem transport under var/, which needs no server.
BROKER_DIR = VAR_DIR / "broker"
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    BROKER_DIR.mkdir(parents=True, exist_ok=True)
    (BROKER_DIR / "processed").mkdir(exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR),
        "data_folder_out": str(BROKER_DIR),
        "processed_folder": str(BROKER_DIR / "processed"),
        # exchange tables; kombu defaults to ./control in the working directory
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600, minimum=60)
    }
CELERY_RESULT_BACKEND = env_str("CELERY_RESULT_BACKEND", "") or None
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)

INGEST_RATE_LIMIT_PER_MINUTE = env_int("INGEST_RATE_LIMIT_PER_MINUTE", 600, minimum=1)
RAW_EVENT_RETENTION_DAYS = env_int("RAW_EVENT_RETENTION_DAYS", 90, minimum=1)

LOG_LEVEL = env_str("LOG_LEVEL", "INFO").upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        # django-axes logs a banner at every start and each login at INFO; failures are WARNING
        "axes": {"level": "WARNING"},
    },
}

# Caches must be shared across processes (web, workers): Redis when REDIS_URL is set,
# else a file cache under var/.
REDIS_URL = env_str("REDIS_URL", "")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }

# Alerts (each documented in alerts/conf.py). Webhooks to non-public addresses are refused
# unless their network is listed here, e.g. "127.0.0.1/32" for a receiver on the same host.
ALERTS_WEBHOOK_ALLOWED_NETWORKS = env_list("ALERTS_WEBHOOK_ALLOWED_NETWORKS", [])
ALERTS_DELIVERY_MAX_AGE_S = env_int("ALERTS_DELIVERY_MAX_AGE_S", 72 * 3600, minimum=60)
ALERTS_GROUP_WAIT_S = env_int("ALERTS_GROUP_WAIT_S", 30, minimum=0)
ALERTS_GROUP_INTERVAL_S = env_int("ALERTS_GROUP_INTERVAL_S", 300, minimum=0)
ALERTS_REPEAT_INTERVAL_S = env_int("ALERTS_REPEAT_INTERVAL_S", 4 * 3600, minimum=60)
ALERTS_INCIDENT_GROUP_WINDOW_S = env_int("ALERTS_INCIDENT_GROUP_WINDOW_S", 1800, minimum=0)
# Absolute links in notifications (e.g. https://healthboard.example.org); empty = relative.
SITE_URL = env_str("SITE_URL", "")

# Catalog four-eyes: threshold changes that apply to production environments, made in the UI
# or the API, wait for a second (different) catalog admin's approval (see the README).
CATALOG_FOUR_EYES = env_bool("CATALOG_FOUR_EYES", False)

# --- ingestion --- (issue 4; INGEST_RATE_LIMIT_PER_MINUTE and RAW_EVENT_RETENTION_DAYS are above)
# Records (events, labels or reference rows) and body bytes per request; beyond either: 413.
INGEST_MAX_EVENTS = env_int("INGEST_MAX_EVENTS", 10_000, minimum=1)
INGEST_MAX_BYTES = env_int("INGEST_MAX_BYTES", 10 * 1024 * 1024, minimum=1024)
# Raw-event day partitions created ahead of time by beat (PostgreSQL).
INGEST_PARTITIONS_AHEAD_DAYS = env_int("INGEST_PARTITIONS_AHEAD_DAYS", 7, minimum=1)
