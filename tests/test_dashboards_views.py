"""Dashboards: each view renders for its role, hides what the role may not see, bounded queries."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from alerts.models import Alert
from dashboards.export import Table, csv_response
from healthboard import access
from metrics.models import MetricValue
from tests.factories import DeploymentFactory, SystemFactory, UserFactory
from tests.test_dashboards_support import firing_alert, populate

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def own_cache(settings, request):
    """A cache of this test's own: the platform page caches closed hours of ingestion
    statistics, and test databases reuse ids (a shared Redis would leak entries across tests)."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": request.node.nodeid,
        }
    }


def login(client, user):
    client.force_login(user)
    return client


def test_portfolio_shows_only_visible_systems_with_scores_and_risks(
    client, alice, bob, deployment_a, deployment_b
):
    populate(deployment_a, score=55.0, readiness="blocked")
    populate(deployment_b)
    firing_alert(deployment_a)
    html = login(client, alice).get("/").content.decode()
    assert 'data-system="system-a"' in html
    assert "system-b" not in html
    assert "55" in html and "readiness-blocked" in html
    assert "latency_p95_ms is critical" in html  # the risk's one-line reason
    assert reverse("dashboards:deployment", args=[deployment_a.pk]) in html  # the risk drills down
    assert 'data-testid="firing-critical"><span class="stat-num crit">1<' in html


def test_portfolio_query_count_does_not_grow_with_systems(client, django_assert_max_num_queries):
    user = UserFactory(username="exec", roles=["executive"])
    for n in range(2):
        d = DeploymentFactory(model_version__model__system=SystemFactory(slug=f"s{n}"))
        access.grant(d.environment.system, [access.VIEW], user=user)
        populate(d, hours=3)
    login(client, user)
    with django_assert_max_num_queries(14):
        assert client.get("/").status_code == 200
    for n in range(2, 8):
        d = DeploymentFactory(model_version__model__system=SystemFactory(slug=f"s{n}"))
        access.grant(d.environment.system, [access.VIEW], user=user)
        populate(d, hours=3)
        firing_alert(d, "warning")
    access.forget_cached_access(user)
    with django_assert_max_num_queries(14):
        response = client.get("/")
    assert response.content.decode().count('class="tile"') == 8


def test_drill_down_chain_for_owner_and_404_for_outsider(client, alice, bob, deployment_a):
    populate(deployment_a)
    value = MetricValue.objects.filter(
        deployment=deployment_a, metric_version__definition__key="latency_p95_ms"
    ).first()
    urls = [
        reverse("dashboards:system", args=["system-a"]),
        reverse("dashboards:deployment", args=[deployment_a.pk]),
        reverse("dashboards:metric", args=[deployment_a.pk, "latency_p95_ms"]),
        reverse("dashboards:segment", args=[deployment_a.pk, "latency_p95_ms", "all"]),
        reverse("dashboards:value", args=[value.pk]),
        reverse("dashboards:events", args=[value.pk]),
    ]
    login(client, alice)
    for url in urls:
        response = client.get(url + "?env=production&range=24h")
        assert response.status_code == 200, url
        html = response.content.decode()
        assert 'aria-label="Breadcrumb"' in html
        assert "range=24h" in html  # the filters are kept in the breadcrumb links
    value_html = client.get(urls[4]).content.decode()
    assert f"run {value.run_id}" in value_html or f"#{value.run_id}" in value_html
    assert "v1" in value_html or "(current)" in value_html
    client.logout()
    login(client, bob)
    for url in urls:
        assert client.get(url).status_code == 404, url


