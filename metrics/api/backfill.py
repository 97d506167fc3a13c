"""``POST /api/v1/backfills/`` — recompute a metric's history under a catalog version (catalog
admins), and ``GET /api/v1/backfills/{id}/`` for its progress.

Body (JSON or a form — the catalog page's button posts a form)::

    {"metric": "feature_drift_psi", "version": 3,            # default: the current version
     "start": "2026-11-01T00:00:00Z", "end": "…",            # default: all stored history
     "deployments": [12, 13], "reason": "new bins"}           # default: every deployment

Answers ``202`` with the backfill run (kind ``backfill``); the work runs on a ``compute`` worker
(``metrics.tasks_compute.backfill_metric``), values are stored under that version beside the
older series. The request is audited (``metric.backfill``) in the same transaction as the run.
A form post with ``next`` (a local URL) is redirected there with a message instead.
"""

from __future__ import annotations

from django.contrib import messages
from django.db import transaction
from django.http import HttpResponseRedirect
from django.utils.http import url_has_allowed_host_and_scheme
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog.models import Deployment, MetricVersion
from healthboard import access
from healthboard.api import parse_instant
from healthboard.models import AuditRecord
from metrics.api.results import ComputationRunSerializer
from metrics.engine import backfill, runs
from metrics.models import ComputationRun

BackfillRequest = inline_serializer(
    "BackfillRequest",
    {
        "metric": serializers.CharField(),
        "version": serializers.IntegerField(required=False),
        "start": serializers.DateTimeField(required=False),
        "end": serializers.DateTimeField(required=False),
        "deployments": serializers.ListField(child=serializers.IntegerField(), required=False),
        "reason": serializers.CharField(required=False),
    },
)


def _time(data, name: str):
    raw = data.get(name)
    if raw in (None, ""):
        return None
    return parse_instant(raw, name)


def _text(data, name: str) -> str:
    value = str(data.get(name) or "")
    if "\x00" in value:  # PostgreSQL text cannot hold it
        raise ValidationError({name: ["Null characters are not allowed."]})
    return value


def _int(data, name: str):
    raw = data.get(name)
    if raw in (None, ""):
        return None
    try:
        return int(raw)
    except (TypeError, ValueError):
        raise ValidationError({name: ["Must be an integer."]}) from None


def _require_admin(user) -> None:
    if not (getattr(user, "is_superuser", False) or access.is_catalog_admin(user)):
        raise PermissionDenied("Backfills are for catalog admins.")


class BackfillListView(APIView):
    parser_classes = [JSONParser, FormParser, MultiPartParser]

    @extend_schema(request=BackfillRequest, responses={202: ComputationRunSerializer})
    def post(self, request):
        _require_admin(request.user)
        data = request.data
        if not isinstance(data, dict):  # a JSON list or scalar
            raise ValidationError({"non_field_errors": ["The body must be an object."]})
        key = _text(data, "metric").strip()
        if not key:
            raise ValidationError({"metric": ["is required"]})
        deployments = data.getlist("deployments") if hasattr(data, "getlist") else data.get("deployments")
        if deployments is not None and not isinstance(deployments, list):
            raise ValidationError({"deployments": ["Must be a list of deployment ids."]})
        try:
            ids = [int(d) for d in deployments or []]
        except (TypeError, ValueError):
            raise ValidationError({"deployments": ["Must be a list of deployment ids."]}) from None
        try:
            with transaction.atomic():
                run = backfill.request(
                    key,
                    version=_int(data, "version"),
                    start=_time(data, "start"),
                    end=_time(data, "end"),
                    deployment_ids=ids,
                    actor=request.user,
                    source=AuditRecord.Source.API,
                    reason=_text(data, "reason"),
                )
                transaction.on_commit(lambda: _enqueue(run.pk))
        except MetricVersion.DoesNotExist as exc:
            raise ValidationError({"metric": [str(exc)]}) from None
        except Deployment.DoesNotExist as exc:
            raise ValidationError({"deployments": [str(exc)]}) from None
        except ValueError as exc:
            raise ValidationError({"start": [str(exc)]}) from None
        target = data.get("next")
        if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
            messages.success(
                request._request,
                f"Backfill #{run.pk} of {key} v{run.input_rows['version']} queued: its history is recomputed "
                "beside the older versions' values.",
            )
            return HttpResponseRedirect(target)
        return Response(ComputationRunSerializer(run).data, status=status.HTTP_202_ACCEPTED)


class BackfillDetailView(APIView):
    @extend_schema(responses={200: ComputationRunSerializer})
    def get(self, request, pk: int):
        _require_admin(request.user)
        run = ComputationRun.objects.filter(pk=pk, kind=runs.BACKFILL).first()
        if run is None:
            raise NotFound()
        return Response(ComputationRunSerializer(run).data)


def _enqueue(run_id: int) -> None:
    from metrics.tasks_compute import backfill_metric

    backfill_metric.delay(run_id)
