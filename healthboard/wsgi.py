"""WSGI entry point (gunicorn healthboard.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "healthboard.settings")
application = get_wsgi_application()
