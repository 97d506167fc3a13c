# ruff: noqa: RUF001 - the prose uses typographic signs (times, minus, en dash)
"""The default metric catalog: every metric of DESIGN.md §3, and the default weight profiles.

This module is the readable source of the catalog Healthboard ships. Migrations never import
it: migration ``0004_default_catalog`` loads a frozen copy
(``catalog/migrations/_0004_default_catalog_data.py``, written by ``frozen_source()`` below),
so editing this module later does not change what an old migration does. To ship a change to
the defaults, edit this module and add a data migration that creates new versions (with a
reason) for the changed metrics; ``tests/test_catalog_default.py`` compares the migrated
database with this module.

Each metric is a dict with ``key`` and every content field of ``MetricVersion``. The
calculator names are those of ``metrics.compute.registry`` (one per key); ``mttd_s``,
``mttr_s`` and ``open_critical_alerts`` are computed from alerts. Thresholds follow §3 where it
gives them; "context only" metrics have none. ``for_windows`` is the number of consecutive
breaching windows before an alert fires.
"""

from __future__ import annotations

import pprint

__all__ = ["DEFAULT_REASON", "METRICS", "METRIC_KEYS", "WEIGHT_PROFILES", "frozen_source", "metric"]

DEFAULT_REASON = "Default catalog shipped with Healthboard (DESIGN.md §3)."

PERFORMANCE, FAIRNESS, RELIABILITY, DATA_QUALITY = "performance", "fairness", "reliability", "data_quality"
HIGHER, LOWER = "higher_is_better", "lower_is_better"


def _m(
    key: str,
    *,
    name: str,
    description: str,
    pillar: str,
    data_source: str,
    direction: str,
    window: str,
    warn: float | None,
    critical: float | None,
    playbook: str,
    owner: str,
    unit: str = "",
    params: dict | None = None,
    min_samples: int = 100,
    for_windows: int = 1,
    sensitive: bool = False,
    calculator: str | None = None,
) -> dict:
    return {
        "key": key,
        "name": name,
        "description": description,
        "pillar": pillar,
        "calculator": calculator or key,
        "params": params or {},
        "data_source": data_source,
        "unit": unit,
        "direction": direction,
        "window": window,
        "min_samples": min_samples,
        "warn_threshold": warn,
        "critical_threshold": critical,
        "for_windows": for_windows,
        "sensitive": sensitive,
        "playbook": playbook.strip() + "\n",
        "owner": owner,
    }


# --- shared playbook fragments ----------------------------------------------------------------

_DRIFT_CHECKS = """
**Check, in order**
1. Is it real traffic? Compare `throughput_per_min` and `null_rate` for the same window: a
   drop in volume, a burst of nulls or one client sending test data shifts distributions
   without any change in the world.
2. Is it one feature or many? Open the drift heatmap (feature × window). Many features at
   once usually means an upstream change (a new data source, a schema or unit change, a
   broken join); one feature usually means that feature's pipeline.
3. Is it one cohort? Switch the heatmap to feature × cohort. Drift confined to one region,
   channel or segment points at that population (new market, campaign, partner).
4. Compare the distributions (click the cell): a shifted mean, a new category, a spike at a
   default value (0, -1, "unknown") or a changed scale (cents vs euros) each have a
   different cause.
5. Check the reference: is it still representative (old model version, seasonal reference,
   too few rows — see `details.reference_note`)?
"""

_DRIFT_ACTIONS = """
**Then**
- Data or pipeline bug: fix it upstream, annotate the window, and quarantine or backfill.
- Real change in the population: check `accuracy_delta_vs_baseline` and the fairness
  metrics once labels arrive; if quality holds, refresh the reference from recent traffic
  (`POST /api/v1/deployments/{id}/reference`) with a reason.
- Quality drops as well: open an incident, hand over to the model owner for retraining, and
  consider rolling back to the previous model version (readiness gate).
"""


def _drift_playbook(intro: str) -> str:
    return intro.strip() + "\n" + _DRIFT_CHECKS + _DRIFT_ACTIONS


