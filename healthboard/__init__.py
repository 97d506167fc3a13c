"""Healthboard: the Django project package (settings, URLs, Celery app, access, audit)."""

from healthboard.celery import app as celery_app

__all__ = ["celery_app"]
