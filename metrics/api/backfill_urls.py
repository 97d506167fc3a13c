"""Backfill routes (under /api/v1/), included from ``healthboard.urls``."""

from django.urls import re_path

from metrics.api import backfill

urlpatterns = [
    re_path(r"^backfills/?$", backfill.BackfillListView.as_view(), name="engine-backfills"),
    re_path(r"^backfills/(?P<pk>[0-9]+)/?$", backfill.BackfillDetailView.as_view(), name="engine-backfill"),
]