def test_sensitive_fairness_hidden_without_view_sensitive(client, alice, deployment_a, system_a):
    populate(deployment_a)
    fairness = MetricValue.objects.filter(
        deployment=deployment_a, metric_version__definition__key="demographic_parity_difference"
    ).first()
    login(client, alice)
    html = client.get(reverse("dashboards:deployment", args=[deployment_a.pk])).content.decode()
    assert "demographic_parity_difference" not in html
    assert 'data-testid="sensitive-hidden"' in html
    assert client.get(reverse("dashboards:value", args=[fairness.pk])).status_code == 404
    assert (
        client.get(
            reverse("dashboards:metric", args=[deployment_a.pk, "demographic_parity_difference"])
        ).status_code
        == 404
    )
    ds = client.get(reverse("dashboards:ds") + f"?deployment={deployment_a.pk}").content.decode()
    assert (
        'data-testid="fairness-restricted"' in ds
        and "rate" not in ds.split("Fairness by group")[1].split("</table>")[0]
    )

    access.grant(system_a, [access.VIEW_SENSITIVE], user=alice)
    access.forget_cached_access(alice)
    ds = client.get(reverse("dashboards:ds") + f"?deployment={deployment_a.pk}").content.decode()
    assert 'data-testid="fairness"' in ds and "n=40" in ds and "demographic_parity_difference" in ds
    assert client.get(reverse("dashboards:value", args=[fairness.pk])).status_code == 200


@pytest.mark.parametrize("name", ["sre", "ds", "platform", "scenarios"])
def test_role_pages_render_scoped_and_bounded(
    client, alice, bob, deployment_a, deployment_b, name, django_assert_max_num_queries
):
    populate(deployment_a)
    populate(deployment_b)
    login(client, alice)
    with django_assert_max_num_queries(25):
        response = client.get(reverse(f"dashboards:{name}") + f"?deployment={deployment_a.pk}")
    assert response.status_code == 200
    html = response.content.decode()
    assert "system-b" not in html
    if name != "platform":
        assert "system-a" in html
    assert client.get(reverse(f"dashboards:{name}") + f"?deployment={deployment_b.pk}").status_code in (
        200,
        404,
    )


def test_sre_shows_percentiles_and_charts(client, alice, deployment_a):
    populate(deployment_a, p95=321.0)
    html = login(client, alice).get(reverse("dashboards:sre")).content.decode()
    assert "321.000" in html and 'id="latency-chart-data"' in html and reverse("alerts:queue") in html


def test_nav_by_role(client, alice, bob):
    assert 'data-nav="ds"' in login(client, alice).get("/").content.decode()
    assert 'data-nav="sre"' not in client.get("/").content.decode()
    client.logout()
    html = login(client, bob).get("/").content.decode()
    assert 'data-nav="sre"' in html and 'data-nav="ds"' not in html


def test_csv_export_of_tables(client, alice, bob, deployment_a, deployment_b):
    populate(deployment_a)
    populate(deployment_b)
    login(client, alice)
    response = client.get(reverse("dashboards:sre") + "?format=csv&table=service")
    assert response["Content-Type"].startswith("text/csv")
    lines = response.content.decode().strip().splitlines()
    assert lines[0].startswith("deployment,label,latency_p50_ms")
    assert len(lines) == 2 and "system-a" in lines[1]
    segment = client.get(
        reverse("dashboards:segment", args=[deployment_a.pk, "latency_p95_ms", "all"]) + "?format=csv"
    ).content.decode()
    assert segment.count("\n") == 7  # header + six windows
    assert client.get("/?format=csv&table=nope").status_code == 404


def test_drift_cell_opens_distribution_statistics(client, alice, deployment_a):
    populate(deployment_a)
    value = MetricValue.objects.filter(
        deployment=deployment_a, metric_version__definition__key="feature_drift_psi", segment="region=eu"
    ).first()
    login(client, alice)
    ds = client.get(
        reverse("dashboards:ds") + f"?deployment={deployment_a.pk}&cohort=region%3Deu"
    ).content.decode()
    assert 'data-cell-url="' in ds and "drift-heatmap-data" in ds
    response = client.get(
        reverse("dashboards:ds-distribution"),
        {
            "deployment": deployment_a.pk,
            "feature": "income",
            "segment": "region=eu",
            "window": value.window_start.isoformat(),
        },
        headers={"HX-Request": "true"},
    )
    html = response.content.decode()
    assert response.status_code == 200 and "<html" not in html  # an htmx partial
    assert f'href="{reverse("dashboards:ds-distribution")}?' in html  # its own CSV links, not the page's
    assert "feature_drift_psi" in html and ">300<" in html and ">90<" in html


