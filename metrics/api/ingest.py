"""Ingest endpoints (DESIGN.md §10). Thin: the work is in ``metrics.ingest``.

Order of checks, cheapest first: token (401), per-token rate limit (429 + Retry-After), body
size from Content-Length before reading anything (413), body parse (400 only when the body
itself is unreadable), then per-record validation — invalid records are quarantined and
listed in ``rejected``, valid ones are committed before the 200 is sent.
"""

from __future__ import annotations

from datetime import UTC, datetime

from django.db import transaction
from django.utils import timezone
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog.models import Deployment
from healthboard import access
from healthboard.schema import AutoSchema
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


class EventSerializer(serializers.Serializer):
    """One EVENT (DESIGN.md §10); documents the request bodies, the validation is
    ``metrics.ingest.validate``. A record that breaks a rule is listed in the 200's ``rejected``
    with its index and ``{field: [message]}``, the others of the batch are stored."""

    event_id = serializers.CharField(min_length=1, max_length=128, help_text="Unique per system.")
    model = serializers.CharField(help_text="A model of the token's system.")
    model_version = serializers.CharField(max_length=64, help_text="Registered on first sight.")
    environment = serializers.RegexField(r"^[-a-zA-Z0-9_]{1,64}$", help_text="Registered on first sight.")
    timestamp = serializers.DateTimeField(
        help_text="ISO 8601 with a timezone; at most 1 day ahead, not older than the raw-event retention."
    )
    latency_ms = serializers.FloatField(required=False, allow_null=True, min_value=0, max_value=86_400_000)
    error = serializers.BooleanField(required=False, allow_null=True)
    features = serializers.DictField(
        child=serializers.JSONField(),
        required=False,
        allow_null=True,
        help_text="Declared features only: a finite number (numeric) or a string (categorical), or null.",
    )
    prediction = serializers.FloatField(required=False, allow_null=True, help_text="A boolean counts as 0/1.")
    score = serializers.FloatField(required=False, allow_null=True, help_text="In [0, 1] for a binary model.")
    label = serializers.FloatField(required=False, allow_null=True, help_text="A boolean counts as 0/1.")
    cohort = serializers.DictField(
        child=serializers.CharField(allow_null=True),
        required=False,
        allow_null=True,
        help_text="Declared cohort attributes only.",
    )


class ReferenceRowSerializer(EventSerializer):
    """A reference row: an EVENT whose identity and routing fields are optional."""

    event_id = serializers.CharField(required=False, allow_null=True, max_length=128)
    model = serializers.CharField(
        required=False, allow_null=True, help_text="The request's model, or absent."
    )
    model_version = serializers.CharField(
        required=False, allow_null=True, help_text="The request's version, or absent."
    )
    environment = serializers.RegexField(r"^[-a-zA-Z0-9_]{1,64}$", required=False, allow_null=True)
    timestamp = serializers.DateTimeField(required=False, allow_null=True)


class LabelSerializer(serializers.Serializer):
    event_id = serializers.CharField(min_length=1, max_length=128)
    label = serializers.FloatField(help_text="A number, or a boolean (0/1).")
    timestamp = serializers.DateTimeField(required=False, allow_null=True)


NDJSON_BODY = {
    "type": "string",
    "pattern": r"\S",
    "description": "One JSON record per line (blank lines are skipped); a line that is not JSON is one rejected record.",
}
EventsRequest = inline_serializer("IngestEventsRequest", {"events": EventSerializer(many=True)})
LabelsRequest = inline_serializer("IngestLabelsRequest", {"labels": LabelSerializer(many=True)})
ReferenceRequest = inline_serializer(
    "IngestReferenceRequest",
    {
        "model": serializers.CharField(help_text="Required: without it every row is rejected."),
        "model_version": serializers.CharField(help_text="Required: without it every row is rejected."),
        "append": serializers.BooleanField(default=False),
        "events": ReferenceRowSerializer(many=True),
    },
)
COMMON_RESPONSES = {
    200: IngestResponse,
    400: OpenApiResponse(ErrorResponse, description="The body itself is unreadable."),
    401: OpenApiResponse(ErrorResponse, description="Missing, wrong or revoked ingest token."),
    413: OpenApiResponse(ErrorResponse, description="More than 10,000 records or 10 MB."),
    429: OpenApiResponse(ErrorResponse, description="Rate limited; see Retry-After."),
}


class IngestSchema(AutoSchema):
    """An ingest request needs a body (an empty one is a 400), JSON or NDJSON alike."""

    def _get_request_body(self, direction="request"):
        body = super()._get_request_body(direction)
        if body:
            body["required"] = True
        return body


class _IngestView(APIView):
    schema = IngestSchema()
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
        request={"application/json": EventsRequest, "application/x-ndjson": NDJSON_BODY},
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
        request={"application/json": LabelsRequest, "application/x-ndjson": NDJSON_BODY},
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
        request={"application/json": ReferenceRequest},
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
    try:
        return parsed.astimezone(UTC)  # PostgreSQL refuses offsets beyond ±15:59
    except OverflowError:
        errors[name] = ["is out of range"]
        return None


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
