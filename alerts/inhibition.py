"""Causal inhibition: while a freshness or ingestion alert fires for a deployment, its drift,
quality and fairness alerts are inhibited — shown, but not notified and not escalated —
because they are computed on missing or partial data (Alertmanager's inhibit rules, with the
deployment as the ``equal`` label)."""

from __future__ import annotations

# Alerts on these metrics inhibit others on the same deployment.
SOURCE_KEYS = frozenset({"data_freshness_s", "label_freshness_s", "ingest_rejection_rate"})

# Model-quality metrics (DESIGN.md §3.3): computed on labelled events.
QUALITY_KEYS = frozenset(
    {
        "accuracy",
        "precision",
        "recall",
        "f1",
        "roc_auc",
        "mae",
        "rmse",
        "accuracy_delta_vs_baseline",
        "calibration_error",
    }
)


def is_source(metric_key: str) -> bool:
    return metric_key in SOURCE_KEYS


def is_target(metric_key: str, pillar: str) -> bool:
    """Drift, data quality, model quality and fairness alerts can be inhibited."""
    if is_source(metric_key):
        return False
    return (
        "drift" in metric_key
        or metric_key in QUALITY_KEYS
        or metric_key == "null_rate"
        or pillar in ("fairness", "data_quality")
    )
