""" "What changed" between two points of the score series, by pillar and by metric (§5, issue 7).

The trust score is ``100 - Σ contribution_m`` with ``contribution_m = 100 · share_m · (1 - h_m)``,
so the change between two points is exactly ``-Σ Δcontribution_m``. Each metric's part is split
further into a *health* effect (the metric got better or worse) and a *weight* effect (its share
moved: a weight-profile change, or another metric or pillar gaining or losing coverage), with the
midpoint rule, which is exact for a product of two factors:

    -Δ(s·(1-h)) = s̄ · Δh  -  Δs · (1 - h̄)        (s̄, h̄: the means of the two points)

A metric present at one point only has share 0 at the other (its health there is taken equal to
the known one, so its whole part is a weight/coverage effect). Pillar parts are sums of their
metrics' parts. Inputs are the stored per-metric rows (``MetricScore.as_dict()``: metric, pillar,
share, health, status), so two stored ``TrustScore`` rows can be compared without recomputation.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Attribution", "attribute_change"]


@dataclass
class Attribution:
    before: float | None
    after: float | None
    total: float | None
    by_pillar: list[dict[str, Any]] = field(default_factory=list)
    by_metric: list[dict[str, Any]] = field(default_factory=list)
    residual: float = 0.0  # rounding, or scores not produced by the same formula

    def as_dict(self) -> dict:
        return {
            "before": self.before,
            "after": self.after,
            "change": self.total,
            "by_pillar": self.by_pillar,
            "by_metric": self.by_metric,
            "residual": self.residual,
        }


def _rows(metrics: Iterable[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    return {m["metric"]: m for m in metrics if m.get("health") is not None}


def attribute_change(
    before_score: float | None,
    before_metrics: Iterable[Mapping[str, Any]],
    after_score: float | None,
    after_metrics: Iterable[Mapping[str, Any]],
) -> Attribution:
    """Decompose ``after_score - before_score`` into per-metric and per-pillar parts."""
    if before_score is None or after_score is None:
        return Attribution(before=before_score, after=after_score, total=None)
    before, after = _rows(before_metrics), _rows(after_metrics)
    by_metric = []
    for key in sorted(set(before) | set(after)):
        b, a = before.get(key), after.get(key)
        hb = float(b["health"]) if b else float(a["health"])
        ha = float(a["health"]) if a else hb
        sb = float(b.get("share", 0.0)) if b else 0.0
        sa = float(a.get("share", 0.0)) if a else 0.0
        health_effect = 100.0 * (sa + sb) / 2.0 * (ha - hb)
        weight_effect = -100.0 * (sa - sb) * (1.0 - (ha + hb) / 2.0)
        change = health_effect + weight_effect
        row = a or b
        by_metric.append(
            {
                "metric": key,
                "pillar": row["pillar"],
                "change": change,
                "health_effect": health_effect,
                "weight_effect": weight_effect,
                "before": {
                    "health": hb if b else None,
                    "share": sb,
                    "status": b.get("status") if b else None,
                },
                "after": {"health": ha if a else None, "share": sa, "status": a.get("status") if a else None},
            }
        )
    by_metric.sort(key=lambda r: (-abs(r["change"]), r["metric"]))
    pillars: dict[str, float] = {}
    for row in by_metric:
        pillars[row["pillar"]] = pillars.get(row["pillar"], 0.0) + row["change"]
    by_pillar = [
        {"pillar": p, "change": c} for p, c in sorted(pillars.items(), key=lambda kv: (-abs(kv[1]), kv[0]))
    ]
    total = after_score - before_score
    explained = sum(r["change"] for r in by_metric)
    return Attribution(
        before=before_score,
        after=after_score,
        total=total,
        by_pillar=by_pillar,
        by_metric=by_metric,
        residual=total - explained,
    )
