"""Signals the catalog sends; other apps connect to them, the catalog never imports them.

``policy_changed`` — thresholds or weights that decide trust scores changed: a metric version's
thresholds, direction or pillar, a threshold override, a weight profile's weights, or the
profile a system uses. Sent inside the change's transaction by
``catalog.services.announce_policy_change`` with ``deployment_ids`` (the deployments it
affects; None = every deployment) and ``actor`` (the user who made the change, or None when
the audit trail must tell — an approved four-eyes change, a config file). Receivers that do
work should wait for the commit (``transaction.on_commit``).
"""

from django.dispatch import Signal

policy_changed = Signal()
