"""Production settings: the base settings plus the secure defaults ``check --deploy`` asks for.

Use with ``DJANGO_SETTINGS_MODULE=healthboard.settings_production``. A real ``SECRET_KEY``
is required here; there is no default. The app is expected behind a TLS-terminating proxy
that sets ``X-Forwarded-Proto``; ``/healthz`` is exempt from the HTTPS redirect so plain-HTTP
health probes (container healthchecks, load balancers) work.
"""

from django.core.exceptions import ImproperlyConfigured

from healthboard.env import env_bool, env_int, env_str
from healthboard.settings import *  # noqa: F403
from healthboard.settings import MIDDLEWARE

DEBUG = False
SECRET_KEY = env_str("SECRET_KEY")
if len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5 or SECRET_KEY.startswith("insecure-"):
    raise ImproperlyConfigured("Environment variable SECRET_KEY must be at least 50 random characters.")

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# Cookies only over HTTPS. SECURE_COOKIES=false exists for trying the stack over plain HTTP
# (docker compose on a laptop); `check --deploy` warns about it, as it should.
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", True)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"

# gunicorn serves no static files: WhiteNoise does, from STATIC_ROOT (run `collectstatic`).
MIDDLEWARE = list(MIDDLEWARE)
MIDDLEWARE.insert(
    MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1,
    "whitenoise.middleware.WhiteNoiseMiddleware",
)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