def test_filters_restrict_environment(client, alice, deployment_a):
    populate(deployment_a)
    html = (
        login(client, alice)
        .get(reverse("dashboards:system", args=["system-a"]) + "?env=staging")
        .content.decode()
    )
    assert "No deployments match the filters." in html


def chart_links(html: str) -> list[str]:
    return re.findall(r'data-testid="csv-chart-([a-z_]+)"', html)


@pytest.mark.parametrize(
    ("page", "charts"),
    [
        ("system", {"chart"}),
        ("segment", {"chart"}),
        ("sre", {"latency_chart", "error_chart"}),
        ("ds", {"heatmap", "cohort_map", "quality_chart"}),
        ("platform", {"throughput_chart"}),
    ],
)
def test_every_chart_exports_its_data_as_csv(client, alice, deployment_a, page, charts):
    populate(deployment_a, p95=321.0)
    urls = {
        "system": reverse("dashboards:system", args=["system-a"]),
        "segment": reverse("dashboards:segment", args=[deployment_a.pk, "latency_p95_ms", "all"]),
        "sre": reverse("dashboards:sre"),
        "ds": reverse("dashboards:ds") + f"?deployment={deployment_a.pk}",
        "platform": reverse("dashboards:platform"),
    }
    url = urls[page]
    login(client, alice)
    response = client.get(url)
    assert set(chart_links(response.content.decode())) == charts
    sep = "&" if "?" in url else "?"
    for name in charts:
        figure = response.context[name]
        exported = client.get(f"{url}{sep}format=csv&chart={name}")
        assert exported["Content-Type"].startswith("text/csv")
        rows = list(csv.reader(io.StringIO(exported.content.decode())))
        assert rows[0] == ["series", "x", "y", "value", "label"]
        points = sum(
            len(t["z"]) * len(t["x"]) if t["type"] == "heatmap" else len(t["x"]) for t in figure["data"]
        )
        assert len(rows) - 1 == points, name
    if page == "sre":
        latency = client.get(f"{url}?format=csv&chart=latency_chart").content.decode().splitlines()
        assert sum(1 for line in latency if line.startswith("p95,") and line.endswith(",321.0,,")) == 6
    if page == "ds":
        heat = list(
            csv.reader(io.StringIO(client.get(f"{url}{sep}format=csv&chart=heatmap").content.decode()))
        )
        assert ["income", "critical"] not in heat  # all traffic: ok cells, coded 0
        assert {row[2] for row in heat[1:]} == {"income"} and {row[3] for row in heat[1:]} == {"0"}
    assert client.get(f"{url}{sep}format=csv&chart=nope").status_code == 404


def test_distribution_overlay_exports_its_bars(client, alice, deployment_a):
    """The chart CSV works on partials too (the drift cell's histogram overlay, when present)."""
    populate(deployment_a)
    value = MetricValue.objects.filter(
        deployment=deployment_a, metric_version__definition__key="feature_drift_psi", segment=""
    ).first()
    login(client, alice)
    response = client.get(
        reverse("dashboards:ds-distribution"),
        {
            "deployment": deployment_a.pk,
            "feature": "income",
            "window": value.window_start.isoformat(),
            "format": "csv",
        },
    )
    assert response.status_code == 200 and response.content.decode().startswith("metric,value,status")


def test_csv_cells_that_look_like_formulas_are_quoted():
    table = Table("t", ["a", "b"], [["=HYPERLINK(1)", -1.5], ["@x", None]])
    text = csv_response(table, "page").content.decode().splitlines()
    assert text[1:] == ["'=HYPERLINK(1),-1.5", "'@x,"]


