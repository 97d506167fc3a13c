"""Dashboard page benchmark (DESIGN.md §11, issue 8): server time per page at scale.

    .venv/bin/python tests/bench/bench_views.py [--repeats 30] [--keep]

Builds a PostgreSQL database ``hb_dash_bench`` (override with ``BENCH_DATABASE_URL``) holding
50 systems, 200 deployments (4 environments each) and 90 days of hourly values: 5 service
metrics, drift of 3 features, and a trust score per deployment-hour (≈ 3.5 M metric values,
0.43 M trust scores), written with ``INSERT … SELECT generate_series`` (the benchmark measures
the pages, not the loading). Then, in this process, Django's test client (as an executive who
may see every system, so access scoping is exercised) requests each page ``--repeats`` times
and reports the median and p95 of the server time (request → response, in process, no network).
Budget: p95 ≤ 150 ms per page. Results go to ``var/bench-views/results.json``; exit code 1 when
a page misses the budget.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
OUT = ROOT / "var" / "bench-views"
BUDGET_MS = 150.0
URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/hb_dash_bench")
SYSTEMS, ENVS, DAYS = 50, ("prod", "staging", "edge", "dev"), 90
SERVICE = ("latency_p50_ms", "latency_p95_ms", "latency_p99_ms", "error_rate", "availability")
FEATURES = ("f0", "f1", "f2")


def recreate_database() -> None:
    import psycopg

    name = URL.rsplit("/", 1)[1]
    admin = URL.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')


def build() -> dict:
    from django.contrib.auth.models import Group
    from django.core.management import call_command
    from django.db import connection

    from catalog.models import (
        Deployment,
        Environment,
        Feature,
        MetricVersion,
        Model,
        ModelVersion,
        System,
        Team,
    )
    from healthboard import access

    t0 = time.perf_counter()
    call_command("migrate", verbosity=0)
    team = Team.objects.create(slug="bench", name="Bench")
    deployments = []
    for n in range(SYSTEMS):
        system = System.objects.create(slug=f"system-{n:02d}", name=f"System {n:02d}", team=team)
        model = Model.objects.create(system=system, slug="model", task="binary_classification")
        for position, name in enumerate(FEATURES):
            Feature.objects.create(model=model, name=name, type="numeric", position=position)
        version = ModelVersion.objects.create(model=model, version="1.0.0")
        for env in ENVS:
            environment = Environment.objects.create(
                system=system, slug=env, kind=Environment.kind_for_slug(env)
            )
            deployments.append(Deployment.objects.create(model_version=version, environment=environment))
        access.grant(system, [access.VIEW], group=team.group)
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create_user("bench-exec", password="x-bench-password")
    user.groups.add(team.group, Group.objects.get(name=access.ROLE_EXECUTIVE))
    versions = {
        mv.definition.key: mv.pk
        for mv in MetricVersion.objects.filter(
            is_current=True, definition__key__in=(*SERVICE, "feature_drift_psi")
        ).select_related("definition")
    }
    ids = [d.pk for d in deployments]
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO metrics_metricvalue (metric_version_id, deployment_id, segment, attribute, feature,
                window_start, window_end, value, status, sample_size, details, computed_at)
            SELECT mv, d, '', '', '', ts, ts + interval '1 hour', random() * 100, 'ok', 1000, '{}', now()
            FROM unnest(%s::int[]) AS d, unnest(%s::int[]) AS mv,
                 generate_series(date_trunc('hour', now()) - interval '90 days',
                                 date_trunc('hour', now()) - interval '1 hour', interval '1 hour') AS ts
            """,
            [ids, [versions[k] for k in SERVICE]],
        )
        cursor.execute(
            """
            INSERT INTO metrics_metricvalue (metric_version_id, deployment_id, segment, attribute, feature,
                window_start, window_end, value, status, sample_size, details, computed_at)
            SELECT %s, d, '', '', f, ts, ts + interval '1 hour', random() * 0.3,
                   CASE WHEN random() < 0.05 THEN 'warn' ELSE 'ok' END, 1000,
                   '{"reference_size": 5000, "current_size": 1000}', now()
            FROM unnest(%s::int[]) AS d, unnest(%s::text[]) AS f,
                 generate_series(date_trunc('hour', now()) - interval '90 days',
                                 date_trunc('hour', now()) - interval '1 hour', interval '1 hour') AS ts
            """,
            [versions["feature_drift_psi"], ids, list(FEATURES)],
        )
        cursor.execute(
            """
            INSERT INTO metrics_trustscore (deployment_id, window_start, window_end, score, coverage, pillar_scores,
                pillar_coverage, contributions, readiness, reasons, containment, weight_profile, policy, inputs,
                computed_at)
            SELECT d, ts, ts + interval '1 hour', s, 0.9,
                   json_build_object('performance', s, 'reliability', 95, 'data_quality', 90, 'fairness', 80)::jsonb,
                   '{}', '[]', CASE WHEN s < 60 THEN 'blocked' WHEN s < 80 THEN 'staged' ELSE 'ready' END,
                   '[{"decision": "staged", "code": "score_below", "message": "score below 80"}]', NULL,
                   'balanced', '{}', '[]', now()
            FROM (SELECT d, ts, 40 + random() * 60 AS s FROM unnest(%s::int[]) AS d,
                  generate_series(date_trunc('hour', now()) - interval '90 days',
                                  date_trunc('hour', now()) - interval '1 hour', interval '1 hour') AS ts) AS x
            """,
            [ids],
        )
        cursor.execute("ANALYZE")
        cursor.execute("SELECT count(*) FROM metrics_metricvalue")
        values = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM metrics_trustscore")
        scores = cursor.fetchone()[0]
    return {
        "user": user,
        "deployments": ids,
        "values": values,
        "scores": scores,
        "build_s": time.perf_counter() - t0,
    }


