"""Shared builders for the engine tests (tests/test_engine_*.py, tests/integration/).

Telemetry goes in through the real ingest API (an ingest token, HTTP POSTs), values come out
through the real read API; expected numbers are computed here with NumPy / SciPy from the very
records that were sent.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta

import numpy as np

from healthboard import access
from healthboard.models import ApiToken
from healthboard.tokens import issue_token
from metrics.engine import synthetic

EVENTS_URL = "/api/v1/ingest/events"
LABELS_URL = "/api/v1/ingest/labels"
REFERENCE_URL = "/api/v1/ingest/reference"
TOL = 1e-9


def close(actual, expected, tol: float = TOL) -> bool:
    if actual is None or expected is None:
        return actual is None and expected is None
    a, b = float(actual), float(expected)
    return abs(a - b) <= tol * max(1.0, abs(b))


def day_start(days_ago: int = 2) -> datetime:
    now = datetime.now(UTC)
    return datetime(now.year, now.month, now.day, tzinfo=UTC) - timedelta(days=days_ago)


def ingest_token(system) -> str:
    _, raw = issue_token(kind=ApiToken.Kind.INGEST, system=system, name="engine-test")
    return raw


def _post(client, url: str, token: str, payload: dict):
    response = client.generic(
        "POST",
        url,
        json.dumps(payload),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert response.status_code == 200, response.content[:500]
    body = response.json()
    assert not body["rejected"], body["rejected"][:3]
    return body


def send_reference(client, token: str, deployment, rows: list[dict]) -> None:
    model = deployment.model_version.model.slug
    version = deployment.model_version.version
    for i in range(0, len(rows), 5000):
        _post(
            client,
            REFERENCE_URL,
            token,
            {"model": model, "model_version": version, "events": rows[i : i + 5000], "append": i > 0},
        )


def send_events(client, token: str, records: list[dict]) -> int:
    accepted = 0
    for i in range(0, len(records), 5000):
        accepted += _post(client, EVENTS_URL, token, {"events": records[i : i + 5000]})["accepted"]
    return accepted


def send_labels(client, token: str, labels: list[dict]) -> int:
    accepted = 0
    for i in range(0, len(labels), 5000):
        accepted += _post(client, LABELS_URL, token, {"labels": labels[i : i + 5000]})["accepted"]
    return accepted


def make_traffic(
    deployment, start: datetime, end: datetime, *, n: int, seed: int, drift: float = 0.0, label_share=0.6
):
    """(events, labels, reference rows) for ``deployment`` (API shape, deterministic)."""
    model = deployment.model_version.model
    common = {
        "task": model.task,
        "model": model.slug,
        "version": deployment.model_version.version,
        "environment": deployment.environment.slug,
    }
    events = synthetic.make_records(n=n, start=start, end=end, seed=seed, drift=drift, **common)
    labels = synthetic.split_labels(events, share=label_share, seed=seed)
    reference = synthetic.make_records(
        n=2000, start=start - timedelta(days=1), end=start, seed=seed + 99, id_prefix="ref", **common
    )
    for row in reference:
        row["label"] = row.pop("_label")
    return events, labels, reference


def viewer(user, system):
    access.grant(system, [access.VIEW, access.VIEW_SENSITIVE], user=user)
    return user


def api_values(client, **params) -> list[dict]:
    """Every item of /api/v1/metric-values/ for the filters (follows the pagination)."""
    items: list[dict] = []
    offset = 0
    while True:
        response = client.get("/api/v1/metric-values/", {**params, "limit": 1000, "offset": offset})
        assert response.status_code == 200, response.content[:300]
        body = response.json()
        items += body["results"]
        offset += len(body["results"])
        if offset >= body["count"] or not body["results"]:
            return items


def index(items: list[dict]) -> dict[tuple, dict]:
    """``{(metric, segment, feature, attribute, window_start, window_end): item}``."""
    out = {}
    for item in items:
        key = (
            item["metric"],
            item["segment"],
            item["feature"] or "",
            item["attribute"] or "",
            _dt(item["window_start"]),
            _dt(item["window_end"]),
        )
        assert key not in out, f"duplicate value {key}"
        out[key] = item
    return out


def _dt(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


# --- reference implementations on the records ------------------------------------------------


def ts_of(record: dict) -> datetime:
    return _dt(record["timestamp"])


def in_window(records: list[dict], start: datetime, end: datetime, segment: str = "") -> list[dict]:
    out = [r for r in records if start <= ts_of(r) < end]
    if segment:
        attribute, value = segment.split("=", 1)
        out = [r for r in out if str(r["cohort"].get(attribute)) == value]
    return out


def column(records: list[dict], name: str) -> np.ndarray:
    values = [r["features"].get(name) for r in records]
    return np.array([np.nan if v is None else float(v) for v in values], dtype=float)


def psi_numpy(ref: np.ndarray, cur: np.ndarray, edges_from: np.ndarray | None = None) -> float:
    """PSI as DESIGN.md §3.1 writes it; bins from ``edges_from`` (default: ``ref``) deciles."""
    ref, cur = ref[~np.isnan(ref)], cur[~np.isnan(cur)]
    basis = ref if edges_from is None else edges_from[~np.isnan(edges_from)]
    edges = np.unique(np.quantile(basis, [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]))
    bins = np.concatenate([[-np.inf], edges, [np.inf]])
    r = np.histogram(ref, bins)[0] / ref.size
    c = np.histogram(cur, bins)[0] / cur.size
    r[r == 0] = 0.0001
    c[c == 0] = 0.0001
    return float(np.sum((c - r) * np.log(c / r)))


def js_numpy(ref: np.ndarray, cur: np.ndarray) -> float:
    from scipy.spatial.distance import jensenshannon

    ref, cur = ref[~np.isnan(ref)], cur[~np.isnan(cur)]
    edges = np.unique(np.quantile(ref, [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]))
    bins = np.concatenate([[-np.inf], edges, [np.inf]])
    return float(jensenshannon(np.histogram(ref, bins)[0] / ref.size, np.histogram(cur, bins)[0] / cur.size))


def availability_numpy(records: list[dict], slo: float = 0.99) -> float:
    minutes: dict[int, list[bool]] = {}
    for r in records:
        minutes.setdefault(int(ts_of(r).timestamp()) // 60, []).append(bool(r["error"]))
    good = sum(1 for errs in minutes.values() if 1.0 - sum(errs) / len(errs) >= slo)
    return good / len(minutes)


def ece_numpy(labels: np.ndarray, scores: np.ndarray, bins: int = 10) -> float:
    idx = np.minimum((scores * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        mask = idx == b
        if mask.any():
            total += mask.sum() / labels.size * abs(labels[mask].mean() - scores[mask].mean())
    return total


def isclose_or_none(a, b) -> bool:
    if a is None or b is None or (isinstance(b, float) and math.isnan(b)):
        return a is None
    return close(a, b)