def test_platform_task_durations_from_runs_and_deliveries(client, alice, deployment_a, deployment_b):
    from alerts.models import Channel, DeliveryAttempt, Incident, Notification
    from metrics.models import ComputationRun

    now = timezone.now()

    def unit(deployment, started, seconds, *, task_id="celery-1", failed=False, windows=3):
        for n in range(windows):
            ComputationRun.objects.create(
                deployment=deployment,
                kind="window",
                task_id=task_id,
                status="failed" if failed and n == windows - 1 else "succeeded",
                started_at=started,
                finished_at=started + timedelta(seconds=seconds * (n + 1) / windows),
            )

    unit(deployment_a, now - timedelta(hours=2), 2.0)
    unit(deployment_a, now - timedelta(hours=1), 4.0)
    unit(deployment_a, now - timedelta(minutes=30), 6.0, failed=True)
    unit(deployment_a, now - timedelta(minutes=20), 1.0, task_id="")  # the compute_metrics command
    ComputationRun.objects.create(  # still running: counted, no duration
        deployment=deployment_a, kind="window", task_id="celery-2", status="running", started_at=now
    )
    unit(deployment_b, now - timedelta(hours=1), 100.0)  # another team's: not counted
    channel = Channel.objects.create(name="ops", kind="email", email_to="ops@example.com")
    incident = Incident.objects.create(system=deployment_a.environment.system, title="latency")
    notification = Notification.objects.create(
        channel=channel,
        incident=incident,
        group_key="g",
        state_hash="h",
        kind="firing",
        created_at=now - timedelta(minutes=10),
        delivered_at=now - timedelta(minutes=9),
        status="delivered",
    )
    for number, (ms, outcome) in enumerate([(120.0, "retry"), (80.0, "delivered")], start=1):
        DeliveryAttempt.objects.create(
            notification=notification,
            number=number,
            duration_ms=ms,
            outcome=outcome,
            started_at=now - timedelta(minutes=10),
        )
    login(client, alice)
    response = client.get(reverse("dashboards:platform"))
    rows = {t.task: t for t in response.context["durations"]}
    compute = rows["metrics.tasks_compute.compute_deployment"]
    assert (compute.count, compute.failures) == (4, 1)
    assert compute.p50_s == pytest.approx(4.0) and compute.max_s == pytest.approx(6.0)
    assert compute.p95_s == pytest.approx(5.8)  # linear interpolation between 4 and 6
    assert rows["compute_metrics command"].count == 1
    delivery = rows["alerts.tasks.dispatch_notifications"]
    assert (delivery.count, delivery.failures) == (2, 1) and delivery.p50_s == pytest.approx(0.1)
    assert rows["notification outbox"].p50_s == pytest.approx(60.0)
    html = response.content.decode()
    assert 'data-testid="task-durations"' in html and "compute_deployment" in html
    markers = {t["name"]: t for t in response.context["throughput_chart"]["data"] if t.get("yaxis") == "y2"}
    assert markers["incident"]["text"] == ["incident (system-a): latency"]  # the time chart's markers
    exported = client.get(reverse("dashboards:platform") + "?format=csv&table=task_durations")
    assert "metrics.tasks_compute.compute_deployment,compute" in exported.content.decode()


# Upper bounds of the queries each page runs (session, user, access and the page's own); a page
# must not run more queries when there are more systems, deployments or windows.
QUERY_BOUNDS = {  # measured + 2 (a session or middleware query more must not fail every page)
    "portfolio": 14,  # 12 with top risks (their reasons are read for the five shown)
    "system": 18,
    "deployment": 14,
    "metric": 12,
    "segment": 16,
    "window": 9,
    "events": 11,
    "distribution": 16,
    "sre": 15,
    "ds": 16,
    "platform": 18,
    "scenarios": 9,  # without a run; a run adds the engine's reads (tests/test_dashboards_scenarios.py)
}