def pages(data) -> dict[str, str]:
    from metrics.models import MetricValue

    d = data["deployments"][0]
    value = MetricValue.objects.filter(
        deployment_id=d, metric_version__definition__key="latency_p95_ms"
    ).latest("window_start")
    return {
        "portfolio": "/",
        "system": "/systems/system-00/",
        "deployment": f"/d/{d}/",
        "metric": f"/d/{d}/metrics/latency_p95_ms/",
        "segment (7d)": f"/d/{d}/metrics/latency_p95_ms/segments/all/",
        "window": f"/values/{value.pk}/",
        "sre": f"/sre/?deployment={d}",
        "ds": f"/ds/?deployment={d}",
        "platform": "/platform/",
        "scenarios": f"/scenarios/?deployment={d}&fault=latency_spike&size=3",
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--keep", action="store_true", help="reuse an existing bench database (no rebuild)")
    args = parser.parse_args()
    os.environ["DATABASE_URL"] = URL
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "healthboard.settings")
    if not args.keep:
        recreate_database()
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    if args.keep:
        from metrics.models import MetricValue

        user = get_user_model().objects.get(username="bench-exec")
        ids = sorted(set(MetricValue.objects.values_list("deployment_id", flat=True).distinct()[:200]))
        data = {"user": user, "deployments": ids, "values": None, "scores": None, "build_s": 0.0}
    else:
        data = build()
        print(
            f"built {data['values']} metric values, {data['scores']} trust scores in {data['build_s']:.0f} s"
        )
    client = Client()
    client.force_login(data["user"])
    results, failed = {}, False
    print(f"{'page':<16}{'median ms':>10}{'p95 ms':>10}{'queries':>9}")
    for name, url in pages(data).items():
        client.get(url)  # warm-up (template compilation, caches)
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            response = client.get(url)
            times.append((time.perf_counter() - start) * 1000)
            assert response.status_code == 200, (url, response.status_code)
        with CaptureQueriesContext(connection) as queries:
            client.get(url)
        times.sort()
        p95 = times[max(0, round(0.95 * len(times)) - 1)]
        results[name] = {
            "url": url,
            "median_ms": statistics.median(times),
            "p95_ms": p95,
            "queries": len(queries),
        }
        flag = "" if p95 <= BUDGET_MS else "  OVER BUDGET"
        failed |= p95 > BUDGET_MS
        print(f"{name:<16}{statistics.median(times):>10.1f}{p95:>10.1f}{len(queries):>9}{flag}")
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "results.json").write_text(
        json.dumps(
            {
                "budget_ms": BUDGET_MS,
                "values": data["values"],
                "trust_scores": data["scores"],
                "pages": results,
            },
            indent=2,
        )
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
