"""Deterministic synthetic traffic (NumPy): a model's events, late labels and reference data.

Used by the engine's tests and the ``compute_metrics`` demo check; it sends everything through
the same ingestion functions the HTTP endpoints call (``metrics.ingest.pipeline`` /
``metrics.ingest.reference``), so the rows look exactly like real telemetry: validated,
deduplicated, bulk-stored, late events and labels marking their windows dirty.

Two model shapes:

* ``binary_classification`` — numeric ``income`` (log-normal), ``age`` (integers, many values on
  the reference's decile edges), ``tenure`` (5% nulls); categorical ``region`` and ``channel``;
  cohorts ``sex`` (protected) and ``age_band``; a logistic score, prediction = score ≥ 0.5,
  labels drawn from the true probability (with a group gap in the positive rate, so fairness
  metrics have something to show).
* ``regression`` — the same features; prediction and label are amounts.

``drift`` shifts ``income`` and the ``region`` mix of the window's second half, so drift
metrics move; latency is log-normal with a p99 tail and about 0.5% errors.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np

BINARY = "binary_classification"
REGRESSION = "regression"
NUMERIC = ("income", "age", "tenure")
CATEGORICAL = ("region", "channel")
COHORTS = {"sex": True, "age_band": False}  # name -> protected
REGIONS = ("eu", "us", "apac")
CHANNELS = ("web", "app", "branch")


@dataclass
class Traffic:
    """Generated records (API shape) and what was ingested."""

    events: list[dict] = field(default_factory=list)
    labels: list[dict] = field(default_factory=list)
    reference: list[dict] = field(default_factory=list)
    accepted: int = 0
    rejected: int = 0
    labelled: int = 0
    reference_rows: int = 0


def _iso(ns: int) -> str:
    return (
        datetime.fromtimestamp(ns // 1_000_000_000, UTC)
        .replace(microsecond=(ns // 1000) % 1_000_000)
        .isoformat()
        .replace("+00:00", "Z")
    )


def make_records(
    *,
    n: int,
    start: datetime,
    end: datetime,
    seed: int,
    task: str = BINARY,
    model: str = "scorer",
    version: str = "1.0.0",
    environment: str = "prod",
    drift: float = 0.0,
    id_prefix: str = "ev",
    error_rate: float = 0.005,
) -> list[dict]:
    """``n`` events with timestamps uniform in ``[start, end)`` (sorted), deterministic in ``seed``."""
    rng = np.random.default_rng(seed)
    span_ns = int((end - start).total_seconds() * 1e9)
    start_ns = int(start.timestamp()) * 1_000_000_000 + start.microsecond * 1000
    offsets = np.sort(rng.integers(0, span_ns, size=n))
    ts = start_ns + offsets
    late_half = offsets >= span_ns // 2
    shift = np.where(late_half, drift, 0.0)

    income = np.round(rng.lognormal(10.8, 0.45, n) * (1.0 + shift), 2)
    age = rng.integers(18, 80, n).astype(float)
    tenure = np.round(rng.gamma(2.0, 3.0, n), 1)
    tenure_null = rng.random(n) < 0.05
    p_region = np.array([0.5, 0.35, 0.15])
    region_draw = rng.random(n)
    shifted = np.array([0.3, 0.35, 0.35])
    cum = np.where(late_half[:, None] & (drift > 0), np.cumsum(shifted), np.cumsum(p_region))
    region_idx = (region_draw[:, None] > cum).sum(axis=1).clip(0, 2)
    channel_idx = rng.choice(3, size=n, p=[0.55, 0.35, 0.10])
    sex = np.where(rng.random(n) < 0.48, "f", "m")
    age_band = np.where(age < 30, "18-29", np.where(age < 50, "30-49", "50+"))

    z = (
        -0.4
        + 0.9 * (np.log(income) - 10.8) / 0.45
        - 0.02 * (age - 45)
        + 0.3 * (channel_idx == 1)
        + 0.25 * (sex == "m")
    )
    true_p = 1.0 / (1.0 + np.exp(-z))
    noisy = z + rng.normal(0, 0.6, n)
    score = np.round(1.0 / (1.0 + np.exp(-noisy)), 4)
    label_bin = (rng.random(n) < true_p).astype(int)
    amount = np.round(100 + 30 * (np.log(income) - 10.8) / 0.45 + rng.normal(0, 10, n), 2)
    predicted_amount = np.round(amount + rng.normal(0, 8, n), 2)

    latency = np.round(rng.lognormal(3.6, 0.35, n) + (rng.random(n) < 0.01) * rng.uniform(200, 900, n), 3)
    error = rng.random(n) < error_rate

    records = []
    for i in range(n):
        features = {
            "income": float(income[i]),
            "age": int(age[i]),
            "tenure": None if tenure_null[i] else float(tenure[i]),
            "region": REGIONS[region_idx[i]],
            "channel": CHANNELS[channel_idx[i]],
        }
        if task == BINARY:
            prediction, sc = int(score[i] >= 0.5), float(score[i])
        else:
            prediction, sc = float(predicted_amount[i]), None
        records.append(
            {
                "event_id": f"{id_prefix}-{seed}-{i}",
                "model": model,
                "model_version": version,
                "environment": environment,
                "timestamp": _iso(int(ts[i])),
                "latency_ms": float(latency[i]),
                "error": bool(error[i]),
                "features": features,
                "prediction": prediction,
                "score": sc,
                "label": None,
                "cohort": {"sex": str(sex[i]), "age_band": str(age_band[i])},
                "_label": int(label_bin[i]) if task == BINARY else float(amount[i]),
            }
        )
    return records


def split_labels(records: list[dict], *, share: float, seed: int) -> list[dict]:
    """Late labels for a deterministic ``share`` of the events (removes the private ``_label``)."""
    rng = np.random.default_rng(seed + 7919)
    chosen = rng.random(len(records)) < share
    labels = []
    for record, pick in zip(records, chosen, strict=True):
        label = record.pop("_label")
        if pick:
            labels.append({"event_id": record["event_id"], "label": label})
    return labels


def ensure_model(
    system, *, slug: str = "scorer", task: str = BINARY, version: str = "1.0.0", environment: str = "prod"
):
    """The demo model (features, cohorts), its version, environment and deployment."""
    from catalog.models import CohortAttribute, Deployment, Environment, Feature, Model, ModelVersion

    model, _ = Model.objects.get_or_create(
        system=system, slug=slug, defaults={"task": task, "positive_label": 1 if task == BINARY else None}
    )
    for position, name in enumerate((*NUMERIC, *CATEGORICAL)):
        Feature.objects.get_or_create(
            model=model,
            name=name,
            defaults={"type": "numeric" if name in NUMERIC else "categorical", "position": position},
        )
    for name, protected in COHORTS.items():
        CohortAttribute.objects.get_or_create(model=model, name=name, defaults={"protected": protected})
    model_version, _ = ModelVersion.objects.get_or_create(model=model, version=version)
    env, _ = Environment.objects.get_or_create(system=system, slug=environment)
    deployment, _ = Deployment.objects.get_or_create(model_version=model_version, environment=env)
    return deployment


def _parsed(records: list[dict], document: dict | None = None):
    from metrics.ingest.parse import Parsed

    return Parsed(records=records, document=dict(document or {}))


def ingest(
    deployment,
    *,
    start: datetime,
    end: datetime,
    events_per_hour: int = 600,
    seed: int = 1,
    drift: float = 0.0,
    label_share: float = 0.6,
    label_delay: timedelta = timedelta(hours=1),
    reference_rows: int = 3000,
    live: bool = True,
    invalid_share: float = 0.0,
    now: datetime | None = None,
    batch: int = 5000,
) -> Traffic:
    """Generate and ingest ``[start, end)`` of traffic for ``deployment``, its labels and (when
    ``reference_rows``) a fresh reference for the model version — through the ingestion code.

    ``live`` replays the traffic as if it arrived in real time: each 5-minute bucket's events are
    ingested at the bucket's end (so nothing is late and the ingestion statistics land in the
    right minutes) and each bucket's labels ``label_delay`` later (late labels mark their windows
    dirty, as in production). Otherwise everything is ingested at ``now`` (default: the real
    time), so past events are late and mark their windows dirty. ``invalid_share`` of the events
    get a wrong type and are rejected (and counted, and quarantined).
    """
    from metrics.ingest import pipeline, reference

    system = deployment.environment.system
    model = deployment.model_version.model
    common = {
        "task": model.task,
        "model": model.slug,
        "version": deployment.model_version.version,
        "environment": deployment.environment.slug,
    }
    real_now = datetime.now(UTC)
    hours = (end - start).total_seconds() / 3600.0
    n = max(1, round(events_per_hour * hours))
    traffic = Traffic()
    if reference_rows:
        rows = make_records(
            n=reference_rows,
            start=start - timedelta(days=1),
            end=start,
            seed=seed + 1_000_003,
            id_prefix="ref",
            **common,
        )
        for row in rows:
            row["label"] = row.pop("_label")
        traffic.reference = rows
        for i in range(0, len(rows), batch):
            doc = {"model": model.slug, "model_version": deployment.model_version.version, "append": i > 0}
            outcome = reference.ingest_reference(
                system, _parsed(rows[i : i + batch], doc), now=min(start, real_now) if live else now
            )
            if outcome.rejected:
                raise ValueError(f"reference rows rejected: {outcome.rejected[:3]}")
            traffic.reference_rows += len(outcome.accepted)
    records = make_records(n=n, start=start, end=end, seed=seed, drift=drift, **common)
    traffic.labels = split_labels(records, share=label_share, seed=seed)
    if invalid_share:
        rng = np.random.default_rng(seed + 104729)
        for i in np.flatnonzero(rng.random(n) < invalid_share).tolist():
            records[i]["features"] = {**records[i]["features"], "income": "n/a"}
        bad = {r["event_id"] for r in records if r["features"]["income"] == "n/a"}
        traffic.labels = [label for label in traffic.labels if label["event_id"] not in bad]
    traffic.events = records

    def send_events(chunk: list[dict], at: datetime | None) -> None:
        outcome = pipeline.ingest_events(system, _parsed(chunk), now=at)
        traffic.accepted += len(outcome.accepted)
        traffic.rejected += len(outcome.rejected)

    def send_labels(chunk: list[dict], at: datetime | None) -> None:
        outcome = pipeline.ingest_labels(system, _parsed(chunk), now=at)
        if outcome.rejected:
            raise ValueError(f"labels rejected: {[r.as_response() for r in outcome.rejected[:3]]}")
        traffic.labelled += len(outcome.accepted)

    if not live:
        for i in range(0, len(records), batch):
            send_events(records[i : i + batch], now)
        for i in range(0, len(traffic.labels), batch):
            send_labels(traffic.labels[i : i + batch], now)
        return traffic
    bucket = timedelta(minutes=5)
    by_bucket: dict[datetime, list[dict]] = {}
    for record in records:
        ts = datetime.fromisoformat(record["timestamp"].replace("Z", "+00:00"))
        epoch = int(ts.timestamp())
        by_bucket.setdefault(datetime.fromtimestamp(epoch - epoch % 300, UTC), []).append(record)
    bucket_of = {r["event_id"]: b for b, rs in by_bucket.items() for r in rs}
    for b in sorted(by_bucket):
        send_events(by_bucket[b], min(b + timedelta(minutes=4), real_now))
    labels_by_bucket: dict[datetime, list[dict]] = {}
    for label in traffic.labels:
        labels_by_bucket.setdefault(bucket_of[label["event_id"]], []).append(label)
    for b in sorted(labels_by_bucket):
        send_labels(labels_by_bucket[b], min(b + bucket + label_delay, real_now))
    return traffic