_LATENCY = """
{what}

**Check, in order**
1. Is the whole deployment slow or one segment? Compare the percentile across segments and
   with `latency_p50_ms`: p50 stable with a high tail means queuing, cold starts or a slow
   dependency; everything up together means capacity or a slower model.
2. Did something change? Look for deploy and threshold-change markers on the chart; a new
   model version or configuration is the most common cause.
3. Traffic: compare `throughput_per_min` with the usual level for this hour. A spike points
   at capacity (scale out), a drop with high latency at a failing dependency.
4. Errors: a rising `error_rate` together with latency usually means timeouts downstream
   (feature store, database, external API).
5. Infrastructure: CPU/memory saturation, garbage collection, node or zone problems in the
   serving platform's own dashboards.

**Then**
- Capacity: scale out the serving replicas or raise concurrency limits.
- Bad release: roll back the model or service version; keep the incident open until
  {metric} is below the warn threshold for a full window.
- Slow dependency: page its owner, enable caching or the fallback path if one exists.
- Record the cause in the incident's post-mortem (category: deployment or infrastructure).
"""


def _latency_playbook(what: str, metric: str) -> str:
    return _LATENCY.format(what=what.strip(), metric=metric)


_QUALITY_CHECKS = """
**Check, in order**
1. Enough labels? Look at the sample size and `label_freshness_s`: a late or partial label
   feed (only the easy cases labelled first) biases quality metrics.
2. Is it drift? Check `prediction_drift_psi` and the feature drift heatmap for the same
   period; a population shift explains most quality drops.
3. Is it one cohort? Break the metric down by cohort: a drop confined to one segment
   points at that population or at a feature that is broken only there.
4. Did the model or its inputs change? Look for deploy markers and compare with the
   previous model version's values and with `accuracy_delta_vs_baseline`.
5. Label definition: has the way labels are produced changed (new labelling rules,
   delayed chargebacks, a new outcome window)?
"""

_QUALITY_ACTIONS = """
**Then**
- Label or data problem: fix the feed, annotate the window and recompute
  (`manage.py compute_metrics --deployment ID --start … --end …`).
- Real degradation: open an incident, inform the model owner, and decide between a
  rollback to the previous model version and a retrain on recent data; check the
  readiness gate before any rollout.
- Update the model card with what was found.
"""


def _quality_playbook(intro: str) -> str:
    return intro.strip() + "\n" + _QUALITY_CHECKS + _QUALITY_ACTIONS


_FAIRNESS_CHECKS = """
**Check, in order** (per-group detail is sensitive: only people with `view_sensitive` on the
system see it; do not copy it into tickets or chat)
1. Group sizes: look at the per-group breakdown in `details`. Groups below 30 events are
   excluded; a small group near the limit makes the value noisy.
2. Which group moved? Compare each group's rate with the previous windows: one group
   changing usually points at a change in that population or in its data.
3. Drift by cohort: check feature drift for the affected group (feature × cohort heatmap)
   and `null_rate` of the features used for that group.
4. Labels: are labels for one group delayed or produced differently?
5. Model change: compare with the previous model version and the reference values.
"""

_FAIRNESS_ACTIONS = """
**Then**
- Data issue for one group: fix it upstream and recompute the affected windows.
- Real disparity: open an incident with the data steward (fairness alerts route to them
  first), involve the model owner and, for regulated systems, compliance; consider a
  rollback to the last version that met the threshold.
- Record the decision and the evidence in the incident's post-mortem.
"""


def _fairness_playbook(intro: str) -> str:
    return intro.strip() + "\n" + _FAIRNESS_CHECKS + _FAIRNESS_ACTIONS


_FAIRNESS_PARAMS = {"min_group_size": 30}
_FAIRNESS_RATE_PARAMS = {"min_group_size": 30, "undefined_rates": "exclude"}

ML_PLATFORM, SRE, DATA_SCIENCE, RESPONSIBLE_AI = "ml-platform", "sre", "data-science", "responsible-ai"

