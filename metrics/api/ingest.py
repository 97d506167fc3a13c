"""Ingest endpoints (DESIGN.md §10). Thin: the work is in ``metrics.ingest``.

Order of checks, cheapest first: token (401), per-token rate limit (429 + Retry-After), body
size from Content-Length before reading anything (413), body parse (400 only when the body
itself is unreadable), then per-record validation — invalid records are quarantined and
listed in ``rejected``, valid ones are committed before the 200 is sent.
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog.models import Deployment
from healthboard import access
from healthboard.tokens import IngestTokenAuthentication
from metrics.ingest import conf, pipeline, reference, stats
from metrics.ingest.limits import IngestError, check_rate_limit, is_ndjson, read_body
from metrics.ingest.parse import parse_records

IngestResponse = inline_serializer(
    "IngestResponse",
    {
        "accepted": serializers.IntegerField(),
        "duplicates": serializers.IntegerField(),
        "rejected": inline_serializer(
            "RejectedRecord",
            {
                "index": serializers.IntegerField(),
                "event_id": serializers.CharField(allow_null=True),
                "errors": serializers.DictField(child=serializers.ListField(child=serializers.CharField())),
            },
            many=True,
        ),
    },
)
ErrorResponse = inline_serializer(
    "IngestError",
    {"message": serializers.CharField(), "errors": serializers.DictField()},
)
EVENT_EXAMPLE = {
    "event_id": "a1b2c3",
    "model": "scorer",
    "model_version": "2.3.1",
    "environment": "prod",
    "timestamp": "2026-11-20T10:00:00.123Z",
    "latency_ms": 12.5,
    "error": False,
    "features": {"income": 52000.0, "region": "eu"},
    "prediction": 1,
    "score": 0.83,
    "label": None,
    "cohort": {"sex": "f", "age_band": "30-45"},
}
COMMON_RESPONSES = {
    200: IngestResponse,
    400: OpenApiResponse(ErrorResponse, description="The body itself is unreadable."),
    401: OpenApiResponse(ErrorResponse, description="Missing, wrong or revoked ingest token."),
    413: OpenApiResponse(ErrorResponse, description="More than 10,000 records or 10 MB."),
    429: OpenApiResponse(ErrorResponse, description="Rate limited; see Retry-After."),
}


class _IngestView(APIView):
    authentication_classes = [IngestTokenAuthentication]
    permission_classes = [IsAuthenticated]
    parser_classes: list = []  # the body is read (bounded) and parsed by metrics.ingest
    kind = "event"
    key = "events"

    def run(self, system, parsed, *, actor, body_bytes: int):
        raise NotImplementedError

    def post(self, request, *args, **kwargs):
        system = request.user.system
        django_request = request._request
        try:
            check_rate_limit(f"token:{request.auth.pk}")
            body = read_body(django_request)
            outcome = self.run_body(system, body, ndjson=is_ndjson(django_request), actor=request.user)
        except IngestError as exc:
            if exc.status in (413, 429):
                with transaction.atomic():
                    stats.record(
                        system_id=system.id, kind=self.kind, moment=timezone.now(), refused_reason=exc.reason
                    )
            return Response(exc.body(), status=exc.status, headers=exc.headers)
        return Response(outcome.response())

    def run_body(self, system, body: bytes, *, ndjson: bool, actor):
        parsed = parse_records(body, ndjson=ndjson, key=self.key, limit=conf.max_events())
        return self.run(system, parsed, actor=actor, body_bytes=len(body))


class IngestEventsView(_IngestView):
    kind = "event"
    key = "events"

    @extend_schema(
        operation_id="ingest_events",
        summary="Send prediction events",
        description=(
            'JSON `{"events": [EVENT, …]}` or NDJSON (`Content-Type: application/x-ndjson`, one EVENT per '
            "line); at most 10,000 events or 10 MB; `Content-Encoding: gzip` accepted."
        ),
        request={"application/json": OpenApiTypes.OBJECT, "application/x-ndjson": OpenApiTypes.STR},
        responses=COMMON_RESPONSES,
        examples=[OpenApiExample("one event", value={"events": [EVENT_EXAMPLE]}, request_only=True)],
        tags=["ingest"],
    )
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)

    def run_body(self, system, body: bytes, *, ndjson: bool, actor):
        return pipeline.ingest_event_body(system, body, ndjson=ndjson, actor=actor, body_bytes=len(body))


class IngestLabelsView(_IngestView):
    kind = "label"
    key = "labels"

    @extend_schema(
        operation_id="ingest_labels",
        summary="Send late labels",
        description='`{"labels": [{"event_id": …, "label": 1, "timestamp"?: …}, …]}`, joined to events by event_id.',
        request={"application/json": OpenApiTypes.OBJECT, "application/x-ndjson": OpenApiTypes.STR},
        responses=COMMON_RESPONSES,
        examples=[
            OpenApiExample(
                "one label", value={"labels": [{"event_id": "a1b2c3", "label": 1}]}, request_only=True
            )
        ],
        tags=["ingest"],
    )
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)

    def run(self, system, parsed, *, actor, body_bytes):
        return pipeline.ingest_labels(system, parsed, body_bytes=body_bytes)


class IngestReferenceView(_IngestView):
    kind = "reference"
    key = "events"

    @extend_schema(
        operation_id="ingest_reference",
        summary="Send reference (baseline) data for a model version",
        description=(
            '`{"model": …, "model_version": …, "events": [EVENT, …], "append": false}` replaces the reference '
            '(audited); further chunks of the same reference carry `"append": true`.'
        ),
        request={"application/json": OpenApiTypes.OBJECT},
        responses=COMMON_RESPONSES,
        tags=["ingest"],
    )
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)

    def run(self, system, parsed, *, actor, body_bytes):
        return reference.ingest_reference(system, parsed, actor=actor, body_bytes=body_bytes)


def _parse_instant(value, name: str, errors: dict) -> datetime | None:
    if not isinstance(value, str):
        errors[name] = ["is required (an ISO 8601 timestamp with a timezone)"]
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        errors[name] = [f"is not an ISO 8601 timestamp: {value[:64]!r}"]
        return None
    if parsed.tzinfo is None:
        errors[name] = ["has no timezone; add 'Z' or an offset such as '+00:00'"]
        return None
    return parsed


class DeploymentReferenceView(APIView):
    """Set the version's reference from a window of the deployment's own traffic."""

    @extend_schema(
        operation_id="deployment_reference_from_window",
        summary="Set the reference from a window of this deployment's traffic",
        request=inline_serializer(
            "ReferenceWindow", {"start": serializers.DateTimeField(), "end": serializers.DateTimeField()}
        ),
        responses={
            200: inline_serializer(
                "ReferenceFromWindow",
                {
                    "accepted": serializers.IntegerField(),
                    "duplicates": serializers.IntegerField(),
                    "rejected": serializers.ListField(),
                    "reference": serializers.DictField(),
                },
            ),
            400: ErrorResponse,
            403: ErrorResponse,
            404: ErrorResponse,
        },
        tags=["ingest"],
    )
    def post(self, request, pk: int):
        deployment = access.get_for_user(
            Deployment.objects.select_related("model_version__model", "environment__system"),
            request.user,
            access.VIEW,
            pk=pk,
        )
        access.require(request.user, deployment, access.CHANGE)
        data = request.data if isinstance(request.data, dict) else {}
        errors: dict = {}
        start = _parse_instant(data.get("start"), "start", errors)
        end = _parse_instant(data.get("end"), "end", errors)
        if start and end and start >= end:
            errors["end"] = ["must be after start"]
        if errors:
            return Response({"message": "Invalid window.", "errors": errors}, status=400)
        try:
            ref = reference.reference_from_window(deployment, start, end, actor=request.user)
        except ValueError as exc:
            return Response(
                {"message": str(exc), "errors": {"start": ["no events in the window"]}}, status=400
            )
        return Response(
            {
                "accepted": ref.row_count,
                "duplicates": 0,
                "rejected": [],
                "reference": {
                    "id": ref.pk,
                    "model": deployment.model_version.model.slug,
                    "model_version": deployment.model_version.version,
                    "rows": ref.row_count,
                    "window_start": start.isoformat(),
                    "window_end": end.isoformat(),
                    "numeric_edges": ref.numeric_edges,
                    "categories": ref.categories,
                },
            }
        )
