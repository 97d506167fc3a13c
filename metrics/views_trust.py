"""Trust pages: a deployment's trust section, the anomaly review queue, and plotly.js.

- ``/deployments/<id>/trust/`` renders ``metrics/_trust_panel.html`` (score, pillar bars,
  coverage, the contribution waterfall, readiness with reasons and containment, the score
  history with anomaly markers, and "what changed" since the previous point). The dashboards'
  deployment page can include the same panel: ``{% include "metrics/_trust_panel.html" %}`` with
  the context of :func:`trust_panel_context`.
- ``/trust/anomalies/`` lists flagged points for review; reviewing is a POST to
  ``/trust/anomalies/<id>/review/`` with a verdict and a note, audited. Reviewers are users who
  can see the system and are catalog admins, data scientists or hold ``change_system`` on it —
  and never the person whose change caused a policy flip.
- ``/vendor/plotly-<version>.min.js`` serves plotly.js from the installed ``plotly`` package
  (``plotly/package_data/plotly.min.js``): no CDN and no copy in the repository. The URL names the
  package version, so the response is cached for a year (``immutable``) and a package upgrade
  changes the URL. Figures are built server-side with plotly's Python API, embedded as JSON data
  blocks (``json_script``), and drawn by ``static/metrics/trust.js`` — no inline script.
"""

from __future__ import annotations

import json
from pathlib import Path

import plotly
import plotly.graph_objects as go
from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import FileResponse, Http404
from django.shortcuts import redirect
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST
from django.views.generic import ListView, TemplateView

from catalog.models import Deployment
from dashboards.export import CsvExportMixin
from healthboard import access
from healthboard.audit import record_change, snapshot
from metrics.models.trust import ScoreAnomaly, TrustScore
from metrics.trust import service
from metrics.trust.redaction import Redactor

PLOTLY_JS = Path(plotly.__file__).resolve().parent / "package_data" / "plotly.min.js"
HISTORY_POINTS = 168  # one week of hourly windows
WATERFALL_BARS = 8
READINESS_COLOURS = {"ready": "#1f8a4c", "staged": "#b7791f", "blocked": "#c0392b"}
REVIEWER_ROLES = (access.ROLE_CATALOG_ADMIN, access.ROLE_DATA_SCIENTIST)


@require_GET
def plotly_js(request, version: str):
    if version != plotly.__version__ or not PLOTLY_JS.is_file():
        raise Http404("Unknown plotly.js version.")
    response = FileResponse(PLOTLY_JS.open("rb"), content_type="text/javascript; charset=utf-8")
    response["Cache-Control"] = "public, max-age=31536000, immutable"
    return response


def _figure_json(fig: go.Figure) -> dict:
    return json.loads(fig.to_json())


def waterfall_figure(score: TrustScore) -> dict:
    """100 → minus each metric's points (largest first, the rest as "other") → the score."""
    lost = [c for c in score.contributions if c.get("health") is not None and c.get("contribution", 0) > 1e-9]
    top, rest = lost[:WATERFALL_BARS], lost[WATERFALL_BARS:]
    labels = ["full trust"] + [c["metric"] for c in top]
    values = [100.0] + [-c["contribution"] for c in top]
    if rest:
        labels.append(f"{len(rest)} other")
        values.append(-sum(c["contribution"] for c in rest))
    labels.append("score")
    values.append(score.score or 0.0)
    fig = go.Figure(
        go.Waterfall(
            x=labels,
            y=values,
            measure=["absolute"] + ["relative"] * (len(values) - 2) + ["total"],
            text=[f"{v:+.1f}" if 0 < i < len(values) - 1 else f"{v:.1f}" for i, v in enumerate(values)],
            textposition="outside",
            decreasing={"marker": {"color": "#c0392b"}},
            totals={"marker": {"color": "#2457c5"}},
            connector={"line": {"color": "#9ca3af"}},
        )
    )
    fig.update_layout(
        margin={"l": 40, "r": 10, "t": 10, "b": 90},
        height=320,
        yaxis={"range": [0, 108], "title": "points"},
        showlegend=False,
    )
    return _figure_json(fig)


def history_figure(points: list[TrustScore], anomalies: list[ScoreAnomaly]) -> dict:
    xs = [p.window_end for p in points]
    fig = go.Figure(
        go.Scatter(
            x=xs,
            y=[p.score for p in points],
            mode="lines+markers",
            name="trust score",
            line={"color": "#2457c5"},
            marker={"color": [READINESS_COLOURS.get(p.readiness, "#6b7280") for p in points], "size": 6},
            text=[p.readiness for p in points],
            hovertemplate="%{x}<br>%{y:.1f} (%{text})<extra></extra>",
        )
    )
    if anomalies:
        fig.add_trace(
            go.Scatter(
                x=[a.trust_score.window_end for a in anomalies],
                y=[a.trust_score.score for a in anomalies],
                mode="markers",
                name="anomaly",
                marker={"symbol": "x", "size": 13, "color": "#c0392b", "line": {"width": 2}},
                text=[a.summary for a in anomalies],
                hovertemplate="%{text}<extra>anomaly</extra>",
            )
        )
    for level, colour in ((60, "#c0392b"), (80, "#b7791f")):
        fig.add_hline(y=level, line={"dash": "dot", "color": colour, "width": 1})
    fig.update_layout(
        margin={"l": 40, "r": 10, "t": 10, "b": 40},
        height=260,
        yaxis={"range": [0, 102], "title": "score"},
        legend={"orientation": "h", "y": -0.25},
    )
    return _figure_json(fig)


