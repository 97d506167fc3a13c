"""Trust score and readiness API (DESIGN.md §5.7, §10).

- ``GET /api/v1/deployments/{id}/trust/`` — the latest scored window (or the one ending at
  ``?window_end=ISO``): score, pillars, coverage, ranked contributions, readiness with reasons
  and containment, the weight profile and version, the lineage (metric values used), the
  anomalies flagged on it, and ``?history=N`` previous points.
- ``GET /api/v1/deployments/{id}/readiness/`` — the gate: ``ready | staged | blocked`` with
  machine-readable reasons and containment (``?max_age_hours=H`` stages a stale answer).
- ``GET /api/v1/deployments/{id}/trust/changes/?from=ID&to=ID`` — "what changed" between two
  stored points (defaults: the latest and the one before it), by pillar and metric, with the
  deploys, threshold edits and incidents in between.

Every deployment is looked up through ``healthboard.access``: another team's deployment is a
404. Fairness values appear as aggregates (metric, attribute, value) only; per-group detail is
never part of a trust payload, and the values of sensitive (fairness) metrics are hidden from
users without ``view_sensitive`` on the system (``metrics.trust.redaction``).
"""

from __future__ import annotations

import datetime as dt

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog.models import Deployment
from healthboard import access
from healthboard.api import parse_instant, query_int
from metrics.models.trust import ScoreAnomaly, TrustScore
from metrics.trust import service
from metrics.trust.redaction import Redactor

__all__ = ["DeploymentReadinessView", "DeploymentTrustChangesView", "DeploymentTrustView", "trust_payload"]


class ReadinessReasonSerializer(serializers.Serializer):
    """One reason of a readiness decision (more keys appear per code, e.g. ``pillars``)."""

    code = serializers.CharField()
    decision = serializers.ChoiceField(choices=["ready", "staged", "blocked"])
    message = serializers.CharField()
    metric = serializers.CharField(required=False)
    feature = serializers.CharField(required=False)
    attribute = serializers.CharField(required=False)
    value = serializers.FloatField(required=False, allow_null=True)
    threshold = serializers.FloatField(required=False, allow_null=True)


ReadinessSerializer = inline_serializer(
    "Readiness",
    {
        "deployment": serializers.IntegerField(),
        "system": serializers.CharField(),
        "model": serializers.CharField(),
        "version": serializers.CharField(),
        "environment": serializers.CharField(),
        "readiness": serializers.ChoiceField(choices=["ready", "staged", "blocked"]),
        "score": serializers.FloatField(allow_null=True),
        "coverage": serializers.FloatField(allow_null=True),
        "reasons": ReadinessReasonSerializer(many=True),
        "containment": serializers.JSONField(allow_null=True),
        "window_start": serializers.DateTimeField(allow_null=True),
        "window_end": serializers.DateTimeField(allow_null=True),
        "computed_at": serializers.DateTimeField(allow_null=True),
        "trust_score": serializers.IntegerField(allow_null=True),
    },
)
TrustSerializer = inline_serializer(
    "TrustScore",
    {
        "id": serializers.IntegerField(),
        "deployment": serializers.IntegerField(),
        "window_start": serializers.DateTimeField(),
        "window_end": serializers.DateTimeField(),
        "computed_at": serializers.DateTimeField(),
        "score": serializers.FloatField(allow_null=True),
        "coverage": serializers.FloatField(allow_null=True),
        "pillars": serializers.JSONField(),
        "contributions": serializers.JSONField(),
        "readiness": serializers.CharField(),
        "reasons": ReadinessReasonSerializer(many=True),
        "containment": serializers.JSONField(allow_null=True),
        "weight_profile": serializers.JSONField(),
        "lineage": serializers.JSONField(),
        "anomalies": serializers.JSONField(),
        "history": serializers.JSONField(),
    },
)


def _deployment(request, pk) -> Deployment:
    return access.get_for_user(
        Deployment.objects.select_related("environment__system", "model_version__model"), request.user, pk=pk
    )


def anomaly_payload(anomaly: ScoreAnomaly) -> dict:
    return {
        "id": anomaly.pk,
        "kind": anomaly.kind,
        "summary": anomaly.summary,
        "detected_at": anomaly.detected_at.isoformat(),
        "details": anomaly.details,
        "caused_by": anomaly.caused_by_name or None,
        "reviewed": anomaly.is_reviewed,
        "reviewed_by": anomaly.reviewed_by.get_username() if anomaly.reviewed_by_id else None,
        "reviewed_at": anomaly.reviewed_at.isoformat() if anomaly.reviewed_at else None,
        "verdict": anomaly.verdict or None,
        "review_note": anomaly.review_note,
    }


