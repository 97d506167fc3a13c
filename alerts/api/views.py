"""Alerts API: list/read alerts and incidents (scoped), and the alert actions.

Invisible objects are 404; visible ones without ``manage_alerts`` are 403 for actions.
"""

from __future__ import annotations

from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db.models import Prefetch
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError as ApiValidationError
from rest_framework.response import Response

from alerts import actions
from alerts.api.serializers import (
    AcknowledgeSerializer,
    AlertSerializer,
    IncidentDetailSerializer,
    IncidentSerializer,
    SilenceRequestSerializer,
)
from alerts.models import Alert, Incident, IncidentEvent
from alerts.silences import active_silences, silencing
from healthboard import access
from healthboard.api import ID_SCHEMA, query_int
from healthboard.models import AuditRecord


def _csv(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


@extend_schema(
    parameters=[
        OpenApiParameter("state", str, description="pending, firing, resolved, inactive (comma-separated)"),
        OpenApiParameter("severity", str, description="warning or critical (comma-separated)"),
        OpenApiParameter("system", str, description="system slug"),
        OpenApiParameter("deployment", ID_SCHEMA),
        OpenApiParameter("metric", str, description="metric key"),
    ]
)
class AlertViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = AlertSerializer

    def get_queryset(self):
        queryset = access.scope(
            Alert.objects.select_related("metric", "metric_version", "system", "acknowledged_by"),
            self.request.user,
        )
        params = self.request.query_params
        if states := _csv(params.get("state")):
            queryset = queryset.filter(state__in=states)
        if severities := _csv(params.get("severity")):
            queryset = queryset.filter(severity__in=severities)
        if params.get("system"):
            queryset = queryset.filter(system__slug=params["system"])
        if (deployment := query_int(params, "deployment")) is not None:
            queryset = queryset.filter(deployment_id=deployment)
        if params.get("metric"):
            queryset = queryset.filter(metric__key=params["metric"])
        return queryset.order_by("-created_at", "-id")

    def _mark_silenced(self, alerts):
        silences = active_silences({a.system_id for a in alerts}, timezone.now())
        for alert in alerts:
            alert.silenced_by = silencing(alert, silences)
        return alerts

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.get_queryset())
        rows = self._mark_silenced(list(page if page is not None else self.get_queryset()))
        data = self.get_serializer(rows, many=True).data
        return self.get_paginated_response(data) if page is not None else Response(data)

    def retrieve(self, request, *args, **kwargs):
        alert = self._mark_silenced([self.get_object()])[0]
        return Response(self.get_serializer(alert).data)

    def _act(self, request, name, **kwargs):
        alert = self.get_object()  # 404 when invisible
        access.require(request.user, alert, access.MANAGE_ALERTS)  # 403 when not manageable
        try:
            result = getattr(actions, name)(alert, user=request.user, source=AuditRecord.Source.API, **kwargs)
        except ValidationError as exc:
            raise ApiValidationError({"non_field_errors": exc.messages}) from None
        return result

    @extend_schema(request=AcknowledgeSerializer, responses=AlertSerializer)
    @action(detail=True, methods=["post"])
    def acknowledge(self, request, pk=None):
        body = AcknowledgeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        alert = self._act(request, "acknowledge", comment=body.validated_data["comment"])
        return Response(self.get_serializer(self._mark_silenced([alert])[0]).data)

    @extend_schema(request=AcknowledgeSerializer, responses=AlertSerializer)
    @action(detail=True, methods=["post"])
    def resolve(self, request, pk=None):
        body = AcknowledgeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        alert = self._act(request, "resolve", comment=body.validated_data["comment"])
        return Response(self.get_serializer(self._mark_silenced([alert])[0]).data)

    @extend_schema(request=SilenceRequestSerializer, responses={201: dict})
    @action(detail=True, methods=["post"])
    def silence(self, request, pk=None):
        alert = self.get_object()
        access.require(request.user, alert, access.MANAGE_ALERTS)
        body = SilenceRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        duration = timedelta(minutes=data["duration_minutes"]) if data.get("duration_minutes") else None
        silence = self._act(
            request,
            "silence",
            reason=data["reason"],
            ends_at=data.get("ends_at"),
            duration=duration,
            scope=data["scope"],
        )
        return Response(
            {
                "id": silence.pk,
                "matchers": silence.matchers_label,
                "starts_at": silence.starts_at,
                "ends_at": silence.ends_at,
                "reason": silence.reason,
                "author": silence.created_by.username,
            },
            status=status.HTTP_201_CREATED,
        )


@extend_schema(
    parameters=[
        OpenApiParameter("state", str, description="open or resolved"),
        OpenApiParameter("system", str, description="system slug"),
    ]
)
class IncidentViewSet(viewsets.ReadOnlyModelViewSet):
    def get_serializer_class(self):
        return IncidentDetailSerializer if self.action == "retrieve" else IncidentSerializer

    def get_queryset(self):
        queryset = access.scope(
            Incident.objects.select_related("system", "postmortem").prefetch_related(
                "alerts", Prefetch("events", queryset=IncidentEvent.objects.order_by("at", "id"))
            ),
            self.request.user,
        )
        params = self.request.query_params
        if params.get("state") in Incident.State.values:
            queryset = queryset.filter(state=params["state"])
        if params.get("system"):
            queryset = queryset.filter(system__slug=params["system"])
        return queryset.order_by("-opened_at", "-id")