def trust_panel_context(deployment: Deployment, user) -> dict:
    """Everything ``metrics/_trust_panel.html`` needs (the caller has checked access)."""
    latest = TrustScore.objects.latest_for(deployment)
    redactor = Redactor(user, deployment)
    context = {"deployment": deployment, "trust": latest, "plotly_version": plotly.__version__}
    if latest is None:
        context["gate"] = service.gate(deployment)
        return context
    context["reasons"] = redactor.reasons(latest.reasons)
    points = list(TrustScore.objects.filter(deployment=deployment).order_by("-window_end")[:HISTORY_POINTS])[
        ::-1
    ]
    anomalies = list(
        ScoreAnomaly.objects.filter(deployment=deployment, trust_score__in=points)
        .select_related("trust_score", "reviewed_by")
        .order_by("-detected_at")
    )
    previous = points[-2] if len(points) > 1 else None
    pillars = []
    for pillar, value in latest.pillar_scores.items():
        pillars.append(
            {
                "name": pillar.replace("_", " "),
                "score": value,
                "coverage": latest.pillar_coverage.get(pillar),
                "weight": latest.policy.get("profile", {}).get("pillar_weights", {}).get(pillar),
            }
        )
    context.update(
        {
            "pillars": pillars,
            "contributions": [c for c in latest.contributions if c.get("health") is not None][:10],
            "unknown_metrics": [c["metric"] for c in latest.contributions if c.get("health") is None],
            "waterfall": waterfall_figure(latest),
            "history": history_figure(points, anomalies),
            "anomalies": anomalies,
            "changes": service.what_changed(previous, latest) if previous else None,
        }
    )
    return context


class DeploymentTrustPageView(LoginRequiredMixin, CsvExportMixin, TemplateView):
    template_name = "metrics/deployment_trust.html"
    export_name = "trust"  # ?format=csv&chart=waterfall|history: the figures' data

    def get_context_data(self, **kwargs):
        deployment = access.get_for_user(
            Deployment.objects.select_related("environment__system", "model_version__model"),
            self.request.user,
            pk=self.kwargs["pk"],
        )
        context = super().get_context_data(**kwargs)
        context.update(trust_panel_context(deployment, self.request.user))
        context["system"] = deployment.environment.system
        return context


def may_review(user, anomaly: ScoreAnomaly) -> bool:
    if not anomaly.can_review(user):
        return False
    if access.has_role(user, REVIEWER_ROLES[0]) or access.has_role(user, REVIEWER_ROLES[1]):
        return access.has_perm(user, anomaly, access.VIEW)
    return access.has_perm(user, anomaly, access.CHANGE)


class ReviewForm(forms.Form):
    verdict = forms.ChoiceField(choices=ScoreAnomaly.Verdict.choices)
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), min_length=3, max_length=2000)


class AnomalyListView(LoginRequiredMixin, ListView):
    template_name = "metrics/anomalies.html"
    context_object_name = "anomalies"
    paginate_by = 50

    def get_queryset(self):
        queryset = access.scope(
            ScoreAnomaly.objects.select_related(
                "trust_score",
                "deployment__environment__system",
                "deployment__model_version__model",
                "caused_by",
                "reviewed_by",
            ),
            self.request.user,
        )
        self.state = self.request.GET.get("state", "open")
        if self.state == "open":
            queryset = queryset.filter(reviewed_at__isnull=True)
        elif self.state == "reviewed":
            queryset = queryset.filter(reviewed_at__isnull=False)
        return queryset.order_by("-detected_at", "-id")

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["state"] = self.state
        context["rows"] = [
            {"anomaly": a, "may_review": may_review(self.request.user, a)} for a in context["anomalies"]
        ]
        context["form"] = ReviewForm()
        return context


@login_required
@require_POST
def review_anomaly(request, pk: int):
    anomaly = access.get_for_user(ScoreAnomaly.objects.select_related("trust_score"), request.user, pk=pk)
    if not may_review(request.user, anomaly):
        raise PermissionDenied(
            "You may not review this anomaly: it is reviewed already, you caused the change it flags, "
            "or you lack a reviewer role on this system."
        )
    form = ReviewForm(request.POST)
    if not form.is_valid():
        messages.error(request, "A verdict and a note (at least 3 characters) are required.")
        return redirect("metrics:trust-anomalies")
    with transaction.atomic():
        locked = ScoreAnomaly.objects.select_for_update().get(pk=anomaly.pk)
        if locked.is_reviewed:
            raise PermissionDenied("This anomaly has been reviewed already.")
        before = snapshot(locked)
        locked.reviewed_by = request.user
        locked.reviewed_at = timezone.now()
        locked.verdict = form.cleaned_data["verdict"]
        locked.review_note = form.cleaned_data["note"]
        locked.save(update_fields=["reviewed_by", "reviewed_at", "verdict", "review_note"])
        record_change(
            action="trust.anomaly.review",
            obj=locked,
            before=before,
            after=snapshot(locked),
            reason=form.cleaned_data["note"],
            source="ui",
            actor=request.user,
        )
    messages.success(request, f"Reviewed: {locked.get_verdict_display()}.")
    return redirect("metrics:trust-anomalies")
