"""Engine benchmark on PostgreSQL (numbers for the README's engine section).

    createdb -h 127.0.0.1 -U postgres hb_engine_bench
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/hb_engine_bench \\
        .venv/bin/python tests/integration/bench_engine.py --events 200000

Loads one hour of synthetic traffic for one deployment (5 features, 2 cohort attributes, a
3,000-row reference) through the ingestion pipeline, then times, in this process:

1. reading the hour's raw events, every column (binary COPY + the text columns), rows/s;
2. the roll-up of the hour's twelve 5-minute buckets (read, profiles, upsert);
3. ``compute_range`` over the hour without hooks (12 five-minute windows, the hourly window:
   every catalog metric, per segment and feature, upserted with runs);
4. a daily window from 288 stored profiles (the merge path dashboards and evaluations use),
   with the day's raw reads (ROC AUC);
5. the values upsert alone.

Not a pytest module (no ``test_`` prefix). Reruns reuse the loaded events.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "healthboard.settings")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=200_000)
    args = parser.parse_args()

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    if connection.vendor != "postgresql":
        raise SystemExit("run it on PostgreSQL (DATABASE_URL)")
    call_command("migrate", verbosity=0)
    from catalog.models import System, Team
    from metrics.engine import compute, context, read, rollup, runner, store, synthetic, windows
    from metrics.models import MetricValue, PredictionEvent

    team, _ = Team.objects.get_or_create(slug="bench", defaults={"name": "Bench"})
    system, _ = System.objects.get_or_create(
        slug=f"bench-{args.events}", defaults={"name": "Bench", "team": team}
    )
    deployment = synthetic.ensure_model(system)
    now = datetime.now(UTC)
    day = datetime(now.year, now.month, now.day, tzinfo=UTC) - timedelta(days=2)
    start = day + timedelta(hours=12)
    end = start + timedelta(hours=1)
    if not PredictionEvent.objects.filter(deployment=deployment).exists():
        t = time.perf_counter()
        synthetic.ingest(
            deployment,
            start=start,
            end=end,
            events_per_hour=args.events,
            seed=7,
            drift=0.2,
            reference_rows=3000,
            live=False,
            label_share=0.5,
        )
        print(f"loaded {args.events} events in {time.perf_counter() - t:.1f} s (ingestion pipeline)")
    ctx = context.load(deployment.pk)
    connection.ensure_connection()

    t = time.perf_counter()
    cols = read.read_events(
        deployment.pk,
        start,
        end,
        layouts=ctx.layouts,
        numeric=ctx.numeric,
        categorical=ctx.categorical,
        cohorts=ctx.cohorts,
    )
    dt = time.perf_counter() - t
    print(f"1. read {cols.n} events (all columns): {dt:.2f} s = {cols.n / dt:,.0f} rows/s")
    t = time.perf_counter()
    numeric_only = read.read_events(
        deployment.pk, start, end, layouts=ctx.layouts, core=("ts",), numeric=ctx.numeric
    )
    dt = time.perf_counter() - t
    print(f"   read numeric features only (binary COPY): {dt:.2f} s = {numeric_only.n / dt:,.0f} rows/s")

    t = time.perf_counter()
    result = rollup.roll_up(ctx, start, end)
    print(
        f"2. roll-up of 12 buckets, {result.events} events -> {result.rows_written} profiles: "
        f"{time.perf_counter() - t:.2f} s"
    )

    t = time.perf_counter()
    summary = runner.compute_range(
        deployment.pk, start, end, task_id="bench", call_hooks=False, advance_watermark=False
    )
    print(
        f"3. compute_range of the hour: {summary.windows} windows, {summary.values} values, "
        f"{summary.events} events: {time.perf_counter() - t:.2f} s"
    )

    plans = compute.plan(ctx)
    daily = [p for p in plans if p.size == "1d"]
    window = windows.make("1d", day + timedelta(days=1))
    t = time.perf_counter()
    profiles, rolled = rollup.load_profiles(ctx, window.start, window.end)
    loaded = time.perf_counter() - t
    t = time.perf_counter()
    res = compute.compute_window(ctx, window, daily, profiles)
    print(
        f"4. daily window: load {len(profiles)} bucket profiles ({rolled} rolled) {loaded:.2f} s, "
        f"merge + {len(daily)} daily metrics -> {len(res.values)} values {time.perf_counter() - t:.2f} s"
    )

    values = list(MetricValue.objects.filter(deployment=deployment)[:20000])
    t = time.perf_counter()
    store.upsert_values(values)
    dt = time.perf_counter() - t
    print(f"5. upsert of {len(values)} values: {dt:.2f} s = {len(values) / max(dt, 1e-9):,.0f} values/s")


if __name__ == "__main__":
    main()