METRICS: tuple[dict, ...] = (
    # --- 3.1 drift ---------------------------------------------------------------------------
    _m(
        "feature_drift_psi",
        name="Feature drift (PSI)",
        description=(
            "Population Stability Index of a feature against the reference. Numeric features use "
            "the reference's decile edges (outer bins open), categorical the union of categories; "
            "zero shares are replaced by 0.0001. PSI = Σ (c − r) · ln(c / r)."
        ),
        pillar=DATA_QUALITY,
        data_source="window_profiles+reference",
        direction=LOWER,
        window="1h",
        warn=0.1,
        critical=0.25,
        for_windows=2,
        params={"numeric_bins": "reference_deciles", "zero_share": 0.0001},
        owner=ML_PLATFORM,
        playbook=_drift_playbook(
            "The distribution of this feature has moved away from the reference "
            "(PSI ≥ 0.1 is a moderate shift, ≥ 0.25 a major one)."
        ),
    ),
    _m(
        "feature_drift_js",
        name="Feature drift (Jensen–Shannon distance)",
        description=(
            "Jensen–Shannon distance (natural log) between the reference and window shares over "
            "the same bins as PSI, without zero replacement. Bounded in [0, √ln 2]."
        ),
        pillar=DATA_QUALITY,
        data_source="window_profiles+reference",
        direction=LOWER,
        window="1h",
        warn=0.1,
        critical=0.2,
        for_windows=2,
        params={"numeric_bins": "reference_deciles", "base": "e"},
        owner=ML_PLATFORM,
        playbook=_drift_playbook(
            "The feature's binned distribution differs from the reference (a symmetric, bounded "
            "measure; less sensitive to rare bins than PSI)."
        ),
    ),
    _m(
        "feature_drift_wasserstein",
        name="Feature drift (normed Wasserstein)",
        description=(
            "Earth mover's distance between raw reference and window values divided by "
            "max(std(reference), 0.001): the shift in units of the reference's standard "
            "deviation. The raw distance is in `details`. Numeric features only."
        ),
        pillar=DATA_QUALITY,
        data_source="raw_events+reference",
        direction=LOWER,
        window="1h",
        warn=0.1,
        critical=0.2,
        for_windows=2,
        params={"normed": True, "min_std": 0.001},
        owner=ML_PLATFORM,
        playbook=_drift_playbook(
            "The feature's values have moved by this many reference standard deviations "
            "(0.1 = a tenth of a standard deviation)."
        ),
    ),
    _m(
        "feature_drift_ks",
        name="Feature drift (KS statistic, context)",
        description=(
            "Two-sample Kolmogorov–Smirnov statistic between reference and window values; the "
            "p-value is in `details`. Context only: on large windows every p-value is tiny, so "
            "effect sizes (PSI, JS, Wasserstein) drive alerts."
        ),
        pillar=DATA_QUALITY,
        data_source="raw_events+reference",
        direction=LOWER,
        window="1h",
        warn=None,
        critical=None,
        owner=ML_PLATFORM,
        playbook=(
            "Context only — this metric never alerts.\n\n"
            "**Use it to**\n"
            "1. Confirm a PSI / Wasserstein alert on the same feature: a large KS statistic (> 0.1) "
            "says the shapes differ, not only the tails.\n"
            "2. Read the p-value with its Benjamini–Hochberg q-value when many features are shown; "
            "ignore significance on windows with thousands of events.\n"
            "3. If KS is large but PSI small, look for a shift concentrated inside one decile bin "
            "(the bins hide it); consider a finer binning in the PSI params.\n"
        ),
    ),
    _m(
        "feature_drift_chi2_p",
        name="Feature drift (chi-square p-value, context)",
        description=(
            "p-value of the chi-square test of homogeneity on the 2 × k table of reference and "
            "window category counts. Categorical features only. Context only."
        ),
        pillar=DATA_QUALITY,
        data_source="window_profiles+reference",
        direction=HIGHER,
        window="1h",
        warn=None,
        critical=None,
        owner=ML_PLATFORM,
        playbook=(
            "Context only — this metric never alerts.\n\n"
            "**Use it to**\n"
            "1. Check whether a categorical PSI / JS alert is more than noise on small windows "
            "(a p-value above 0.05 on a few hundred events means the difference may be chance).\n"
            "2. Look at the categories in the distribution view: a new category or one that "
            "disappeared explains most low p-values.\n"
            "3. Read q-values (Benjamini–Hochberg) rather than raw p-values across many features.\n"
        ),
    ),
    _m(
        "prediction_drift_psi",
        name="Prediction drift (PSI)",
        description=(
            "PSI of the model output against the reference: on `score` when clients send it, "
            "else on `prediction`. An early signal of quality change before labels arrive."
        ),
        pillar=DATA_QUALITY,
        data_source="window_profiles+reference",
        direction=LOWER,
        window="1h",
        warn=0.1,
        critical=0.25,
        for_windows=2,
        params={"target": "score", "fallback": "prediction", "zero_share": 0.0001},
        owner=ML_PLATFORM,
        playbook=_drift_playbook(
            "The model's outputs are distributed differently from the reference: either the "
            "inputs drifted or the model (or its post-processing) changed. Look at the features "
            "with the highest drift first, and at deploy markers."
        ),
    ),
    # --- 3.2 service -------------------------------------------------------------------------
    _m(
        "latency_p50_ms",
        name="Latency p50",
        description="Median of `latency_ms` over the window's events (numpy.percentile, linear).",
        pillar=PERFORMANCE,
        data_source="raw_events",
        unit="ms",
        direction=LOWER,
        window="5m",
        warn=200.0,
        critical=500.0,
        for_windows=3,
        params={"exact_limit": 100000},
        owner=SRE,
        playbook=_latency_playbook(
            "The typical request is slow: this usually means the model itself or a dependency "
            "every request uses got slower.",
            "latency_p50_ms",
        ),
    ),
    _m(
        "latency_p95_ms",
        name="Latency p95",
        description=(
            "95th percentile of `latency_ms` over the window's events (numpy.percentile, linear); "
            "exact under 100,000 events, a ≤ 1% error sketch above."
        ),
        pillar=PERFORMANCE,
        data_source="raw_events",
        unit="ms",
        direction=LOWER,
        window="5m",
        warn=500.0,
        critical=1000.0,
        for_windows=3,
        params={"exact_limit": 100000},
        owner=SRE,
        playbook=_latency_playbook(
            "One request in twenty is slower than this: users notice. Tail latency grows first "
            "with queuing, retries and slow dependencies.",
            "latency_p95_ms",
        ),
    ),
    _m(
        "latency_p99_ms",
        name="Latency p99",
        description="99th percentile of `latency_ms` over the window's events (numpy.percentile, linear).",
        pillar=PERFORMANCE,
        data_source="raw_events",
        unit="ms",
        direction=LOWER,
        window="5m",
        warn=1000.0,
        critical=2000.0,
        for_windows=3,
        params={"exact_limit": 100000},
        owner=SRE,
        playbook=_latency_playbook(
            "The slowest 1% of requests: timeouts, cold starts, garbage-collection pauses and "
            "retries show up here first.",
            "latency_p99_ms",
        ),
    ),
    _m(
        "error_rate",
        name="Error rate",
        description="Events with `error = true` divided by all events of the window.",
        pillar=RELIABILITY,
        data_source="window_profiles",
        unit="ratio",
        direction=LOWER,
        window="5m",
        warn=0.01,
        critical=0.05,
        for_windows=2,
        owner=SRE,
        playbook="""
More than 1% (warn) or 5% (critical) of predictions failed.

**Check, in order**
1. Which errors? Open the raw sample events of the window and group them by error message
   or status; one dominant error is one cause.
2. Since when? Look for a deploy marker at the start of the rise: a new model version or
   configuration is the usual cause (missing feature, changed schema, bad artifact).
3. Inputs: check `ingest_rejection_rate` and `null_rate`; malformed inputs often surface as
   prediction errors.
4. Dependencies: feature store, database or external API errors and timeouts (latency rises
   at the same time).
5. Scope: one environment / region or all of them?

**Then**
- Bad release: roll back to the previous model version and keep the incident open until the
  rate stays below warn for a full window.
- Dependency down: page its owner, switch to the fallback path if there is one.
- Bad inputs from one client: contact the client's owner; the records are in quarantine.
""",
    ),
    _m(
        "throughput_per_min",
        name="Throughput",
        description="Events per minute over the window. Context only: normal volume differs per system.",
        pillar=RELIABILITY,
        data_source="window_profiles",
        unit="events/min",
        direction=HIGHER,
        window="5m",
        warn=None,
        critical=None,
        min_samples=0,
        owner=SRE,
        playbook="""
Context only by default — add a system or environment override when the normal volume is known.

**Use it to**
1. Explain other signals: a drop often explains drift and missing labels; a spike explains
   latency and errors.
2. Check a sudden drop first against the client side (is the model still being called, did
   a client lose its token — see rejected requests), then against `data_freshness_s`.
3. For a known-steady system, set an override (e.g. warn below 50% of the usual volume) so a
   silent outage alerts.
""",
    ),
    _m(
        "availability",
        name="Availability",
        description=(
            "Share of the window's 1-minute buckets whose success rate (1 − error rate) meets the "
            "SLO in params (default 0.99). Buckets without traffic count neither way."
        ),
        pillar=RELIABILITY,
        data_source="window_profiles",
        unit="ratio",
        direction=HIGHER,
        window="1h",
        warn=0.99,
        critical=0.95,
        params={"slo": 0.99},
        owner=SRE,
        playbook="""
Too many minutes of this hour missed the success-rate SLO.

**Check, in order**
1. Look at `error_rate` per 5-minute window to find when the bad minutes happened.
2. Short burst or continuous? A burst around a deploy marker points at the release; a
   continuous shortfall at a dependency or capacity.
3. Which errors: open the sample raw events of the bad minutes.
4. Check `latency_p99_ms`: timeouts count as errors.
5. Compare environments and regions to see whether the fault is local.

**Then**
- Follow the `error_rate` playbook for the cause.
- Tell the system owner about the SLO impact; record the minutes lost in the post-mortem.
- If the SLO in params is wrong for this system, change it through a new catalog version
  with a reason, not by silencing.
""",
    ),
    _m(
        "data_freshness_s",
        name="Data freshness",
        description="Evaluation time minus the newest event timestamp of the deployment, in seconds.",
        pillar=RELIABILITY,
        data_source="raw_events",
        unit="s",
        direction=LOWER,
        window="5m",
        warn=900.0,
        critical=3600.0,
        for_windows=2,
        min_samples=1,
        owner=ML_PLATFORM,
        playbook="""
No new telemetry has arrived for this deployment for 15 minutes (warn) or an hour (critical).

**Check, in order**
1. Is the model still serving? Ask the owning team or check the serving platform; a retired
   deployment should be marked retired.
2. Is ingestion healthy? Look at the platform page: rejections by reason (401 = revoked or
   wrong token, 413 = batches too large, 429 = throttled) and worker queue depth.
3. Are events arriving with wrong timestamps (clock skew, time zone) and so landing in other
   windows? Check recent raw events.
4. Is the client's exporter running (its logs, its retry queue)?

**Then**
- Token or payload problem: fix the client configuration; quarantined records can be replayed.
- Ingestion backlog: scale the ingest workers; nothing is lost, windows recompute when late
  events arrive.
- Retired deployment: set its status to retired so it stops alerting.
""",
    ),
    _m(
        "label_freshness_s",
        name="Label freshness",
        description="Evaluation time minus the newest label received for the deployment, in seconds.",
        pillar=RELIABILITY,
        data_source="labels",
        unit="s",
        direction=LOWER,
        window="1h",
        warn=172800.0,
        critical=604800.0,
        min_samples=1,
        owner=DATA_SCIENCE,
        playbook="""
No labels for 2 days (warn) or 7 days (critical): quality and fairness metrics are going blind.

**Check, in order**
1. Is a label delay expected for this use case (e.g. 30-day default outcomes)? If so, set a
   system override with the real delay instead of living with the alert.
2. Is the label job running? Check the client's label exporter and
   `POST /api/v1/ingest/labels` rejections (unknown `event_id`s are the usual cause).
3. Are labels matched to events? Labels for events outside retention are rejected.

**Then**
- Restart or fix the label feed; quality windows recompute as labels arrive.
- Tell the data steward that quality and fairness values for the gap are incomplete.
""",
    ),
    _m(
        "ingest_rejection_rate",
        name="Ingest rejection rate",
        description="Rejected records / (accepted + rejected) for the system in the window.",
        pillar=DATA_QUALITY,
        data_source="ingestion",
        unit="ratio",
        direction=LOWER,
        window="1h",
        warn=0.01,
        critical=0.05,
        owner=ML_PLATFORM,
        playbook="""
A share of the telemetry sent for this system is being rejected and kept in quarantine.

**Check, in order**
1. Rejections by reason on the platform page: unknown model, wrong types, NaN/Infinity,
   missing fields, timestamps far in the future.
2. Which client and since when? A client release usually starts it.
3. Schema: did the model's feature list change without a config change (new or renamed
   features)?

**Then**
- Client bug: hand the reasons and sample records to the client's owner.
- Declared schema out of date: update the system config (`apply_config`) with the new
  features; quarantined records can be replayed after the fix.
""",
    ),
    _m(
        "null_rate",
        name="Null rate",
        description="Null or missing values of a feature divided by the window's events.",
        pillar=DATA_QUALITY,
        data_source="window_profiles",
        unit="ratio",
        direction=LOWER,
        window="1h",
        warn=0.05,
        critical=0.2,
        for_windows=2,
        owner=ML_PLATFORM,
        playbook="""
This feature is missing more often than usual.

**Check, in order**
1. One feature or several? Several features from the same source means that source (a
   join, a feature-store table, a partner feed) is failing.
2. One cohort? A feature missing only for one region or channel points at that pipeline.
3. Compare with the reference's null share: a feature that was always sparse needs a
   feature-level override, not an incident.
4. Check the model's behaviour: how does it impute the missing value? Look at
   `prediction_drift_psi` and quality for the same windows.

**Then**
- Fix the upstream source; backfill if the model's decisions must be re-scored.
- If missing values are now expected, update the reference and set an override with a reason.
""",
    ),
    # --- 3.3 quality -------------------------------------------------------------------------
    _m(
        "accuracy",
        name="Accuracy",
        description="Share of labelled predictions equal to the label (binary classification).",
        pillar=PERFORMANCE,
        data_source="labels",
        unit="ratio",
        direction=HIGHER,
        window="1d",
        warn=0.8,
        critical=0.7,
        owner=DATA_SCIENCE,
        playbook=_quality_playbook(
            "Accuracy fell below the threshold. Defaults are generic: set a system override "
            "from the model's validation results."
        ),
    ),
    _m(
        "precision",
        name="Precision",
        description="True positives / predicted positives over labelled events.",
        pillar=PERFORMANCE,
        data_source="labels",
        unit="ratio",
        direction=HIGHER,
        window="1d",
        warn=0.7,
        critical=0.5,
        owner=DATA_SCIENCE,
        playbook=_quality_playbook(
            "More of the positive predictions are wrong (more false alarms). Check whether the "
            "score threshold or the positive rate changed."
        ),
    ),
    _m(
        "recall",
        name="Recall",
        description="True positives / actual positives over labelled events.",
        pillar=PERFORMANCE,
        data_source="labels",
        unit="ratio",
        direction=HIGHER,
        window="1d",
        warn=0.7,
        critical=0.5,
        owner=DATA_SCIENCE,
        playbook=_quality_playbook(
            "The model misses more of the real positives. Check whether the positive class got "
            "rarer or changed character (new fraud pattern, new population)."
        ),
    ),
    _m(
        "f1",
        name="F1 score",
        description="Harmonic mean of precision and recall over labelled events.",
        pillar=PERFORMANCE,
        data_source="labels",
        unit="ratio",
        direction=HIGHER,
        window="1d",
        warn=0.7,
        critical=0.5,
        owner=DATA_SCIENCE,
        playbook=_quality_playbook(
            "Precision, recall or both dropped; look at both to see which side moved."
        ),
    ),
    _m(
        "roc_auc",
        name="ROC AUC",
        description="Area under the ROC curve of `score` against labels (needs scores).",
        pillar=PERFORMANCE,
        data_source="labels+raw_events",
        unit="ratio",
        direction=HIGHER,
        window="1d",
        warn=0.75,
        critical=0.65,
        owner=DATA_SCIENCE,
        playbook=_quality_playbook(
            "The model ranks positives above negatives less well — independent of the decision "
            "threshold, so this is a real loss of signal, not a threshold problem."
        ),
    ),
    _m(
        "mae",
        name="Mean absolute error",
        description="Mean of |prediction − label| (regression). Context only: scale depends on the target.",
        pillar=PERFORMANCE,
        data_source="labels",
        direction=LOWER,
        window="1d",
        warn=None,
        critical=None,
        owner=DATA_SCIENCE,
        playbook=_quality_playbook(
            "Context only by default (alerts come from `accuracy_delta_vs_baseline`); set a "
            "system override in the target's units to alert on it directly."
        ),
    ),
    _m(
        "rmse",
        name="Root mean squared error",
        description="Square root of the mean squared error (regression). Context only: scale depends on the target.",
        pillar=PERFORMANCE,
        data_source="labels",
        direction=LOWER,
        window="1d",
        warn=None,
        critical=None,
        owner=DATA_SCIENCE,
        playbook=_quality_playbook(
            "Context only by default (alerts come from `accuracy_delta_vs_baseline`); RMSE "
            "weighs large errors more than MAE, so RMSE up with MAE flat means a few large misses."
        ),
    ),
    _m(
        "accuracy_delta_vs_baseline",
        name="Quality vs baseline",
        description=(
            "Window value minus the reference's value of the model's primary quality metric "
            "(accuracy, or rmse for regression), signed so that negative is worse."
        ),
        pillar=PERFORMANCE,
        data_source="labels+reference",
        direction=HIGHER,
        window="1d",
        warn=-0.02,
        critical=-0.05,
        owner=DATA_SCIENCE,
        playbook=_quality_playbook(
            "The model does worse than on its reference data by more than 2 (warn) or 5 "
            "(critical) points of its primary metric."
        ),
    ),
    _m(
        "calibration_error",
        name="Calibration error (ECE)",
        description="Expected calibration error with 10 equal-width score bins.",
        pillar=PERFORMANCE,
        data_source="labels",
        direction=LOWER,
        window="1d",
        warn=0.05,
        critical=0.1,
        params={"bins": 10},
        owner=DATA_SCIENCE,
        playbook=_quality_playbook(
            "Scores no longer match observed frequencies: decisions that use the score as a "
            "probability (pricing, limits, triage) are off even if ranking still works. "
            "Recalibration (isotonic or Platt on recent labels) is often enough."
        ),
    ),
    # --- 3.4 fairness ------------------------------------------------------------------------
    _m(
        "demographic_parity_difference",
        name="Demographic parity difference",
        description="Max − min selection rate (share of positive predictions) across the attribute's groups.",
        pillar=FAIRNESS,
        data_source="window_profiles+cohorts",
        direction=LOWER,
        window="1d",
        warn=0.1,
        critical=0.2,
        min_samples=30,
        sensitive=True,
        params=_FAIRNESS_PARAMS,
        owner=RESPONSIBLE_AI,
        playbook=_fairness_playbook(
            "Groups receive positive decisions at rates more than 10 (warn) or 20 (critical) points apart."
        ),
    ),
    _m(
        "disparate_impact_ratio",
        name="Disparate impact ratio",
        description="Min / max selection rate across groups; the four-fifths rule flags values below 0.8.",
        pillar=FAIRNESS,
        data_source="window_profiles+cohorts",
        direction=HIGHER,
        window="1d",
        warn=0.8,
        critical=0.7,
        min_samples=30,
        sensitive=True,
        params=_FAIRNESS_PARAMS,
        owner=RESPONSIBLE_AI,
        playbook=_fairness_playbook(
            "The least-selected group is selected at less than four fifths (warn) or 70% "
            "(critical) of the rate of the most-selected group."
        ),
    ),
    _m(
        "equal_opportunity_difference",
        name="Equal opportunity difference",
        description="Max − min true-positive rate across groups.",
        pillar=FAIRNESS,
        data_source="labels+cohorts",
        direction=LOWER,
        window="1d",
        warn=0.1,
        critical=0.2,
        min_samples=30,
        sensitive=True,
        params=_FAIRNESS_RATE_PARAMS,
        owner=RESPONSIBLE_AI,
        playbook=_fairness_playbook(
            "Qualified members of some groups are recognised less often than others (true-positive "
            "rates differ)."
        ),
    ),
    _m(
        "equalized_odds_difference",
        name="Equalized odds difference",
        description="The larger of (max − min TPR) and (max − min FPR) across groups, as fairlearn.",
        pillar=FAIRNESS,
        data_source="labels+cohorts",
        direction=LOWER,
        window="1d",
        warn=0.1,
        critical=0.2,
        min_samples=30,
        sensitive=True,
        params=_FAIRNESS_RATE_PARAMS,
        owner=RESPONSIBLE_AI,
        playbook=_fairness_playbook(
            "Error rates differ between groups: either true-positive or false-positive rates "
            "(see the breakdown for which)."
        ),
    ),
    _m(
        "group_accuracy_gap",
        name="Group accuracy gap",
        description="Max − min accuracy across groups.",
        pillar=FAIRNESS,
        data_source="labels+cohorts",
        direction=LOWER,
        window="1d",
        warn=0.05,
        critical=0.1,
        min_samples=30,
        sensitive=True,
        params=_FAIRNESS_PARAMS,
        owner=RESPONSIBLE_AI,
        playbook=_fairness_playbook("The model is noticeably less accurate for some groups than for others."),
    ),
    # --- 3.5 reliability ---------------------------------------------------------------------
    _m(
        "mttd_s",
        name="Mean time to detect",
        description=(
            "Mean time from the end of the first breaching window to the alert firing, over the "
            "trailing 30 days, in seconds."
        ),
        pillar=RELIABILITY,
        data_source="alerts",
        unit="s",
        direction=LOWER,
        window="1d",
        warn=900.0,
        critical=3600.0,
        min_samples=1,
        params={"trailing_days": 30},
        owner=SRE,
        playbook="""
Alerts fire long after the problem started.

**Check, in order**
1. Persistence: which rules have a high `for` (consecutive windows)? A `for` of 3 on 1-hour
   windows means at least 3 hours to detect.
2. Computation lag: worker queue depth and task durations on the platform page; windows
   are evaluated only once computed.
3. Late data: events arriving after `allowed_lateness` recompute windows and fire late.

**Then**
- Lower `for` or use shorter windows for the slow rules (a new catalog version with a reason).
- Scale the compute workers if they lag.
""",
    ),
    _m(
        "mttr_s",
        name="Mean time to resolve",
        description="Mean time from firing to resolved over the trailing 30 days, in seconds.",
        pillar=RELIABILITY,
        data_source="alerts",
        unit="s",
        direction=LOWER,
        window="1d",
        warn=14400.0,
        critical=86400.0,
        min_samples=1,
        params={"trailing_days": 30},
        owner=SRE,
        playbook="""
Alerts stay open for more than 4 hours (warn) or a day (critical) on average.

**Check, in order**
1. Which alerts dominate? Sort resolved alerts by duration; a few long ones skew the mean.
2. Were they acknowledged quickly? Slow acknowledgement points at routing (escalation
   policy, on-call schedule), not at fixing.
3. Do playbooks help? Long resolutions on one metric mean its playbook needs work.
4. Are some alerts noise (resolve only by themselves)? Those need better thresholds.

**Then**
- Fix escalation routes; improve the playbooks of the slow metrics.
- Tune thresholds that fire without action needed (new catalog version, with the backtest).
""",
    ),
    _m(
        "open_critical_alerts",
        name="Open critical alerts",
        description="Number of critical alerts currently firing for the deployment.",
        pillar=RELIABILITY,
        data_source="alerts",
        direction=LOWER,
        window="5m",
        warn=1.0,
        critical=3.0,
        min_samples=0,
        owner=SRE,
        playbook="""
Critical alerts are open for this deployment.

**Check, in order**
1. Open the alert queue filtered on the deployment; start with the oldest unacknowledged one.
2. Are they one incident? Alerts grouped into one incident usually share a cause.
3. Follow the playbook of each alert's metric.

**Then**
- Acknowledge what is being worked on, silence only with a reason and an end time, and
  resolve when the metric is healthy again.
""",
    ),
)

