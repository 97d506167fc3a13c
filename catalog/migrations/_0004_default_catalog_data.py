"""Frozen copy of catalog.default_catalog for migration 0004 (generated; never edit).

Migrations must not change when catalog/default_catalog.py changes later.
"""

REASON = "Default catalog shipped with Healthboard (DESIGN.md §3)."

METRICS = [
    {
        "key": "feature_drift_psi",
        "name": "Feature drift (PSI)",
        "description": "Population Stability Index of a feature against the reference. Numeric features "
        "use the reference's decile edges (outer bins open), categorical the union of "
        "categories; zero shares are replaced by 0.0001. PSI = Σ (c − r) · ln(c / r).",
        "pillar": "data_quality",
        "calculator": "feature_drift_psi",
        "params": {"numeric_bins": "reference_deciles", "zero_share": 0.0001},
        "data_source": "window_profiles+reference",
        "unit": "",
        "direction": "lower_is_better",
        "window": "1h",
        "min_samples": 100,
        "warn_threshold": 0.1,
        "critical_threshold": 0.25,
        "for_windows": 2,
        "sensitive": False,
        "playbook": "The distribution of this feature has moved away from the reference (PSI ≥ 0.1 is a "
        "moderate shift, ≥ 0.25 a major one).\n"
        "\n"
        "**Check, in order**\n"
        "1. Is it real traffic? Compare `throughput_per_min` and `null_rate` for the same "
        "window: a\n"
        "   drop in volume, a burst of nulls or one client sending test data shifts "
        "distributions\n"
        "   without any change in the world.\n"
        "2. Is it one feature or many? Open the drift heatmap (feature × window). Many "
        "features at\n"
        "   once usually means an upstream change (a new data source, a schema or unit "
        "change, a\n"
        "   broken join); one feature usually means that feature's pipeline.\n"
        "3. Is it one cohort? Switch the heatmap to feature × cohort. Drift confined to one "
        "region,\n"
        "   channel or segment points at that population (new market, campaign, partner).\n"
        "4. Compare the distributions (click the cell): a shifted mean, a new category, a "
        "spike at a\n"
        '   default value (0, -1, "unknown") or a changed scale (cents vs euros) each have '
        "a\n"
        "   different cause.\n"
        "5. Check the reference: is it still representative (old model version, seasonal "
        "reference,\n"
        "   too few rows — see `details.reference_note`)?\n"
        "\n"
        "**Then**\n"
        "- Data or pipeline bug: fix it upstream, annotate the window, and quarantine or "
        "backfill.\n"
        "- Real change in the population: check `accuracy_delta_vs_baseline` and the "
        "fairness\n"
        "  metrics once labels arrive; if quality holds, refresh the reference from recent "
        "traffic\n"
        "  (`POST /api/v1/deployments/{id}/reference`) with a reason.\n"
        "- Quality drops as well: open an incident, hand over to the model owner for "
        "retraining, and\n"
        "  consider rolling back to the previous model version (readiness gate).\n",
        "owner": "ml-platform",
    },
    {
        "key": "feature_drift_js",
        "name": "Feature drift (Jensen–Shannon distance)",
        "description": "Jensen–Shannon distance (natural log) between the reference and window shares "
        "over the same bins as PSI, without zero replacement. Bounded in [0, √ln 2].",
        "pillar": "data_quality",
        "calculator": "feature_drift_js",
        "params": {"numeric_bins": "reference_deciles", "base": "e"},
        "data_source": "window_profiles+reference",
        "unit": "",
        "direction": "lower_is_better",
        "window": "1h",
        "min_samples": 100,
        "warn_threshold": 0.1,
        "critical_threshold": 0.2,
        "for_windows": 2,
        "sensitive": False,
        "playbook": "The feature's binned distribution differs from the reference (a symmetric, bounded "
        "measure; less sensitive to rare bins than PSI).\n"
        "\n"
        "**Check, in order**\n"
        "1. Is it real traffic? Compare `throughput_per_min` and `null_rate` for the same "
        "window: a\n"
        "   drop in volume, a burst of nulls or one client sending test data shifts "
        "distributions\n"
        "   without any change in the world.\n"
        "2. Is it one feature or many? Open the drift heatmap (feature × window). Many "
        "features at\n"
        "   once usually means an upstream change (a new data source, a schema or unit "
        "change, a\n"
        "   broken join); one feature usually means that feature's pipeline.\n"
        "3. Is it one cohort? Switch the heatmap to feature × cohort. Drift confined to one "
        "region,\n"
        "   channel or segment points at that population (new market, campaign, partner).\n"
        "4. Compare the distributions (click the cell): a shifted mean, a new category, a "
        "spike at a\n"
        '   default value (0, -1, "unknown") or a changed scale (cents vs euros) each have '
        "a\n"
        "   different cause.\n"
        "5. Check the reference: is it still representative (old model version, seasonal "
        "reference,\n"
        "   too few rows — see `details.reference_note`)?\n"
        "\n"
        "**Then**\n"
        "- Data or pipeline bug: fix it upstream, annotate the window, and quarantine or "
        "backfill.\n"
        "- Real change in the population: check `accuracy_delta_vs_baseline` and the "
        "fairness\n"
        "  metrics once labels arrive; if quality holds, refresh the reference from recent "
        "traffic\n"
        "  (`POST /api/v1/deployments/{id}/reference`) with a reason.\n"
        "- Quality drops as well: open an incident, hand over to the model owner for "
        "retraining, and\n"
        "  consider rolling back to the previous model version (readiness gate).\n",
        "owner": "ml-platform",
    },
    {
        "key": "feature_drift_wasserstein",
        "name": "Feature drift (normed Wasserstein)",
        "description": "Earth mover's distance between raw reference and window values divided by "
        "max(std(reference), 0.001): the shift in units of the reference's standard "
        "deviation. The raw distance is in `details`. Numeric features only.",
        "pillar": "data_quality",
        "calculator": "feature_drift_wasserstein",
        "params": {"normed": True, "min_std": 0.001},
        "data_source": "raw_events+reference",
        "unit": "",
        "direction": "lower_is_better",
        "window": "1h",
        "min_samples": 100,
        "warn_threshold": 0.1,
        "critical_threshold": 0.2,
        "for_windows": 2,
        "sensitive": False,
        "playbook": "The feature's values have moved by this many reference standard deviations (0.1 = a "
        "tenth of a standard deviation).\n"
        "\n"
        "**Check, in order**\n"
        "1. Is it real traffic? Compare `throughput_per_min` and `null_rate` for the same "
        "window: a\n"
        "   drop in volume, a burst of nulls or one client sending test data shifts "
        "distributions\n"
        "   without any change in the world.\n"
        "2. Is it one feature or many? Open the drift heatmap (feature × window). Many "
        "features at\n"
        "   once usually means an upstream change (a new data source, a schema or unit "
        "change, a\n"
        "   broken join); one feature usually means that feature's pipeline.\n"
        "3. Is it one cohort? Switch the heatmap to feature × cohort. Drift confined to one "
        "region,\n"
        "   channel or segment points at that population (new market, campaign, partner).\n"
        "4. Compare the distributions (click the cell): a shifted mean, a new category, a "
        "spike at a\n"
        '   default value (0, -1, "unknown") or a changed scale (cents vs euros) each have '
        "a\n"
        "   different cause.\n"
        "5. Check the reference: is it still representative (old model version, seasonal "
        "reference,\n"
        "   too few rows — see `details.reference_note`)?\n"
        "\n"
        "**Then**\n"
        "- Data or pipeline bug: fix it upstream, annotate the window, and quarantine or "
        "backfill.\n"
        "- Real change in the population: check `accuracy_delta_vs_baseline` and the "
        "fairness\n"
        "  metrics once labels arrive; if quality holds, refresh the reference from recent "
        "traffic\n"
        "  (`POST /api/v1/deployments/{id}/reference`) with a reason.\n"
        "- Quality drops as well: open an incident, hand over to the model owner for "
        "retraining, and\n"
        "  consider rolling back to the previous model version (readiness gate).\n",
        "owner": "ml-platform",
    },
    {
        "key": "feature_drift_ks",
        "name": "Feature drift (KS statistic, context)",
        "description": "Two-sample Kolmogorov–Smirnov statistic between reference and window values; the "
        "p-value is in `details`. Context only: on large windows every p-value is tiny, "
        "so effect sizes (PSI, JS, Wasserstein) drive alerts.",
        "pillar": "data_quality",
        "calculator": "feature_drift_ks",
        "params": {},
        "data_source": "raw_events+reference",
        "unit": "",
        "direction": "lower_is_better",
        "window": "1h",
        "min_samples": 100,
        "warn_threshold": None,
        "critical_threshold": None,
        "for_windows": 1,
        "sensitive": False,
        "playbook": "Context only — this metric never alerts.\n"
        "\n"
        "**Use it to**\n"
        "1. Confirm a PSI / Wasserstein alert on the same feature: a large KS statistic (> "
        "0.1) says the shapes differ, not only the tails.\n"
        "2. Read the p-value with its Benjamini–Hochberg q-value when many features are "
        "shown; ignore significance on windows with thousands of events.\n"
        "3. If KS is large but PSI small, look for a shift concentrated inside one decile "
        "bin (the bins hide it); consider a finer binning in the PSI params.\n",
        "owner": "ml-platform",
    },
    {
        "key": "feature_drift_chi2_p",
        "name": "Feature drift (chi-square p-value, context)",
        "description": "p-value of the chi-square test of homogeneity on the 2 × k table of reference "
        "and window category counts. Categorical features only. Context only.",
        "pillar": "data_quality",
        "calculator": "feature_drift_chi2_p",
        "params": {},
        "data_source": "window_profiles+reference",
        "unit": "",
        "direction": "higher_is_better",
        "window": "1h",
        "min_samples": 100,
        "warn_threshold": None,
        "critical_threshold": None,
        "for_windows": 1,
        "sensitive": False,
        "playbook": "Context only — this metric never alerts.\n"
        "\n"
        "**Use it to**\n"
        "1. Check whether a categorical PSI / JS alert is more than noise on small windows "
        "(a p-value above 0.05 on a few hundred events means the difference may be chance).\n"
        "2. Look at the categories in the distribution view: a new category or one that "
        "disappeared explains most low p-values.\n"
        "3. Read q-values (Benjamini–Hochberg) rather than raw p-values across many "
        "features.\n",
        "owner": "ml-platform",
    },
    {
        "key": "prediction_drift_psi",
        "name": "Prediction drift (PSI)",
        "description": "PSI of the model output against the reference: on `score` when clients send it, "
        "else on `prediction`. An early signal of quality change before labels arrive.",
        "pillar": "data_quality",
        "calculator": "prediction_drift_psi",
        "params": {"target": "score", "fallback": "prediction", "zero_share": 0.0001},
        "data_source": "window_profiles+reference",
        "unit": "",
        "direction": "lower_is_better",
        "window": "1h",
        "min_samples": 100,
        "warn_threshold": 0.1,
        "critical_threshold": 0.25,
        "for_windows": 2,
        "sensitive": False,
        "playbook": "The model's outputs are distributed differently from the reference: either the "
        "inputs drifted or the model (or its post-processing) changed. Look at the features "
        "with the highest drift first, and at deploy markers.\n"
        "\n"
        "**Check, in order**\n"
        "1. Is it real traffic? Compare `throughput_per_min` and `null_rate` for the same "
        "window: a\n"
        "   drop in volume, a burst of nulls or one client sending test data shifts "
        "distributions\n"
        "   without any change in the world.\n"
        "2. Is it one feature or many? Open the drift heatmap (feature × window). Many "
        "features at\n"
        "   once usually means an upstream change (a new data source, a schema or unit "
        "change, a\n"
        "   broken join); one feature usually means that feature's pipeline.\n"
        "3. Is it one cohort? Switch the heatmap to feature × cohort. Drift confined to one "
        "region,\n"
        "   channel or segment points at that population (new market, campaign, partner).\n"
        "4. Compare the distributions (click the cell): a shifted mean, a new category, a "
        "spike at a\n"
        '   default value (0, -1, "unknown") or a changed scale (cents vs euros) each have '
        "a\n"
        "   different cause.\n"
        "5. Check the reference: is it still representative (old model version, seasonal "
        "reference,\n"
        "   too few rows — see `details.reference_note`)?\n"
        "\n"
        "**Then**\n"
        "- Data or pipeline bug: fix it upstream, annotate the window, and quarantine or "
        "backfill.\n"
        "- Real change in the population: check `accuracy_delta_vs_baseline` and the "
        "fairness\n"
        "  metrics once labels arrive; if quality holds, refresh the reference from recent "
        "traffic\n"
        "  (`POST /api/v1/deployments/{id}/reference`) with a reason.\n"
        "- Quality drops as well: open an incident, hand over to the model owner for "
        "retraining, and\n"
        "  consider rolling back to the previous model version (readiness gate).\n",
        "owner": "ml-platform",
    },
    {
        "key": "latency_p50_ms",
        "name": "Latency p50",
        "description": "Median of `latency_ms` over the window's events (numpy.percentile, linear).",
        "pillar": "performance",
        "calculator": "latency_p50_ms",
        "params": {"exact_limit": 100000},
        "data_source": "raw_events",
        "unit": "ms",
        "direction": "lower_is_better",
        "window": "5m",
        "min_samples": 100,
        "warn_threshold": 200.0,
        "critical_threshold": 500.0,
        "for_windows": 3,
        "sensitive": False,
        "playbook": "The typical request is slow: this usually means the model itself or a dependency "
        "every request uses got slower.\n"
        "\n"
        "**Check, in order**\n"
        "1. Is the whole deployment slow or one segment? Compare the percentile across "
        "segments and\n"
        "   with `latency_p50_ms`: p50 stable with a high tail means queuing, cold starts or "
        "a slow\n"
        "   dependency; everything up together means capacity or a slower model.\n"
        "2. Did something change? Look for deploy and threshold-change markers on the chart; "
        "a new\n"
        "   model version or configuration is the most common cause.\n"
        "3. Traffic: compare `throughput_per_min` with the usual level for this hour. A "
        "spike points\n"
        "   at capacity (scale out), a drop with high latency at a failing dependency.\n"
        "4. Errors: a rising `error_rate` together with latency usually means timeouts "
        "downstream\n"
        "   (feature store, database, external API).\n"
        "5. Infrastructure: CPU/memory saturation, garbage collection, node or zone problems "
        "in the\n"
        "   serving platform's own dashboards.\n"
        "\n"
        "**Then**\n"
        "- Capacity: scale out the serving replicas or raise concurrency limits.\n"
        "- Bad release: roll back the model or service version; keep the incident open "
        "until\n"
        "  latency_p50_ms is below the warn threshold for a full window.\n"
        "- Slow dependency: page its owner, enable caching or the fallback path if one "
        "exists.\n"
        "- Record the cause in the incident's post-mortem (category: deployment or "
        "infrastructure).\n",
        "owner": "sre",
    },
    {
        "key": "latency_p95_ms",
        "name": "Latency p95",
        "description": "95th percentile of `latency_ms` over the window's events (numpy.percentile, "
        "linear); exact under 100,000 events, a ≤ 1% error sketch above.",
        "pillar": "performance",
        "calculator": "latency_p95_ms",
        "params": {"exact_limit": 100000},
        "data_source": "raw_events",
        "unit": "ms",
        "direction": "lower_is_better",
        "window": "5m",
        "min_samples": 100,
        "warn_threshold": 500.0,
        "critical_threshold": 1000.0,
        "for_windows": 3,
        "sensitive": False,
        "playbook": "One request in twenty is slower than this: users notice. Tail latency grows first "
        "with queuing, retries and slow dependencies.\n"
        "\n"
        "**Check, in order**\n"
        "1. Is the whole deployment slow or one segment? Compare the percentile across "
        "segments and\n"
        "   with `latency_p50_ms`: p50 stable with a high tail means queuing, cold starts or "
        "a slow\n"
        "   dependency; everything up together means capacity or a slower model.\n"
        "2. Did something change? Look for deploy and threshold-change markers on the chart; "
        "a new\n"
        "   model version or configuration is the most common cause.\n"
        "3. Traffic: compare `throughput_per_min` with the usual level for this hour. A "
        "spike points\n"
        "   at capacity (scale out), a drop with high latency at a failing dependency.\n"
        "4. Errors: a rising `error_rate` together with latency usually means timeouts "
        "downstream\n"
        "   (feature store, database, external API).\n"
        "5. Infrastructure: CPU/memory saturation, garbage collection, node or zone problems "
        "in the\n"
        "   serving platform's own dashboards.\n"
        "\n"
        "**Then**\n"
        "- Capacity: scale out the serving replicas or raise concurrency limits.\n"
        "- Bad release: roll back the model or service version; keep the incident open "
        "until\n"
        "  latency_p95_ms is below the warn threshold for a full window.\n"
        "- Slow dependency: page its owner, enable caching or the fallback path if one "
        "exists.\n"
        "- Record the cause in the incident's post-mortem (category: deployment or "
        "infrastructure).\n",
        "owner": "sre",
    },
    {
        "key": "latency_p99_ms",
        "name": "Latency p99",
        "description": "99th percentile of `latency_ms` over the window's events (numpy.percentile, linear).",
        "pillar": "performance",
        "calculator": "latency_p99_ms",
        "params": {"exact_limit": 100000},
        "data_source": "raw_events",
        "unit": "ms",
        "direction": "lower_is_better",
        "window": "5m",
        "min_samples": 100,
        "warn_threshold": 1000.0,
        "critical_threshold": 2000.0,
        "for_windows": 3,
        "sensitive": False,
        "playbook": "The slowest 1% of requests: timeouts, cold starts, garbage-collection pauses and "
        "retries show up here first.\n"
        "\n"
        "**Check, in order**\n"
        "1. Is the whole deployment slow or one segment? Compare the percentile across "
        "segments and\n"
        "   with `latency_p50_ms`: p50 stable with a high tail means queuing, cold starts or "
        "a slow\n"
        "   dependency; everything up together means capacity or a slower model.\n"
        "2. Did something change? Look for deploy and threshold-change markers on the chart; "
        "a new\n"
        "   model version or configuration is the most common cause.\n"
        "3. Traffic: compare `throughput_per_min` with the usual level for this hour. A "
        "spike points\n"
        "   at capacity (scale out), a drop with high latency at a failing dependency.\n"
        "4. Errors: a rising `error_rate` together with latency usually means timeouts "
        "downstream\n"
        "   (feature store, database, external API).\n"
        "5. Infrastructure: CPU/memory saturation, garbage collection, node or zone problems "
        "in the\n"
        "   serving platform's own dashboards.\n"
        "\n"
        "**Then**\n"
        "- Capacity: scale out the serving replicas or raise concurrency limits.\n"
        "- Bad release: roll back the model or service version; keep the incident open "
        "until\n"
        "  latency_p99_ms is below the warn threshold for a full window.\n"
        "- Slow dependency: page its owner, enable caching or the fallback path if one "
        "exists.\n"
        "- Record the cause in the incident's post-mortem (category: deployment or "
        "infrastructure).\n",
        "owner": "sre",
    },
    {
        "key": "error_rate",
        "name": "Error rate",
        "description": "Events with `error = true` divided by all events of the window.",
        "pillar": "reliability",
        "calculator": "error_rate",
        "params": {},
        "data_source": "window_profiles",
        "unit": "ratio",
        "direction": "lower_is_better",
        "window": "5m",
        "min_samples": 100,
        "warn_threshold": 0.01,
        "critical_threshold": 0.05,
        "for_windows": 2,
        "sensitive": False,
        "playbook": "More than 1% (warn) or 5% (critical) of predictions failed.\n"
        "\n"
        "**Check, in order**\n"
        "1. Which errors? Open the raw sample events of the window and group them by error "
        "message\n"
        "   or status; one dominant error is one cause.\n"
        "2. Since when? Look for a deploy marker at the start of the rise: a new model "
        "version or\n"
        "   configuration is the usual cause (missing feature, changed schema, bad "
        "artifact).\n"
        "3. Inputs: check `ingest_rejection_rate` and `null_rate`; malformed inputs often "
        "surface as\n"
        "   prediction errors.\n"
        "4. Dependencies: feature store, database or external API errors and timeouts "
        "(latency rises\n"
        "   at the same time).\n"
        "5. Scope: one environment / region or all of them?\n"
        "\n"
        "**Then**\n"
        "- Bad release: roll back to the previous model version and keep the incident open "
        "until the\n"
        "  rate stays below warn for a full window.\n"
        "- Dependency down: page its owner, switch to the fallback path if there is one.\n"
        "- Bad inputs from one client: contact the client's owner; the records are in "
        "quarantine.\n",
        "owner": "sre",
    },
    {
        "key": "throughput_per_min",
        "name": "Throughput",
        "description": "Events per minute over the window. Context only: normal volume differs per system.",
        "pillar": "reliability",
        "calculator": "throughput_per_min",
        "params": {},
        "data_source": "window_profiles",
        "unit": "events/min",
        "direction": "higher_is_better",
        "window": "5m",
        "min_samples": 0,
        "warn_threshold": None,
        "critical_threshold": None,
        "for_windows": 1,
        "sensitive": False,
        "playbook": "Context only by default — add a system or environment override when the normal "
        "volume is known.\n"
        "\n"
        "**Use it to**\n"
        "1. Explain other signals: a drop often explains drift and missing labels; a spike "
        "explains\n"
        "   latency and errors.\n"
        "2. Check a sudden drop first against the client side (is the model still being "
        "called, did\n"
        "   a client lose its token — see rejected requests), then against "
        "`data_freshness_s`.\n"
        "3. For a known-steady system, set an override (e.g. warn below 50% of the usual "
        "volume) so a\n"
        "   silent outage alerts.\n",
        "owner": "sre",
    },
    {
        "key": "availability",
        "name": "Availability",
        "description": "Share of the window's 1-minute buckets whose success rate (1 − error rate) meets "
        "the SLO in params (default 0.99). Buckets without traffic count neither way.",
        "pillar": "reliability",
        "calculator": "availability",
        "params": {"slo": 0.99},
        "data_source": "window_profiles",
        "unit": "ratio",
        "direction": "higher_is_better",
        "window": "1h",
        "min_samples": 100,
        "warn_threshold": 0.99,
        "critical_threshold": 0.95,
        "for_windows": 1,
        "sensitive": False,
        "playbook": "Too many minutes of this hour missed the success-rate SLO.\n"
        "\n"
        "**Check, in order**\n"
        "1. Look at `error_rate` per 5-minute window to find when the bad minutes happened.\n"
        "2. Short burst or continuous? A burst around a deploy marker points at the release; "
        "a\n"
        "   continuous shortfall at a dependency or capacity.\n"
        "3. Which errors: open the sample raw events of the bad minutes.\n"
        "4. Check `latency_p99_ms`: timeouts count as errors.\n"
        "5. Compare environments and regions to see whether the fault is local.\n"
        "\n"
        "**Then**\n"
        "- Follow the `error_rate` playbook for the cause.\n"
        "- Tell the system owner about the SLO impact; record the minutes lost in the "
        "post-mortem.\n"
        "- If the SLO in params is wrong for this system, change it through a new catalog "
        "version\n"
        "  with a reason, not by silencing.\n",
        "owner": "sre",
    },
    {
        "key": "data_freshness_s",
        "name": "Data freshness",
        "description": "Evaluation time minus the newest event timestamp of the deployment, in seconds.",
        "pillar": "reliability",
        "calculator": "data_freshness_s",
        "params": {},
        "data_source": "raw_events",
        "unit": "s",
        "direction": "lower_is_better",
        "window": "5m",
        "min_samples": 1,
        "warn_threshold": 900.0,
        "critical_threshold": 3600.0,
        "for_windows": 2,
        "sensitive": False,
        "playbook": "No new telemetry has arrived for this deployment for 15 minutes (warn) or an hour "
        "(critical).\n"
        "\n"
        "**Check, in order**\n"
        "1. Is the model still serving? Ask the owning team or check the serving platform; a "
        "retired\n"
        "   deployment should be marked retired.\n"
        "2. Is ingestion healthy? Look at the platform page: rejections by reason (401 = "
        "revoked or\n"
        "   wrong token, 413 = batches too large, 429 = throttled) and worker queue depth.\n"
        "3. Are events arriving with wrong timestamps (clock skew, time zone) and so landing "
        "in other\n"
        "   windows? Check recent raw events.\n"
        "4. Is the client's exporter running (its logs, its retry queue)?\n"
        "\n"
        "**Then**\n"
        "- Token or payload problem: fix the client configuration; quarantined records can "
        "be replayed.\n"
        "- Ingestion backlog: scale the ingest workers; nothing is lost, windows recompute "
        "when late\n"
        "  events arrive.\n"
        "- Retired deployment: set its status to retired so it stops alerting.\n",
        "owner": "ml-platform",
    },
    {
        "key": "label_freshness_s",
        "name": "Label freshness",
        "description": "Evaluation time minus the newest label received for the deployment, in seconds.",
        "pillar": "reliability",
        "calculator": "label_freshness_s",
        "params": {},
        "data_source": "labels",
        "unit": "s",
        "direction": "lower_is_better",
        "window": "1h",
        "min_samples": 1,
        "warn_threshold": 172800.0,
        "critical_threshold": 604800.0,
        "for_windows": 1,
        "sensitive": False,
        "playbook": "No labels for 2 days (warn) or 7 days (critical): quality and fairness metrics are "
        "going blind.\n"
        "\n"
        "**Check, in order**\n"
        "1. Is a label delay expected for this use case (e.g. 30-day default outcomes)? If "
        "so, set a\n"
        "   system override with the real delay instead of living with the alert.\n"
        "2. Is the label job running? Check the client's label exporter and\n"
        "   `POST /api/v1/ingest/labels` rejections (unknown `event_id`s are the usual "
        "cause).\n"
        "3. Are labels matched to events? Labels for events outside retention are rejected.\n"
        "\n"
        "**Then**\n"
        "- Restart or fix the label feed; quality windows recompute as labels arrive.\n"
        "- Tell the data steward that quality and fairness values for the gap are "
        "incomplete.\n",
        "owner": "data-science",
    },
    {
        "key": "ingest_rejection_rate",
        "name": "Ingest rejection rate",
        "description": "Rejected records / (accepted + rejected) for the system in the window.",
        "pillar": "data_quality",
        "calculator": "ingest_rejection_rate",
        "params": {},
        "data_source": "ingestion",
        "unit": "ratio",
        "direction": "lower_is_better",
        "window": "1h",
        "min_samples": 100,
        "warn_threshold": 0.01,
        "critical_threshold": 0.05,
        "for_windows": 1,
        "sensitive": False,
        "playbook": "A share of the telemetry sent for this system is being rejected and kept in "
        "quarantine.\n"
        "\n"
        "**Check, in order**\n"
        "1. Rejections by reason on the platform page: unknown model, wrong types, "
        "NaN/Infinity,\n"
        "   missing fields, timestamps far in the future.\n"
        "2. Which client and since when? A client release usually starts it.\n"
        "3. Schema: did the model's feature list change without a config change (new or "
        "renamed\n"
        "   features)?\n"
        "\n"
        "**Then**\n"
        "- Client bug: hand the reasons and sample records to the client's owner.\n"
        "- Declared schema out of date: update the system config (`apply_config`) with the "
        "new\n"
        "  features; quarantined records can be replayed after the fix.\n",
        "owner": "ml-platform",
    },
    {
        "key": "null_rate",
        "name": "Null rate",
        "description": "Null or missing values of a feature divided by the window's events.",
        "pillar": "data_quality",
        "calculator": "null_rate",
        "params": {},
        "data_source": "window_profiles",
        "unit": "ratio",
        "direction": "lower_is_better",
        "window": "1h",
        "min_samples": 100,
        "warn_threshold": 0.05,
        "critical_threshold": 0.2,
        "for_windows": 2,
        "sensitive": False,
        "playbook": "This feature is missing more often than usual.\n"
        "\n"
        "**Check, in order**\n"
        "1. One feature or several? Several features from the same source means that source "
        "(a\n"
        "   join, a feature-store table, a partner feed) is failing.\n"
        "2. One cohort? A feature missing only for one region or channel points at that "
        "pipeline.\n"
        "3. Compare with the reference's null share: a feature that was always sparse needs "
        "a\n"
        "   feature-level override, not an incident.\n"
        "4. Check the model's behaviour: how does it impute the missing value? Look at\n"
        "   `prediction_drift_psi` and quality for the same windows.\n"
        "\n"
        "**Then**\n"
        "- Fix the upstream source; backfill if the model's decisions must be re-scored.\n"
        "- If missing values are now expected, update the reference and set an override with "
        "a reason.\n",
        "owner": "ml-platform",
    },
    {
        "key": "accuracy",
        "name": "Accuracy",
        "description": "Share of labelled predictions equal to the label (binary classification).",
        "pillar": "performance",
        "calculator": "accuracy",
        "params": {},
        "data_source": "labels",
        "unit": "ratio",
        "direction": "higher_is_better",
        "window": "1d",
        "min_samples": 100,
        "warn_threshold": 0.8,
        "critical_threshold": 0.7,
        "for_windows": 1,
        "sensitive": False,
        "playbook": "Accuracy fell below the threshold. Defaults are generic: set a system override from "
        "the model's validation results.\n"
        "\n"
        "**Check, in order**\n"
        "1. Enough labels? Look at the sample size and `label_freshness_s`: a late or "
        "partial label\n"
        "   feed (only the easy cases labelled first) biases quality metrics.\n"
        "2. Is it drift? Check `prediction_drift_psi` and the feature drift heatmap for the "
        "same\n"
        "   period; a population shift explains most quality drops.\n"
        "3. Is it one cohort? Break the metric down by cohort: a drop confined to one "
        "segment\n"
        "   points at that population or at a feature that is broken only there.\n"
        "4. Did the model or its inputs change? Look for deploy markers and compare with "
        "the\n"
        "   previous model version's values and with `accuracy_delta_vs_baseline`.\n"
        "5. Label definition: has the way labels are produced changed (new labelling rules,\n"
        "   delayed chargebacks, a new outcome window)?\n"
        "\n"
        "**Then**\n"
        "- Label or data problem: fix the feed, annotate the window and recompute\n"
        "  (`manage.py compute_metrics --deployment ID --start … --end …`).\n"
        "- Real degradation: open an incident, inform the model owner, and decide between a\n"
        "  rollback to the previous model version and a retrain on recent data; check the\n"
        "  readiness gate before any rollout.\n"
        "- Update the model card with what was found.\n",
        "owner": "data-science",
    },
    {
        "key": "precision",
        "name": "Precision",
        "description": "True positives / predicted positives over labelled events.",
        "pillar": "performance",
        "calculator": "precision",
        "params": {},
        "data_source": "labels",
        "unit": "ratio",
        "direction": "higher_is_better",
        "window": "1d",
        "min_samples": 100,
        "warn_threshold": 0.7,
        "critical_threshold": 0.5,
        "for_windows": 1,
        "sensitive": False,
        "playbook": "More of the positive predictions are wrong (more false alarms). Check whether the "
        "score threshold or the positive rate changed.\n"
        "\n"
        "**Check, in order**\n"
        "1. Enough labels? Look at the sample size and `label_freshness_s`: a late or "
        "partial label\n"
        "   feed (only the easy cases labelled first) biases quality metrics.\n"
        "2. Is it drift? Check `prediction_drift_psi` and the feature drift heatmap for the "
        "same\n"
        "   period; a population shift explains most quality drops.\n"
        "3. Is it one cohort? Break the metric down by cohort: a drop confined to one "
        "segment\n"
        "   points at that population or at a feature that is broken only there.\n"
        "4. Did the model or its inputs change? Look for deploy markers and compare with "
        "the\n"
        "   previous model version's values and with `accuracy_delta_vs_baseline`.\n"
        "5. Label definition: has the way labels are produced changed (new labelling rules,\n"
        "   delayed chargebacks, a new outcome window)?\n"
        "\n"
        "**Then**\n"
        "- Label or data problem: fix the feed, annotate the window and recompute\n"
        "  (`manage.py compute_metrics --deployment ID --start … --end …`).\n"
        "- Real degradation: open an incident, inform the model owner, and decide between a\n"
        "  rollback to the previous model version and a retrain on recent data; check the\n"
        "  readiness gate before any rollout.\n"
        "- Update the model card with what was found.\n",
        "owner": "data-science",
    },
    {
        "key": "recall",
        "name": "Recall",
        "description": "True positives / actual positives over labelled events.",
        "pillar": "performance",
        "calculator": "recall",
        "params": {},
        "data_source": "labels",
        "unit": "ratio",
        "direction": "higher_is_better",
        "window": "1d",
        "min_samples": 100,
        "warn_threshold": 0.7,
        "critical_threshold": 0.5,
        "for_windows": 1,
        "sensitive": False,
        "playbook": "The model misses more of the real positives. Check whether the positive class got "
        "rarer or changed character (new fraud pattern, new population).\n"
        "\n"
        "**Check, in order**\n"
        "1. Enough labels? Look at the sample size and `label_freshness_s`: a late or "
        "partial label\n"
        "   feed (only the easy cases labelled first) biases quality metrics.\n"
        "2. Is it drift? Check `prediction_drift_psi` and the feature drift heatmap for the "
        "same\n"
        "   period; a population shift explains most quality drops.\n"
        "3. Is it one cohort? Break the metric down by cohort: a drop confined to one "
        "segment\n"
        "   points at that population or at a feature that is broken only there.\n"
        "4. Did the model or its inputs change? Look for deploy markers and compare with "
        "the\n"
        "   previous model version's values and with `accuracy_delta_vs_baseline`.\n"
        "5. Label definition: has the way labels are produced changed (new labelling rules,\n"
        "   delayed chargebacks, a new outcome window)?\n"
        "\n"
        "**Then**\n"
        "- Label or data problem: fix the feed, annotate the window and recompute\n"
        "  (`manage.py compute_metrics --deployment ID --start … --end …`).\n"
        "- Real degradation: open an incident, inform the model owner, and decide between a\n"
        "  rollback to the previous model version and a retrain on recent data; check the\n"
        "  readiness gate before any rollout.\n"
        "- Update the model card with what was found.\n",
        "owner": "data-science",
    },
    {
        "key": "f1",
        "name": "F1 score",
        "description": "Harmonic mean of precision and recall over labelled events.",
        "pillar": "performance",
        "calculator": "f1",
        "params": {},
        "data_source": "labels",
        "unit": "ratio",
        "direction": "higher_is_better",
        "window": "1d",
        "min_samples": 100,
        "warn_threshold": 0.7,
        "critical_threshold": 0.5,
        "for_windows": 1,
        "sensitive": False,
        "playbook": "Precision, recall or both dropped; look at both to see which side moved.\n"
        "\n"
        "**Check, in order**\n"
        "1. Enough labels? Look at the sample size and `label_freshness_s`: a late or "
        "partial label\n"
        "   feed (only the easy cases labelled first) biases quality metrics.\n"
        "2. Is it drift? Check `prediction_drift_psi` and the feature drift heatmap for the "
        "same\n"
        "   period; a population shift explains most quality drops.\n"
        "3. Is it one cohort? Break the metric down by cohort: a drop confined to one "
        "segment\n"
        "   points at that population or at a feature that is broken only there.\n"
        "4. Did the model or its inputs change? Look for deploy markers and compare with "
        "the\n"
        "   previous model version's values and with `accuracy_delta_vs_baseline`.\n"
        "5. Label definition: has the way labels are produced changed (new labelling rules,\n"
        "   delayed chargebacks, a new outcome window)?\n"
        "\n"
        "**Then**\n"
        "- Label or data problem: fix the feed, annotate the window and recompute\n"
        "  (`manage.py compute_metrics --deployment ID --start … --end …`).\n"
        "- Real degradation: open an incident, inform the model owner, and decide between a\n"
        "  rollback to the previous model version and a retrain on recent data; check the\n"
        "  readiness gate before any rollout.\n"
        "- Update the model card with what was found.\n",
        "owner": "data-science",
    },
    {
        "key": "roc_auc",
        "name": "ROC AUC",
        "description": "Area under the ROC curve of `score` against labels (needs scores).",
        "pillar": "performance",
        "calculator": "roc_auc",
        "params": {},
        "data_source": "labels+raw_events",
        "unit": "ratio",
        "direction": "higher_is_better",
        "window": "1d",
        "min_samples": 100,
        "warn_threshold": 0.75,
        "critical_threshold": 0.65,
        "for_windows": 1,
        "sensitive": False,
        "playbook": "The model ranks positives above negatives less well — independent of the decision "
        "threshold, so this is a real loss of signal, not a threshold problem.\n"
        "\n"
        "**Check, in order**\n"
        "1. Enough labels? Look at the sample size and `label_freshness_s`: a late or "
        "partial label\n"
        "   feed (only the easy cases labelled first) biases quality metrics.\n"
        "2. Is it drift? Check `prediction_drift_psi` and the feature drift heatmap for the "
        "same\n"
        "   period; a population shift explains most quality drops.\n"
        "3. Is it one cohort? Break the metric down by cohort: a drop confined to one "
        "segment\n"
        "   points at that population or at a feature that is broken only there.\n"
        "4. Did the model or its inputs change? Look for deploy markers and compare with "
        "the\n"
        "   previous model version's values and with `accuracy_delta_vs_baseline`.\n"
        "5. Label definition: has the way labels are produced changed (new labelling rules,\n"
        "   delayed chargebacks, a new outcome window)?\n"
        "\n"
        "**Then**\n"
        "- Label or data problem: fix the feed, annotate the window and recompute\n"
        "  (`manage.py compute_metrics --deployment ID --start … --end …`).\n"
        "- Real degradation: open an incident, inform the model owner, and decide between a\n"
        "  rollback to the previous model version and a retrain on recent data; check the\n"
        "  readiness gate before any rollout.\n"
        "- Update the model card with what was found.\n",
        "owner": "data-science",
    },
    {
        "key": "mae",
        "name": "Mean absolute error",
        "description": "Mean of |prediction − label| (regression). Context only: scale depends on the "
        "target.",
        "pillar": "performance",
        "calculator": "mae",
        "params": {},
        "data_source": "labels",
        "unit": "",
        "direction": "lower_is_better",
        "window": "1d",
        "min_samples": 100,
        "warn_threshold": None,
        "critical_threshold": None,
        "for_windows": 1,
        "sensitive": False,
        "playbook": "Context only by default (alerts come from `accuracy_delta_vs_baseline`); set a "
        "system override in the target's units to alert on it directly.\n"
        "\n"
        "**Check, in order**\n"
        "1. Enough labels? Look at the sample size and `label_freshness_s`: a late or "
        "partial label\n"
        "   feed (only the easy cases labelled first) biases quality metrics.\n"
        "2. Is it drift? Check `prediction_drift_psi` and the feature drift heatmap for the "
        "same\n"
        "   period; a population shift explains most quality drops.\n"
        "3. Is it one cohort? Break the metric down by cohort: a drop confined to one "
        "segment\n"
        "   points at that population or at a feature that is broken only there.\n"
        "4. Did the model or its inputs change? Look for deploy markers and compare with "
        "the\n"
        "   previous model version's values and with `accuracy_delta_vs_baseline`.\n"
        "5. Label definition: has the way labels are produced changed (new labelling rules,\n"
        "   delayed chargebacks, a new outcome window)?\n"
        "\n"
        "**Then**\n"
        "- Label or data problem: fix the feed, annotate the window and recompute\n"
        "  (`manage.py compute_metrics --deployment ID --start … --end …`).\n"
        "- Real degradation: open an incident, inform the model owner, and decide between a\n"
        "  rollback to the previous model version and a retrain on recent data; check the\n"
        "  readiness gate before any rollout.\n"
        "- Update the model card with what was found.\n",
        "owner": "data-science",
    },
    {
        "key": "rmse",
        "name": "Root mean squared error",
        "description": "Square root of the mean squared error (regression). Context only: scale depends "
        "on the target.",
        "pillar": "performance",
        "calculator": "rmse",
        "params": {},
        "data_source": "labels",
        "unit": "",
        "direction": "lower_is_better",
        "window": "1d",
        "min_samples": 100,
        "warn_threshold": None,
        "critical_threshold": None,
        "for_windows": 1,
        "sensitive": False,
        "playbook": "Context only by default (alerts come from `accuracy_delta_vs_baseline`); RMSE "
        "weighs large errors more than MAE, so RMSE up with MAE flat means a few large "
        "misses.\n"
        "\n"
        "**Check, in order**\n"
        "1. Enough labels? Look at the sample size and `label_freshness_s`: a late or "
        "partial label\n"
        "   feed (only the easy cases labelled first) biases quality metrics.\n"
        "2. Is it drift? Check `prediction_drift_psi` and the feature drift heatmap for the "
        "same\n"
        "   period; a population shift explains most quality drops.\n"
        "3. Is it one cohort? Break the metric down by cohort: a drop confined to one "
        "segment\n"
        "   points at that population or at a feature that is broken only there.\n"
        "4. Did the model or its inputs change? Look for deploy markers and compare with "
        "the\n"
        "   previous model version's values and with `accuracy_delta_vs_baseline`.\n"
        "5. Label definition: has the way labels are produced changed (new labelling rules,\n"
        "   delayed chargebacks, a new outcome window)?\n"
        "\n"
        "**Then**\n"
        "- Label or data problem: fix the feed, annotate the window and recompute\n"
        "  (`manage.py compute_metrics --deployment ID --start … --end …`).\n"
        "- Real degradation: open an incident, inform the model owner, and decide between a\n"
        "  rollback to the previous model version and a retrain on recent data; check the\n"
        "  readiness gate before any rollout.\n"
        "- Update the model card with what was found.\n",
        "owner": "data-science",
    },
    {
        "key": "accuracy_delta_vs_baseline",
        "name": "Quality vs baseline",
        "description": "Window value minus the reference's value of the model's primary quality metric "
        "(accuracy, or rmse for regression), signed so that negative is worse.",
        "pillar": "performance",
        "calculator": "accuracy_delta_vs_baseline",
        "params": {},
        "data_source": "labels+reference",
        "unit": "",
        "direction": "higher_is_better",
        "window": "1d",
        "min_samples": 100,
        "warn_threshold": -0.02,
        "critical_threshold": -0.05,
        "for_windows": 1,
        "sensitive": False,
        "playbook": "The model does worse than on its reference data by more than 2 (warn) or 5 "
        "(critical) points of its primary metric.\n"
        "\n"
        "**Check, in order**\n"
        "1. Enough labels? Look at the sample size and `label_freshness_s`: a late or "
        "partial label\n"
        "   feed (only the easy cases labelled first) biases quality metrics.\n"
        "2. Is it drift? Check `prediction_drift_psi` and the feature drift heatmap for the "
        "same\n"
        "   period; a population shift explains most quality drops.\n"
        "3. Is it one cohort? Break the metric down by cohort: a drop confined to one "
        "segment\n"
        "   points at that population or at a feature that is broken only there.\n"
        "4. Did the model or its inputs change? Look for deploy markers and compare with "
        "the\n"
        "   previous model version's values and with `accuracy_delta_vs_baseline`.\n"
        "5. Label definition: has the way labels are produced changed (new labelling rules,\n"
        "   delayed chargebacks, a new outcome window)?\n"
        "\n"
        "**Then**\n"
        "- Label or data problem: fix the feed, annotate the window and recompute\n"
        "  (`manage.py compute_metrics --deployment ID --start … --end …`).\n"
        "- Real degradation: open an incident, inform the model owner, and decide between a\n"
        "  rollback to the previous model version and a retrain on recent data; check the\n"
        "  readiness gate before any rollout.\n"
        "- Update the model card with what was found.\n",
        "owner": "data-science",
    },
    {
        "key": "calibration_error",
        "name": "Calibration error (ECE)",
        "description": "Expected calibration error with 10 equal-width score bins.",
        "pillar": "performance",
        "calculator": "calibration_error",
        "params": {"bins": 10},
        "data_source": "labels",
        "unit": "",
        "direction": "lower_is_better",
        "window": "1d",
        "min_samples": 100,
        "warn_threshold": 0.05,
        "critical_threshold": 0.1,
        "for_windows": 1,
        "sensitive": False,
        "playbook": "Scores no longer match observed frequencies: decisions that use the score as a "
        "probability (pricing, limits, triage) are off even if ranking still works. "
        "Recalibration (isotonic or Platt on recent labels) is often enough.\n"
        "\n"
        "**Check, in order**\n"
        "1. Enough labels? Look at the sample size and `label_freshness_s`: a late or "
        "partial label\n"
        "   feed (only the easy cases labelled first) biases quality metrics.\n"
        "2. Is it drift? Check `prediction_drift_psi` and the feature drift heatmap for the "
        "same\n"
        "   period; a population shift explains most quality drops.\n"
        "3. Is it one cohort? Break the metric down by cohort: a drop confined to one "
        "segment\n"
        "   points at that population or at a feature that is broken only there.\n"
        "4. Did the model or its inputs change? Look for deploy markers and compare with "
        "the\n"
        "   previous model version's values and with `accuracy_delta_vs_baseline`.\n"
        "5. Label definition: has the way labels are produced changed (new labelling rules,\n"
        "   delayed chargebacks, a new outcome window)?\n"
        "\n"
        "**Then**\n"
        "- Label or data problem: fix the feed, annotate the window and recompute\n"
        "  (`manage.py compute_metrics --deployment ID --start … --end …`).\n"
        "- Real degradation: open an incident, inform the model owner, and decide between a\n"
        "  rollback to the previous model version and a retrain on recent data; check the\n"
        "  readiness gate before any rollout.\n"
        "- Update the model card with what was found.\n",
        "owner": "data-science",
    },
    {
        "key": "demographic_parity_difference",
        "name": "Demographic parity difference",
        "description": "Max − min selection rate (share of positive predictions) across the attribute's "
        "groups.",
        "pillar": "fairness",
        "calculator": "demographic_parity_difference",
        "params": {"min_group_size": 30},
        "data_source": "window_profiles+cohorts",
        "unit": "",
        "direction": "lower_is_better",
        "window": "1d",
        "min_samples": 30,
        "warn_threshold": 0.1,
        "critical_threshold": 0.2,
        "for_windows": 1,
        "sensitive": True,
        "playbook": "Groups receive positive decisions at rates more than 10 (warn) or 20 (critical) "
        "points apart.\n"
        "\n"
        "**Check, in order** (per-group detail is sensitive: only people with "
        "`view_sensitive` on the\n"
        "system see it; do not copy it into tickets or chat)\n"
        "1. Group sizes: look at the per-group breakdown in `details`. Groups below 30 "
        "events are\n"
        "   excluded; a small group near the limit makes the value noisy.\n"
        "2. Which group moved? Compare each group's rate with the previous windows: one "
        "group\n"
        "   changing usually points at a change in that population or in its data.\n"
        "3. Drift by cohort: check feature drift for the affected group (feature × cohort "
        "heatmap)\n"
        "   and `null_rate` of the features used for that group.\n"
        "4. Labels: are labels for one group delayed or produced differently?\n"
        "5. Model change: compare with the previous model version and the reference values.\n"
        "\n"
        "**Then**\n"
        "- Data issue for one group: fix it upstream and recompute the affected windows.\n"
        "- Real disparity: open an incident with the data steward (fairness alerts route to "
        "them\n"
        "  first), involve the model owner and, for regulated systems, compliance; consider "
        "a\n"
        "  rollback to the last version that met the threshold.\n"
        "- Record the decision and the evidence in the incident's post-mortem.\n",
        "owner": "responsible-ai",
    },
    {
        "key": "disparate_impact_ratio",
        "name": "Disparate impact ratio",
        "description": "Min / max selection rate across groups; the four-fifths rule flags values below 0.8.",
        "pillar": "fairness",
        "calculator": "disparate_impact_ratio",
        "params": {"min_group_size": 30},
        "data_source": "window_profiles+cohorts",
        "unit": "",
        "direction": "higher_is_better",
        "window": "1d",
        "min_samples": 30,
        "warn_threshold": 0.8,
        "critical_threshold": 0.7,
        "for_windows": 1,
        "sensitive": True,
        "playbook": "The least-selected group is selected at less than four fifths (warn) or 70% "
        "(critical) of the rate of the most-selected group.\n"
        "\n"
        "**Check, in order** (per-group detail is sensitive: only people with "
        "`view_sensitive` on the\n"
        "system see it; do not copy it into tickets or chat)\n"
        "1. Group sizes: look at the per-group breakdown in `details`. Groups below 30 "
        "events are\n"
        "   excluded; a small group near the limit makes the value noisy.\n"
        "2. Which group moved? Compare each group's rate with the previous windows: one "
        "group\n"
        "   changing usually points at a change in that population or in its data.\n"
        "3. Drift by cohort: check feature drift for the affected group (feature × cohort "
        "heatmap)\n"
        "   and `null_rate` of the features used for that group.\n"
        "4. Labels: are labels for one group delayed or produced differently?\n"
        "5. Model change: compare with the previous model version and the reference values.\n"
        "\n"
        "**Then**\n"
        "- Data issue for one group: fix it upstream and recompute the affected windows.\n"
        "- Real disparity: open an incident with the data steward (fairness alerts route to "
        "them\n"
        "  first), involve the model owner and, for regulated systems, compliance; consider "
        "a\n"
        "  rollback to the last version that met the threshold.\n"
        "- Record the decision and the evidence in the incident's post-mortem.\n",
        "owner": "responsible-ai",
    },
    {
        "key": "equal_opportunity_difference",
        "name": "Equal opportunity difference",
        "description": "Max − min true-positive rate across groups.",
        "pillar": "fairness",
        "calculator": "equal_opportunity_difference",
        "params": {"min_group_size": 30, "undefined_rates": "exclude"},
        "data_source": "labels+cohorts",
        "unit": "",
        "direction": "lower_is_better",
        "window": "1d",
        "min_samples": 30,
        "warn_threshold": 0.1,
        "critical_threshold": 0.2,
        "for_windows": 1,
        "sensitive": True,
        "playbook": "Qualified members of some groups are recognised less often than others "
        "(true-positive rates differ).\n"
        "\n"
        "**Check, in order** (per-group detail is sensitive: only people with "
        "`view_sensitive` on the\n"
        "system see it; do not copy it into tickets or chat)\n"
        "1. Group sizes: look at the per-group breakdown in `details`. Groups below 30 "
        "events are\n"
        "   excluded; a small group near the limit makes the value noisy.\n"
        "2. Which group moved? Compare each group's rate with the previous windows: one "
        "group\n"
        "   changing usually points at a change in that population or in its data.\n"
        "3. Drift by cohort: check feature drift for the affected group (feature × cohort "
        "heatmap)\n"
        "   and `null_rate` of the features used for that group.\n"
        "4. Labels: are labels for one group delayed or produced differently?\n"
        "5. Model change: compare with the previous model version and the reference values.\n"
        "\n"
        "**Then**\n"
        "- Data issue for one group: fix it upstream and recompute the affected windows.\n"
        "- Real disparity: open an incident with the data steward (fairness alerts route to "
        "them\n"
        "  first), involve the model owner and, for regulated systems, compliance; consider "
        "a\n"
        "  rollback to the last version that met the threshold.\n"
        "- Record the decision and the evidence in the incident's post-mortem.\n",
        "owner": "responsible-ai",
    },
    {
        "key": "equalized_odds_difference",
        "name": "Equalized odds difference",
        "description": "The larger of (max − min TPR) and (max − min FPR) across groups, as fairlearn.",
        "pillar": "fairness",
        "calculator": "equalized_odds_difference",
        "params": {"min_group_size": 30, "undefined_rates": "exclude"},
        "data_source": "labels+cohorts",
        "unit": "",
        "direction": "lower_is_better",
        "window": "1d",
        "min_samples": 30,
        "warn_threshold": 0.1,
        "critical_threshold": 0.2,
        "for_windows": 1,
        "sensitive": True,
        "playbook": "Error rates differ between groups: either true-positive or false-positive rates "
        "(see the breakdown for which).\n"
        "\n"
        "**Check, in order** (per-group detail is sensitive: only people with "
        "`view_sensitive` on the\n"
        "system see it; do not copy it into tickets or chat)\n"
        "1. Group sizes: look at the per-group breakdown in `details`. Groups below 30 "
        "events are\n"
        "   excluded; a small group near the limit makes the value noisy.\n"
        "2. Which group moved? Compare each group's rate with the previous windows: one "
        "group\n"
        "   changing usually points at a change in that population or in its data.\n"
        "3. Drift by cohort: check feature drift for the affected group (feature × cohort "
        "heatmap)\n"
        "   and `null_rate` of the features used for that group.\n"
        "4. Labels: are labels for one group delayed or produced differently?\n"
        "5. Model change: compare with the previous model version and the reference values.\n"
        "\n"
        "**Then**\n"
        "- Data issue for one group: fix it upstream and recompute the affected windows.\n"
        "- Real disparity: open an incident with the data steward (fairness alerts route to "
        "them\n"
        "  first), involve the model owner and, for regulated systems, compliance; consider "
        "a\n"
        "  rollback to the last version that met the threshold.\n"
        "- Record the decision and the evidence in the incident's post-mortem.\n",
        "owner": "responsible-ai",
    },
    {
        "key": "group_accuracy_gap",
        "name": "Group accuracy gap",
        "description": "Max − min accuracy across groups.",
        "pillar": "fairness",
        "calculator": "group_accuracy_gap",
        "params": {"min_group_size": 30},
        "data_source": "labels+cohorts",
        "unit": "",
        "direction": "lower_is_better",
        "window": "1d",
        "min_samples": 30,
        "warn_threshold": 0.05,
        "critical_threshold": 0.1,
        "for_windows": 1,
        "sensitive": True,
        "playbook": "The model is noticeably less accurate for some groups than for others.\n"
        "\n"
        "**Check, in order** (per-group detail is sensitive: only people with "
        "`view_sensitive` on the\n"
        "system see it; do not copy it into tickets or chat)\n"
        "1. Group sizes: look at the per-group breakdown in `details`. Groups below 30 "
        "events are\n"
        "   excluded; a small group near the limit makes the value noisy.\n"
        "2. Which group moved? Compare each group's rate with the previous windows: one "
        "group\n"
        "   changing usually points at a change in that population or in its data.\n"
        "3. Drift by cohort: check feature drift for the affected group (feature × cohort "
        "heatmap)\n"
        "   and `null_rate` of the features used for that group.\n"
        "4. Labels: are labels for one group delayed or produced differently?\n"
        "5. Model change: compare with the previous model version and the reference values.\n"
        "\n"
        "**Then**\n"
        "- Data issue for one group: fix it upstream and recompute the affected windows.\n"
        "- Real disparity: open an incident with the data steward (fairness alerts route to "
        "them\n"
        "  first), involve the model owner and, for regulated systems, compliance; consider "
        "a\n"
        "  rollback to the last version that met the threshold.\n"
        "- Record the decision and the evidence in the incident's post-mortem.\n",
        "owner": "responsible-ai",
    },
    {
        "key": "mttd_s",
        "name": "Mean time to detect",
        "description": "Mean time from the end of the first breaching window to the alert firing, over "
        "the trailing 30 days, in seconds.",
        "pillar": "reliability",
        "calculator": "mttd_s",
        "params": {"trailing_days": 30},
        "data_source": "alerts",
        "unit": "s",
        "direction": "lower_is_better",
        "window": "1d",
        "min_samples": 1,
        "warn_threshold": 900.0,
        "critical_threshold": 3600.0,
        "for_windows": 1,
        "sensitive": False,
        "playbook": "Alerts fire long after the problem started.\n"
        "\n"
        "**Check, in order**\n"
        "1. Persistence: which rules have a high `for` (consecutive windows)? A `for` of 3 "
        "on 1-hour\n"
        "   windows means at least 3 hours to detect.\n"
        "2. Computation lag: worker queue depth and task durations on the platform page; "
        "windows\n"
        "   are evaluated only once computed.\n"
        "3. Late data: events arriving after `allowed_lateness` recompute windows and fire "
        "late.\n"
        "\n"
        "**Then**\n"
        "- Lower `for` or use shorter windows for the slow rules (a new catalog version with "
        "a reason).\n"
        "- Scale the compute workers if they lag.\n",
        "owner": "sre",
    },
    {
        "key": "mttr_s",
        "name": "Mean time to resolve",
        "description": "Mean time from firing to resolved over the trailing 30 days, in seconds.",
        "pillar": "reliability",
        "calculator": "mttr_s",
        "params": {"trailing_days": 30},
        "data_source": "alerts",
        "unit": "s",
        "direction": "lower_is_better",
        "window": "1d",
        "min_samples": 1,
        "warn_threshold": 14400.0,
        "critical_threshold": 86400.0,
        "for_windows": 1,
        "sensitive": False,
        "playbook": "Alerts stay open for more than 4 hours (warn) or a day (critical) on average.\n"
        "\n"
        "**Check, in order**\n"
        "1. Which alerts dominate? Sort resolved alerts by duration; a few long ones skew "
        "the mean.\n"
        "2. Were they acknowledged quickly? Slow acknowledgement points at routing "
        "(escalation\n"
        "   policy, on-call schedule), not at fixing.\n"
        "3. Do playbooks help? Long resolutions on one metric mean its playbook needs work.\n"
        "4. Are some alerts noise (resolve only by themselves)? Those need better "
        "thresholds.\n"
        "\n"
        "**Then**\n"
        "- Fix escalation routes; improve the playbooks of the slow metrics.\n"
        "- Tune thresholds that fire without action needed (new catalog version, with the "
        "backtest).\n",
        "owner": "sre",
    },
    {
        "key": "open_critical_alerts",
        "name": "Open critical alerts",
        "description": "Number of critical alerts currently firing for the deployment.",
        "pillar": "reliability",
        "calculator": "open_critical_alerts",
        "params": {},
        "data_source": "alerts",
        "unit": "",
        "direction": "lower_is_better",
        "window": "5m",
        "min_samples": 0,
        "warn_threshold": 1.0,
        "critical_threshold": 3.0,
        "for_windows": 1,
        "sensitive": False,
        "playbook": "Critical alerts are open for this deployment.\n"
        "\n"
        "**Check, in order**\n"
        "1. Open the alert queue filtered on the deployment; start with the oldest "
        "unacknowledged one.\n"
        "2. Are they one incident? Alerts grouped into one incident usually share a cause.\n"
        "3. Follow the playbook of each alert's metric.\n"
        "\n"
        "**Then**\n"
        "- Acknowledge what is being worked on, silence only with a reason and an end time, "
        "and\n"
        "  resolve when the metric is healthy again.\n",
        "owner": "sre",
    },
]

WEIGHT_PROFILES = [
    {
        "name": "balanced",
        "description": "Every pillar counts the same. The default for systems without special needs.",
        "pillar_weights": {"performance": 0.25, "fairness": 0.25, "reliability": 0.25, "data_quality": 0.25},
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
        "description": "Fairness-heavy, for clinical, credit and other decisions about people: fairness "
        "and model quality dominate; service metrics matter less.",
        "pillar_weights": {"performance": 0.3, "fairness": 0.4, "reliability": 0.1, "data_quality": 0.2},
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
        "description": "Performance-heavy, for real-time systems (ranking, bidding, fraud at checkout): "
        "latency percentiles and availability dominate.",
        "pillar_weights": {"performance": 0.45, "fairness": 0.1, "reliability": 0.3, "data_quality": 0.15},
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
]