def page_urls(deployment) -> dict[str, str]:
    value = MetricValue.objects.filter(
        deployment=deployment, metric_version__definition__key="latency_p95_ms"
    ).latest("window_start")
    drift = MetricValue.objects.filter(
        deployment=deployment, metric_version__definition__key="feature_drift_psi", segment=""
    ).latest("window_start")
    return {
        "portfolio": "/",
        "system": reverse("dashboards:system", args=[deployment.environment.system.slug]),
        "deployment": reverse("dashboards:deployment", args=[deployment.pk]),
        "metric": reverse("dashboards:metric", args=[deployment.pk, "latency_p95_ms"]),
        "segment": reverse("dashboards:segment", args=[deployment.pk, "latency_p95_ms", "all"]),
        "window": reverse("dashboards:value", args=[value.pk]),
        "events": reverse("dashboards:events", args=[value.pk]),
        "distribution": reverse("dashboards:ds-distribution")
        + f"?deployment={deployment.pk}&feature=income&window={drift.window_start.isoformat()}".replace(
            "+", "%2B"
        ),
        "sre": reverse("dashboards:sre") + f"?deployment={deployment.pk}",
        "ds": reverse("dashboards:ds") + f"?deployment={deployment.pk}",
        "platform": reverse("dashboards:platform"),
        "scenarios": reverse("dashboards:scenarios"),
    }


def test_every_page_has_a_bounded_query_count_independent_of_data_volume(client, alice, deployment_a):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    populate(deployment_a, hours=3)
    access.grant(deployment_a.environment.system, [access.VIEW_SENSITIVE], user=alice)
    urls = page_urls(deployment_a)
    login(client, alice)

    def counts():
        access.forget_cached_access(alice)
        out = {}
        for name, url in urls.items():
            with CaptureQueriesContext(connection) as queries:
                assert client.get(url).status_code == 200, url
            out[name] = len(queries)
        return out

    counts()  # warm the per-process caches (content types, compiled templates)
    few = counts()
    for n in range(4):  # more systems, deployments, windows and alerts
        other = DeploymentFactory(
            model_version__model__system=SystemFactory(
                slug=f"more-{n}", team=deployment_a.environment.system.team
            )
        )
        access.grant(other.environment.system, [access.VIEW], user=alice)
        populate(other, hours=30)
        firing_alert(other)
    sibling = DeploymentFactory(model_version__model__system=deployment_a.environment.system)
    populate(sibling, hours=30)
    counts()  # warm again: the platform page caches closed hours per set of visible systems
    many = counts()
    assert many == few
    over = {name: n for name, n in many.items() if n > QUERY_BOUNDS[name]}
    assert not over, (over, many)


def test_throughput_caches_closed_hours_and_sums_the_current_one_live(system_a):
    from dashboards import throughput
    from metrics.models.ingestion import IngestionStat

    now = timezone.now().replace(minute=30, second=0, microsecond=0)
    hour = now.replace(minute=0)

    def stat(at, accepted):
        IngestionStat.objects.create(system=system_a, bucket=at, kind="event", accepted=accepted)

    stat(hour - timedelta(hours=2, minutes=-5), 100)
    stat(hour - timedelta(minutes=10), 10)
    stat(hour + timedelta(minutes=5), 1)
    first = throughput.hourly([system_a.pk], now - timedelta(hours=3), now)
    assert [(r["hour"], r["accepted"]) for r in first] == [
        (hour - timedelta(hours=2), 100),
        (hour - timedelta(hours=1), 10),
        (hour, 1),
    ]
    stat(hour + timedelta(minutes=6), 2)  # the current hour: seen at once
    IngestionStat.objects.filter(accepted=10).update(accepted=11)  # a closed hour: cached
    again = throughput.hourly([system_a.pk], now - timedelta(hours=3), now)
    assert [r["accepted"] for r in again] == [100, 10, 3]
    days = throughput.buckets([system_a.pk], now - timedelta(hours=3), now, by_day=True)
    assert sum(d["accepted"] for d in days) == 113 and {d["minutes"] for d in days} == {1440}
    assert all(d["start"].endswith("T00:00:00+00:00") for d in days)