METRIC_KEYS: tuple[str, ...] = tuple(m["key"] for m in METRICS)

WEIGHT_PROFILES: tuple[dict, ...] = (
    {
        "name": "balanced",
        "description": "Every pillar counts the same. The default for systems without special needs.",
        "pillar_weights": {PERFORMANCE: 0.25, FAIRNESS: 0.25, RELIABILITY: 0.25, DATA_QUALITY: 0.25},
        "metric_weights": {
            "accuracy_delta_vs_baseline": 2.0,
            "latency_p95_ms": 2.0,
            "error_rate": 2.0,
            "availability": 2.0,
            "feature_drift_psi": 1.5,
            "prediction_drift_psi": 1.5,
        },
    },
    {
        "name": "high-stakes",
        "description": (
            "Fairness-heavy, for clinical, credit and other decisions about people: fairness and "
            "model quality dominate; service metrics matter less."
        ),
        "pillar_weights": {PERFORMANCE: 0.3, FAIRNESS: 0.4, RELIABILITY: 0.1, DATA_QUALITY: 0.2},
        "metric_weights": {
            "disparate_impact_ratio": 3.0,
            "equalized_odds_difference": 2.0,
            "equal_opportunity_difference": 2.0,
            "accuracy_delta_vs_baseline": 2.0,
            "calibration_error": 2.0,
            "prediction_drift_psi": 1.5,
            "latency_p50_ms": 0.5,
            "latency_p95_ms": 0.5,
            "latency_p99_ms": 0.5,
        },
    },
    {
        "name": "low-latency",
        "description": (
            "Performance-heavy, for real-time systems (ranking, bidding, fraud at checkout): "
            "latency percentiles and availability dominate."
        ),
        "pillar_weights": {PERFORMANCE: 0.45, FAIRNESS: 0.1, RELIABILITY: 0.3, DATA_QUALITY: 0.15},
        "metric_weights": {
            "latency_p99_ms": 3.0,
            "latency_p95_ms": 3.0,
            "latency_p50_ms": 1.5,
            "error_rate": 2.0,
            "availability": 2.0,
            "accuracy": 0.5,
            "precision": 0.5,
            "recall": 0.5,
            "f1": 0.5,
        },
    },
)


def metric(key: str) -> dict:
    for item in METRICS:
        if item["key"] == key:
            return item
    raise KeyError(key)


def frozen_source() -> str:
    """The Python source of a frozen copy of this catalog, for a data migration."""
    return (
        '"""Frozen copy of catalog.default_catalog for migration 0004 (generated; never edit).\n\n'
        "Migrations must not change when catalog/default_catalog.py changes later.\n"
        '"""\n\n'
        f"REASON = {DEFAULT_REASON!r}\n\n"
        f"METRICS = {pprint.pformat(list(METRICS), width=100, sort_dicts=False)}\n\n"
        f"WEIGHT_PROFILES = {pprint.pformat(list(WEIGHT_PROFILES), width=100, sort_dicts=False)}\n"
    )
