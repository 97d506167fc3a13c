"""Stored trust scores and the anomalies flagged on them (DESIGN.md §5).

``TrustScore`` is one scored window of one deployment, upserted on (deployment, window start,
window end) so a recomputation replaces it. ``TrustScore.objects.latest_for(deployment)`` is the
latest. It keeps everything needed to explain and to re-decide the number later:

- ``pillar_scores`` / ``pillar_coverage`` / ``coverage``;
- ``contributions``: one row per scored metric (``MetricScore.as_dict()``: pillar, weight, share,
  health, status, points lost, and its worst instance), ranked largest first;
- ``readiness`` / ``reasons`` / ``containment`` (the gate's answer);
- ``weight_profile`` + ``weight_profile_version`` and ``policy`` (the thresholds and weights that
  were applied, so a later policy can be compared with this one on the same values);
- ``inputs``: the lineage — every metric value used (its id, metric version, value, status and
  health), copied so the score can be re-decided under another policy even after the metric
  value itself is recomputed.

``ScoreAnomaly`` is a flagged point: a robust ``jump`` or a ``policy_flip`` (a threshold or weight
change that alone moved blocked → ready). It waits for review by a second person; the person whose
change caused a policy flip cannot review it. Reviews are audited.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

__all__ = ["ScoreAnomaly", "TrustScore"]


class TrustScoreQuerySet(models.QuerySet):
    def latest_for(self, deployment) -> TrustScore | None:
        """The newest scored window of ``deployment`` (an instance or an id), or None."""
        deployment_id = getattr(deployment, "pk", deployment)
        return self.filter(deployment_id=deployment_id).order_by("-window_end", "-window_start").first()

    def latest_per_deployment(self):
        """One row per deployment: its newest window (PostgreSQL DISTINCT ON where available)."""
        from django.db import connection

        if connection.features.can_distinct_on_fields:
            return self.order_by("deployment_id", "-window_end", "-window_start").distinct("deployment_id")
        newest = (
            self.model.objects.filter(deployment_id=models.OuterRef("deployment_id"))
            .order_by("-window_end", "-window_start")
            .values("pk")[:1]
        )
        return self.filter(pk=models.Subquery(newest))


class TrustScore(models.Model):
    class Readiness(models.TextChoices):
        READY = "ready", "Ready"
        STAGED = "staged", "Staged"
        BLOCKED = "blocked", "Blocked"

    deployment = models.ForeignKey(
        "catalog.Deployment", on_delete=models.CASCADE, related_name="trust_scores"
    )
    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    score = models.FloatField(null=True, blank=True, help_text="0-100; null when nothing is known.")
    coverage = models.FloatField(null=True, blank=True, help_text="0-1; pillar-weighted.")
    pillar_scores = models.JSONField(default=dict, blank=True)
    pillar_coverage = models.JSONField(default=dict, blank=True)
    contributions = models.JSONField(default=list, blank=True)
    readiness = models.CharField(max_length=8, choices=Readiness.choices, db_index=True)
    reasons = models.JSONField(default=list, blank=True)
    containment = models.JSONField(null=True, blank=True)
    weight_profile = models.CharField(max_length=64)
    weight_profile_version = models.PositiveIntegerField(null=True, blank=True)
    policy = models.JSONField(default=dict, blank=True, help_text="thresholds and weights applied")
    inputs = models.JSONField(default=list, blank=True, help_text="lineage: the metric values used")
    computed_at = models.DateTimeField(default=timezone.now)

    objects = TrustScoreQuerySet.as_manager()

    class Meta:
        ordering = ["deployment_id", "window_start"]
        constraints = [
            models.UniqueConstraint(
                fields=["deployment", "window_start", "window_end"], name="metrics_trustscore_unique_window"
            )
        ]
        indexes = [models.Index(fields=["deployment", "-window_end"], name="trustscore_deploy_end_idx")]

    def __str__(self) -> str:
        score = "—" if self.score is None else f"{self.score:.1f}"
        return f"trust {score} ({self.readiness}) {self.deployment_id} {self.window_end:%Y-%m-%d %H:%M}"

    @property
    def metric_value_ids(self) -> list[int]:
        return [row["metric_value"] for row in self.inputs if row.get("metric_value")]

    def metric_values(self):
        """The ``MetricValue`` rows this score used (those still stored)."""
        from metrics.models.results import MetricValue

        return MetricValue.objects.filter(pk__in=self.metric_value_ids)

    @property
    def reason_codes(self) -> list[str]:
        return [r.get("code", "") for r in self.reasons]


class ScoreAnomaly(models.Model):
    class Kind(models.TextChoices):
        JUMP = "jump", "Score jump"
        POLICY_FLIP = "policy_flip", "Policy change unblocked"

    class Verdict(models.TextChoices):
        CONFIRMED = "confirmed", "Confirmed: the change is genuine"
        DISPUTED = "disputed", "Disputed: needs follow-up"

    trust_score = models.ForeignKey(TrustScore, on_delete=models.CASCADE, related_name="anomalies")
    deployment = models.ForeignKey(
        "catalog.Deployment", on_delete=models.CASCADE, related_name="score_anomalies"
    )
    kind = models.CharField(max_length=12, choices=Kind.choices)
    detected_at = models.DateTimeField(default=timezone.now)
    summary = models.CharField(max_length=300)
    details = models.JSONField(default=dict, blank=True)
    caused_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    caused_by_name = models.CharField(max_length=150, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    verdict = models.CharField(max_length=10, choices=Verdict.choices, blank=True)
    review_note = models.TextField(blank=True)

    class Meta:
        ordering = ["-detected_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["trust_score", "kind"], name="metrics_scoreanomaly_unique_kind")
        ]
        indexes = [models.Index(fields=["reviewed_at", "-detected_at"], name="scoreanomaly_review_idx")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on {self.deployment_id} at {self.trust_score.window_end:%Y-%m-%d %H:%M}"

    @property
    def is_reviewed(self) -> bool:
        return self.reviewed_at is not None

    def can_review(self, user) -> bool:
        """A second person: not whoever caused the flagged change (nor the approver of a
        four-eyes change, listed in ``details["involved"]``), and only once."""
        if self.is_reviewed or not getattr(user, "is_authenticated", False):
            return False
        if self.caused_by_id is not None and self.caused_by_id == user.pk:
            return False
        if self.caused_by_name and self.caused_by_name == user.get_username():
            return False
        return user.get_username() not in (self.details or {}).get("involved", [])