def trust_payload(score: TrustScore, *, history: int = 0, redactor: Redactor | None = None) -> dict:
    pillars = [
        {
            "pillar": pillar,
            "score": value,
            "coverage": score.pillar_coverage.get(pillar),
            "weight": score.policy.get("profile", {}).get("pillar_weights", {}).get(pillar),
        }
        for pillar, value in score.pillar_scores.items()
    ]
    body = {
        "id": score.pk,
        "deployment": score.deployment_id,
        "window_start": score.window_start.isoformat(),
        "window_end": score.window_end.isoformat(),
        "computed_at": score.computed_at.isoformat(),
        "score": score.score,
        "coverage": score.coverage,
        "pillars": pillars,
        "contributions": redactor.rows(score.contributions) if redactor else score.contributions,
        "readiness": score.readiness,
        "reasons": redactor.reasons(score.reasons) if redactor else score.reasons,
        "containment": score.containment,
        "weight_profile": {
            "name": score.weight_profile,
            "version": score.weight_profile_version,
            "source": score.policy.get("profile", {}).get("source"),
        },
        "lineage": {
            "metric_values": score.metric_value_ids,
            "inputs": redactor.rows(score.inputs) if redactor else score.inputs,
        },
        "anomalies": [anomaly_payload(a) for a in score.anomalies.select_related("reviewed_by")],
        "history": [],
    }
    if history:
        rows = (
            TrustScore.objects.filter(deployment_id=score.deployment_id, window_end__lte=score.window_end)
            .order_by("-window_end")
            .values("id", "window_start", "window_end", "score", "readiness")[: history + 1]
        )
        body["history"] = [
            {
                **row,
                "window_start": row["window_start"].isoformat(),
                "window_end": row["window_end"].isoformat(),
            }
            for row in reversed(rows)
        ]
    return body


def _int_param(request, name: str, default: int, maximum: int) -> int:
    value = query_int(request.query_params, name, maximum=maximum)
    return default if value is None else value


class DeploymentTrustView(APIView):
    @extend_schema(
        operation_id="deployment_trust",
        parameters=[
            OpenApiParameter("window_end", OpenApiTypes.DATETIME, description="The point ending here."),
            OpenApiParameter(
                "history",
                {"type": "integer", "minimum": 0, "maximum": 500},
                description="Previous points to include (≤ 500).",
            ),
        ],
        responses=TrustSerializer,
    )
    def get(self, request, pk: int):
        deployment = _deployment(request, pk)
        queryset = TrustScore.objects.filter(deployment=deployment)
        if "window_end" in request.query_params:
            score = queryset.filter(
                window_end=parse_instant(request.query_params["window_end"], "window_end", assume_utc=True)
            ).first()
        else:
            score = TrustScore.objects.latest_for(deployment)
        if score is None:
            raise NotFound("No trust score has been computed for this deployment yet.")
        redactor = Redactor(request.user, deployment)
        return Response(
            trust_payload(score, history=_int_param(request, "history", 0, 500), redactor=redactor)
        )


class DeploymentReadinessView(APIView):
    @extend_schema(
        operation_id="deployment_readiness",
        parameters=[
            OpenApiParameter(
                "max_age_hours",
                {"type": "integer", "minimum": 0, "maximum": 24 * 365},
                description="Stage the answer when the score is older.",
            )
        ],
        responses=ReadinessSerializer,
    )
    def get(self, request, pk: int):
        deployment = _deployment(request, pk)
        hours = _int_param(request, "max_age_hours", 0, 24 * 365)
        answer = service.gate(deployment, max_age=dt.timedelta(hours=hours) if hours else None)
        answer["reasons"] = Redactor(request.user, deployment).reasons(answer["reasons"])
        return Response(answer)


class DeploymentTrustChangesView(APIView):
    @extend_schema(
        operation_id="deployment_trust_changes",
        parameters=[
            OpenApiParameter(
                "from", OpenApiTypes.INT, description="Trust score id (default: the one before `to`)."
            ),
            OpenApiParameter("to", OpenApiTypes.INT, description="Trust score id (default: the latest)."),
        ],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request, pk: int):
        deployment = _deployment(request, pk)
        scores = TrustScore.objects.filter(deployment=deployment).select_related("deployment__environment")

        def pick(name):
            raw = request.query_params.get(name)
            if not raw:
                return None
            try:
                return scores.get(pk=int(raw))
            except (ValueError, TrustScore.DoesNotExist):
                raise NotFound(f"No trust score {raw} for this deployment.") from None

        after = pick("to") or scores.order_by("-window_end").first()
        if after is None:
            raise NotFound("No trust score has been computed for this deployment yet.")
        before = (
            pick("from") or scores.filter(window_end__lt=after.window_end).order_by("-window_end").first()
        )
        if before is None:
            raise NotFound("There is no earlier point to compare with.")
        return Response(service.what_changed(before, after))
