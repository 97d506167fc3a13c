"""Demo telemetry: 14 days of synthetic prediction events with the demo's incidents.

Generated with numpy per deployment and per hour, stored through the ingestion pipeline
(``metrics.ingest.pipeline.ingest_events``: validation, bulk COPY / executemany store, stats) —
never the ORM row by row. Reference data goes through ``metrics.ingest.reference.ingest_reference``.
Event ids are deterministic (system, deployment, hour, index), so a second run stores nothing
new (duplicates are detected) and the command stays idempotent.

The incidents the views must reveal:
- ``web-search`` prod: a regional latency spike (region=eu, times 5) after the deploy of 3.5.0
  two days ago;
- ``shop-recommendations`` prod: gradual drift of ``basket_value`` (its mean rises ~4 % a day);
- ``clinical-triage`` prod: a fairness regression in a small subgroup (sex=f, age_band=80+):
  their positives are missed during the last three days;
- ``payments-fraud`` edge: a stale pipeline (no events for the last 8 hours);
- ``payments-fraud`` prod: an error burst (35 % errors) for one hour a day ago.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np

REGIONS = np.array(["eu", "us", "apac", "latam"])
REGION_P = [0.35, 0.35, 0.2, 0.1]
AGE_BANDS = np.array(["18-29", "30-44", "45-64", "65-79", "80+"])
AGE_P = [0.2, 0.3, 0.3, 0.15, 0.05]
SEXES = np.array(["f", "m"])


@dataclass(frozen=True)
class Spec:
    system: str
    model: str
    version: str
    numeric: tuple[tuple[str, float, float], ...]  # name, mean, std
    categorical: tuple[str, tuple[str, ...]]
    base_latency: float


SPECS = [
    Spec(
        "shop-recommendations",
        "recommender",
        "4.1.0",
        (("basket_value", 60.0, 20.0), ("session_minutes", 12.0, 5.0), ("items_viewed", 8.0, 3.0)),
        ("device", ("mobile", "desktop", "tablet")),
        35.0,
    ),
    Spec(
        "payments-fraud",
        "detector",
        "2.0.0",
        (("amount", 80.0, 40.0), ("merchant_risk", 0.3, 0.1), ("seconds_since_last_txn", 3600.0, 900.0)),
        ("channel", ("web", "pos", "app")),
        20.0,
    ),
    Spec(
        "clinical-triage",
        "triage",
        "1.2.0",
        (("heart_rate", 85.0, 15.0), ("systolic_bp", 125.0, 18.0), ("temperature", 37.0, 0.6)),
        ("arrival_mode", ("walk-in", "ambulance", "referral")),
        60.0,
    ),
    Spec(
        "web-search",
        "ranker",
        "3.5.0",
        (("query_length", 3.0, 1.2), ("result_position", 5.0, 2.5), ("dwell_seconds", 40.0, 15.0)),
        ("locale", ("en", "de", "fr", "es")),
        45.0,
    ),
]
RATES = {"prod": 120, "staging": 30, "edge": 30}  # events per hour


def _rng(*key) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32("|".join(map(str, key)).encode()))


def hour_events(
    spec: Spec, env: str, hour: datetime, now: datetime, deploy_at: datetime | None, n: int
) -> list[dict]:
    """The events of one deployment-hour, with the incidents applied."""
    rng = _rng(spec.system, env, hour.isoformat())
    age_days = (now - hour).total_seconds() / 86400
    region = rng.choice(REGIONS, n, p=REGION_P)
    age_band = rng.choice(AGE_BANDS, n, p=AGE_P)
    sex = rng.choice(SEXES, n)
    numeric = {}
    for name, mean, std in spec.numeric:
        if spec.system == "shop-recommendations" and name == "basket_value" and env == "prod":
            mean = mean * (1 + 0.04 * (14 - age_days))  # gradual drift
        numeric[name] = rng.normal(mean, std, n)
    cat_name, cats = spec.categorical
    categorical = rng.choice(np.array(cats), n)
    latency = rng.lognormal(np.log(spec.base_latency), 0.35, n)
    if spec.system == "web-search" and env == "prod" and deploy_at is not None and hour >= deploy_at:
        latency = np.where(region == "eu", latency * 5.0, latency)
    error = rng.random(n) < 0.002
    if spec.system == "payments-fraud" and env == "prod" and 24 <= (now - hour).total_seconds() / 3600 < 25:
        error = rng.random(n) < 0.35
    z = (numeric[spec.numeric[0][0]] - spec.numeric[0][1]) / spec.numeric[0][2]
    # A good, calibrated model (labels are drawn from the score): accuracy ≈ 0.9, clear of the
    # catalog's 0.8 warn, so quality thresholds are breached by the incidents, not by the noise.
    score = 1 / (1 + np.exp(-(5 * z + rng.normal(0, 0.8, n))))
    label = (rng.random(n) < score).astype(float)
    prediction = (score >= 0.5).astype(float)
    if spec.system == "clinical-triage" and env == "prod" and age_days < 3:
        subgroup = (sex == "f") & (age_band == "80+")
        prediction = np.where(subgroup, 0.0, prediction)  # positives of the subgroup are missed
        score = np.where(subgroup, score * 0.3, score)
    offsets = np.sort(rng.random(n)) * 3600
    events = []
    for i in range(n):
        ts = hour + timedelta(seconds=float(offsets[i]))
        event = {
            "event_id": f"demo-{spec.system}-{env}-{hour:%Y%m%d%H}-{i}",
            "model": spec.model,
            "model_version": spec.version,
            "environment": env,
            "timestamp": ts.isoformat().replace("+00:00", "Z"),
            "latency_ms": round(float(latency[i]), 2),
            "error": bool(error[i]),
            "features": {
                **{k: round(float(v[i]), 4) for k, v in numeric.items()},
                cat_name: str(categorical[i]),
            },
            "prediction": float(prediction[i]),
            "score": round(float(score[i]), 4),
            "cohort": {"region": str(region[i]), "age_band": str(age_band[i]), "sex": str(sex[i])},
        }
        if ts < now - timedelta(hours=2):
            event["label"] = float(label[i])
        events.append(event)
    return events


def reference_rows(spec: Spec, n: int = 3000) -> list[dict]:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    rows = hour_events(spec, "reference", start, start + timedelta(days=30), None, n)
    for row in rows:
        row.pop("environment", None)
        row.setdefault("label", row["prediction"])
    return rows


def generate(stdout, *, days: int = 14, now: datetime | None = None) -> dict:
    """Store references and ``days`` of hourly telemetry for the four demo systems."""
    from catalog.models import Deployment, System
    from metrics.ingest.parse import Parsed
    from metrics.ingest.pipeline import ingest_events
    from metrics.ingest.reference import ingest_reference
    from metrics.models.reference import ReferenceDataset

    now = (now or datetime.now(UTC)).replace(minute=0, second=0, microsecond=0)
    deploy_at = now - timedelta(days=2)
    totals = {"accepted": 0, "duplicates": 0, "rejected": 0}
    for spec in SPECS:
        system = System.objects.get(slug=spec.system)
        if not ReferenceDataset.objects.filter(
            model_version__model__system=system, model_version__version=spec.version, is_current=True
        ).exists():
            outcome = ingest_reference(
                system,
                Parsed(
                    records=reference_rows(spec),
                    document={"model": spec.model, "model_version": spec.version},
                ),
                count=False,
            )
            stdout.write(f"  reference of {spec.system}: {len(outcome.accepted)} rows")
        if spec.system == "web-search":
            Deployment.objects.filter(
                environment__system=system, environment__slug="prod", model_version__version=spec.version
            ).update(started_at=deploy_at)
        for env, rate in RATES.items():
            batch: list[dict] = []
            for h in range(days * 24, 0, -1):
                hour = now - timedelta(hours=h)
                # The stale pipeline sends nothing for its last 8 hours (its batch is still stored).
                if not (spec.system == "payments-fraud" and env == "edge" and h <= 8):
                    batch += hour_events(
                        spec, env, hour, now, deploy_at if spec.system == "web-search" else None, rate
                    )
                if batch and (len(batch) >= 5000 or h == 1):
                    outcome = ingest_events(system, Parsed(records=batch), now=datetime.now(UTC))
                    totals["accepted"] += len(outcome.accepted)
                    totals["duplicates"] += len(outcome.duplicates)
                    totals["rejected"] += len(outcome.rejected)
                    batch = []
        stdout.write(f"  telemetry of {spec.system}: {totals}")
    return totals
