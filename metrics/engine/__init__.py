"""The computation engine (issue 5): raw events → window profiles → versioned metric values.

- :mod:`.windows` — window arithmetic; :mod:`.read` — a window's raw columns (binary COPY);
- :mod:`.context` — a deployment's model, features, reference and profile spec;
- :mod:`.rollup` — closed 5-minute buckets → stored ``WindowProfile`` rows;
- :mod:`.compute` — one window: every applicable catalog metric → ``MetricValue`` rows;
- :mod:`.runner` — units of work (one transaction each), ranges, dirty windows;
- :mod:`.scheduling` — watermarks, leases, the beat tick; :mod:`.runs` — lineage, the reaper;
- :mod:`.hooks` — alerts evaluation and the trust score after each window;
- :mod:`.backfill` — recompute history under a catalog version;
- :mod:`.synthetic` — deterministic demo traffic for tests and demos.

Celery tasks live in ``metrics.tasks_compute``; commands are ``compute_metrics`` and
``backfill_metric``. See the README's engine section.
"""
