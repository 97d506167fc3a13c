"""Scenario simulator ``/scenarios/``: choose a deployment, an hour and a fault; see which metric
statuses, alerts and readiness decisions would change, side by side with reality.

The page is thin: ``dashboards.simulation`` recomputes the hour from a faulted copy of its raw
events with the engine's calculators and never writes (a test holds it to that).
"""

from __future__ import annotations

from datetime import timedelta

from catalog.models import Feature, MetricVersion
from dashboards import simulation
from dashboards.base import DashboardView, Table
from dashboards.views import deployment_refs, get_deployment
from healthboard import access
from healthboard.api import instant_or_none
from metrics.engine import windows
from metrics.models import MetricValue
from metrics.trust.redaction import Redactor

PERIOD_CHOICES = 48  # hours offered in the period list


def newest_computed_hour(deployment):
    """The end of the newest hour with stored hourly values, or None (an index scan on
    (deployment, window_start) backwards: the hourly versions' ids are looked up first)."""
    hourly = list(MetricVersion.objects.filter(window="1h").values_list("pk", flat=True))
    return (
        MetricValue.objects.filter(deployment=deployment, metric_version_id__in=hourly, segment="")
        .order_by("-window_start")
        .values_list("window_end", flat=True)
        .first()
    )


class ScenarioView(DashboardView):
    template_name = "dashboards/scenarios.html"
    page_name = "scenarios"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        get, user, filters = self.request.GET, self.request.user, self.filters
        deployments = deployment_refs(user, filters)
        kind = get.get("fault", simulation.LATENCY_SPIKE)
        if kind not in simulation.FAULTS:
            kind = simulation.LATENCY_SPIKE
        try:
            size = float(get.get("size") or simulation.DEFAULT_SIZE[kind])
        except ValueError:
            size = simulation.DEFAULT_SIZE[kind]
        feature = get.get("feature", "").strip()
        fault_segment = get.get("fault_segment", "").strip()
        if fault_segment and "=" not in fault_segment:
            fault_segment = ""
        last_hour = windows.floor(filters.end, simulation.PERIOD)
        context.update(
            {
                "deployments": [(d.pk, d.label) for d in deployments],
                "faults": simulation.FAULTS,
                "fault": kind,
                "size": size,
                "feature": feature,
                "fault_segment": fault_segment,
                "periods": [last_hour - timedelta(hours=k) for k in range(PERIOD_CHOICES)],
            }
        )
        if not get.get("deployment"):
            return context
        deployment = get_deployment(user, get.get("deployment"))
        end = instant_or_none(get.get("period", "") or "", assume_utc=True)
        if end is None:
            end = newest_computed_hour(deployment) or last_hour
        end = windows.floor(end, simulation.PERIOD)
        context.update(
            {
                "deployment": deployment,
                "period_end": end,
                "period_start": end - simulation.PERIOD,
                "features": list(
                    Feature.objects.filter(model_id=deployment.model_version.model_id)
                    .order_by("position", "name")
                    .values_list("name", flat=True)
                ),
            }
        )
        try:
            fault = simulation.Fault(kind, size, feature=feature, segment=fault_segment)
        except ValueError as exc:
            context["fault_error"] = str(exc)
            return context
        sensitive_ok = access.has_perm(user, deployment, access.VIEW_SENSITIVE)
        result = simulation.simulate(deployment, end, fault, sensitive_ok=sensitive_ok)
        if not sensitive_ok:  # readiness reasons name fairness metrics; their values stay hidden
            redactor = Redactor(user, deployment)
            for side in (result.real, result.sim):
                if side is not None:
                    side.reasons = redactor.reasons(side.reasons)
        context.update({"simulation": result, "tables": self.tables(result)})
        return context

    @staticmethod
    def tables(result: simulation.Simulation) -> dict[str, Table]:
        def fmt(values):
            return " ".join("" if v is None else f"{v:.6g}" for v in values)

        return {
            "metrics": Table(
                "metrics",
                [
                    "metric",
                    "window",
                    "segment",
                    "feature_or_attribute",
                    "real_worst_status",
                    "simulated_worst_status",
                    "real_value",
                    "simulated_value",
                    "real_statuses",
                    "simulated_statuses",
                    "real_values",
                    "simulated_values",
                    "changed",
                ],
                lambda: [
                    [
                        m.key,
                        m.size,
                        m.segment,
                        m.target,
                        m.real.worst,
                        m.sim.worst,
                        m.real.worst_value,
                        m.sim.worst_value,
                        " ".join(m.real.statuses),
                        " ".join(m.sim.statuses),
                        fmt(m.real.values),
                        fmt(m.sim.values),
                        m.changed,
                    ]
                    for m in result.metrics
                ],
            ),
            "alerts": Table(
                "alerts",
                ["metric", "segment", "feature_or_attribute", "real", "simulated", "changed"],
                lambda: [
                    [a.key, a.segment, a.feature or a.attribute, a.real, a.sim, a.changed]
                    for a in result.alerts
                ],
            ),
            "readiness": Table(
                "readiness",
                ["side", "readiness", "score", "coverage", "reasons"],
                lambda: [
                    [
                        side,
                        r.readiness,
                        r.score,
                        r.coverage,
                        "; ".join(x.get("message", "") for x in r.reasons),
                    ]
                    for side, r in (("reality", result.real), ("scenario", result.sim))
                    if r is not None
                ],
            ),
        }