def test_rejections_merge_cached_closed_hours_with_the_current_hour(system_a):
    from dashboards import throughput
    from metrics.models.ingestion import IngestionRejection

    now = timezone.now().replace(minute=30, second=0, microsecond=0)
    hour = now.replace(minute=0)
    for at, reason, records in [
        (hour - timedelta(hours=1), "wrong_type", 5),
        (hour + timedelta(minutes=1), "wrong_type", 2),
        (hour + timedelta(minutes=2), "too_large", 0),
    ]:
        IngestionRejection.objects.create(
            system=system_a,
            bucket=at,
            kind="event",
            reason=reason,
            records=records,
            requests=int(not records),
        )
    rows = throughput.rejections([system_a.pk], now - timedelta(hours=2), now)
    assert [(r["reason"], r["records"], r["requests"]) for r in rows] == [
        ("wrong_type", 7, 0),
        ("too_large", 0, 1),
    ]


def test_trust_panel_charts_export_through_the_same_mechanism(client, alice, deployment_a):
    populate(deployment_a, hours=6, score=70.0, readiness="staged")
    url = reverse("metrics:deployment-trust", args=[deployment_a.pk])
    login(client, alice)
    response = client.get(url)
    assert set(chart_links(response.content.decode())) >= {"waterfall", "history"}
    history = list(csv.reader(io.StringIO(client.get(f"{url}?format=csv&chart=history").content.decode())))
    scores = [row for row in history[1:] if row[0] == "trust score"]
    assert len(scores) == 6 and {row[2] for row in scores} == {"70.0"}


def test_long_ranges_chart_each_days_worst_value(client, alice, deployment_a):
    populate(deployment_a, hours=30, p95=120.0)
    spike = (
        MetricValue.objects.filter(deployment=deployment_a, metric_version__definition__key="latency_p95_ms")
        .order_by("window_start")
        .last()
    )
    MetricValue.objects.filter(pk=spike.pk).update(value=900.0)
    url = reverse("dashboards:segment", args=[deployment_a.pk, "latency_p95_ms", "all"])
    login(client, alice)
    week = client.get(url)
    assert len(week.context["chart"]["data"][0]["y"]) == 30 and not week.context["daily"]
    month = client.get(url + "?range=30d")
    line = month.context["chart"]["data"][0]
    assert line["name"] == "v1 (daily worst)" and 2 <= len(line["y"]) <= 3
    assert max(line["y"]) == 900.0 and min(line["y"]) == 120.0
    assert 'data-testid="daily-note"' in month.content.decode()
    assert month.content.decode().count('data-testid="windows"') == 1


def test_sensitive_values_in_readiness_reasons_are_redacted_without_view_sensitive(
    client, alice, deployment_a, system_a
):
    populate(deployment_a, score=40.0, readiness="blocked")
    reason = {
        "decision": "blocked",
        "code": "metric_critical",
        "metric": "demographic_parity_difference",
        "pillar": "fairness",
        "attribute": "sex",
        "value": 0.3141,
        "threshold": 0.2,
        "message": "fairness metric demographic_parity_difference (attribute sex) = 0.3141, at or above its critical threshold 0.2",
    }
    from metrics.models.trust import TrustScore

    TrustScore.objects.filter(deployment=deployment_a).update(reasons=[reason])
    fairness = firing_alert(deployment_a)
    dpd = MetricValue.objects.filter(metric_version__definition__key="demographic_parity_difference").first()
    Alert.objects.filter(pk=fairness.pk).update(
        metric=dpd.metric_version.definition, metric_version=dpd.metric_version, value=0.3141
    )
    login(client, alice)
    pages = [
        "/",
        "/?format=csv&table=risks",
        reverse("dashboards:deployment", args=[deployment_a.pk]),
    ]
    for url in pages:
        html = client.get(url).content.decode()
        assert "demographic_parity_difference" in html, url  # the reason is named …
        assert "0.314" not in html and "value hidden" in html, url  # … its value is not
    access.grant(system_a, [access.VIEW_SENSITIVE], user=alice)
    access.forget_cached_access(alice)
    assert "0.3141" in client.get("/").content.decode()
