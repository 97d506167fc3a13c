"""Scenario simulator ``/scenarios/``: what would change if a fault hit a deployment's window?

It copies the stored values of one window of one deployment into plain dicts, applies the
chosen fault to the copies (a latency spike multiplies the latency percentiles, an error burst
adds to the error rate and takes availability down with it, a null-rate fault adds to every
feature's null rate, drift of size X adds X to the drift statistics of one feature), classifies
each copy with the metric version's thresholds, and derives the readiness the gate's rule
(DESIGN.md §5: any critical → blocked, any warn → staged) would give, side by side with reality.
Nothing is written: no ``MetricValue``, no alert, no trust score (a test holds it to that).
"""

from __future__ import annotations

from datetime import timedelta

from django.utils.dateparse import parse_datetime

from dashboards.base import DashboardView, Table
from dashboards.views import get_deployment, scoped_deployments
from dashboards.views_roles import dep_label
from metrics.models import MetricValue

FAULTS = {
    "latency_spike": "Latency spike (x factor)",
    "error_burst": "Error burst (+ error rate)",
    "null_rate": "Null-rate fault (+ share of nulls)",
    "drift": "Drift of size X in one feature (+ X to its drift statistics)",
}
LATENCY_KEYS = ("latency_p50_ms", "latency_p95_ms", "latency_p99_ms")


def classify(value, warn, critical, direction) -> str:
    if value is None:
        return "insufficient_data"
    higher_bad = direction != "higher_is_better"

    def beyond(threshold):
        return threshold is not None and (value >= threshold if higher_bad else value <= threshold)

    if beyond(critical):
        return "critical"
    if beyond(warn):
        return "warn"
    return "ok"


def readiness(statuses) -> str:
    statuses = list(statuses)
    if "critical" in statuses:
        return "blocked"
    if "warn" in statuses:
        return "staged"
    return "ready"


def apply_fault(rows: list[dict], fault: str, size: float, feature: str) -> list[dict]:
    """Return changed copies of ``rows`` (each a dict of one value); the input is not touched."""
    out = []
    for row in rows:
        new = dict(row)
        key, value = row["key"], row["value"]
        if value is not None:
            if fault == "latency_spike" and key in LATENCY_KEYS:
                new["value"] = value * size
            elif fault == "error_burst" and key == "error_rate":
                new["value"] = min(1.0, value + size)
            elif fault == "error_burst" and key == "availability":
                new["value"] = max(0.0, value - size * 10)
            elif fault == "null_rate" and key == "null_rate":
                new["value"] = min(1.0, value + size)
            elif (
                fault == "drift"
                and key.startswith("feature_drift_")
                and key != "feature_drift_chi2_p"
                and row["feature"] == feature
            ):
                new["value"] = value + size
        new["status"] = (
            classify(new["value"], row["warn"], row["critical"], row["direction"])
            if new["value"] is not None
            else row["status"]
        )
        out.append(new)
    return out


class ScenarioView(DashboardView):
    template_name = "dashboards/scenarios.html"
    page_name = "scenarios"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        get, user, filters = self.request.GET, self.request.user, self.filters
        deployments = list(
            scoped_deployments(user, filters).order_by("environment__system__slug", "id")[:200]
        )
        fault = get.get("fault", "latency_spike")
        if fault not in FAULTS:
            fault = "latency_spike"
        try:
            size = float(get.get("size", "3" if fault == "latency_spike" else "0.1"))
        except ValueError:
            size = 1.0
        feature = get.get("feature", "")
        context.update(
            {
                "deployments": [(d.pk, dep_label(d)) for d in deployments],
                "faults": FAULTS,
                "fault": fault,
                "size": size,
                "feature": feature,
            }
        )
        if not get.get("deployment"):
            return context
        deployment = get_deployment(user, get.get("deployment"))
        base = MetricValue.objects.filter(
            deployment=deployment, segment=filters.segment, metric_version__sensitive=False
        )
        at = parse_datetime(get.get("window", "") or "")
        if at is None:
            at = (
                base.filter(window_end__lte=filters.end)
                .order_by("-window_start")
                .values_list("window_start", flat=True)
                .first()
            )
        rows = []
        if at is not None:
            for v in (
                base.filter(window_start__gte=at - timedelta(hours=1), window_start__lte=at)
                .select_related("metric_version__definition")
                .order_by("-window_start")
            ):
                mv = v.metric_version
                rows.append(
                    {
                        "key": mv.definition.key,
                        "feature": v.feature,
                        "attribute": v.attribute,
                        "value": v.value,
                        "status": v.status,
                        "warn": mv.warn_threshold,
                        "critical": mv.critical_threshold,
                        "direction": mv.direction,
                        "pk": v.pk,
                    }
                )
            seen, unique = set(), []
            for r in rows:
                k = (r["key"], r["feature"], r["attribute"])
                if k not in seen:
                    seen.add(k)
                    unique.append(r)
            rows = sorted(unique, key=lambda r: (r["key"], r["feature"]))
        simulated = apply_fault(rows, fault, size, feature)
        pairs = [
            {"real": r, "sim": s, "changed": r["status"] != s["status"]}
            for r, s in zip(rows, simulated, strict=False)
        ]
        features = sorted({r["feature"] for r in rows if r["feature"]})
        context.update(
            {
                "deployment": deployment,
                "window": at,
                "pairs": pairs,
                "changed": [p for p in pairs if p["changed"]],
                "features": features,
                "real_readiness": readiness(r["status"] for r in rows),
                "sim_readiness": readiness(s["status"] for s in simulated),
                "would_fire": [
                    p for p in pairs if p["sim"]["status"] in ("warn", "critical") and p["changed"]
                ],
                "tables": {
                    "scenario": Table(
                        "scenario",
                        [
                            "metric",
                            "feature",
                            "attribute",
                            "real_value",
                            "real_status",
                            "simulated_value",
                            "simulated_status",
                        ],
                        [
                            [
                                p["real"]["key"],
                                p["real"]["feature"],
                                p["real"]["attribute"],
                                p["real"]["value"],
                                p["real"]["status"],
                                p["sim"]["value"],
                                p["sim"]["status"],
                            ]
                            for p in pairs
                        ],
                    )
                },
            }
        )
        return context
