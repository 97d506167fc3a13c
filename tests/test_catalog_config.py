"""Config as code for the catalog: sections ``metrics``, ``weight_profiles`` and
``threshold_overrides`` in apply_config / export_config. Only changed content creates versions,
audited with the file as the reason."""

from __future__ import annotations

import io
import textwrap
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from catalog import services
from catalog.models import Environment, MetricVersion, System, ThresholdOverride, WeightProfileVersion
from healthboard.models import AuditRecord
from tests.catalog_support import current

pytestmark = pytest.mark.django_db
pytest_plugins = ["tests.catalog_fixtures"]

SAMPLE = Path(__file__).resolve().parent.parent / "catalog" / "fixtures" / "sample_config.yaml"


def apply(path, *args) -> str:
    out = io.StringIO()
    call_command("apply_config", str(path), *args, stdout=out)
    return out.getvalue()


def export(tmp_path, name="export.yaml") -> Path:
    target = tmp_path / name
    call_command("export_config", "-o", str(target), stderr=io.StringIO())
    return target


def write(tmp_path, text: str, name="catalog.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def catalog_counts() -> tuple[int, int, int, int]:
    return (
        MetricVersion.objects.count(),
        ThresholdOverride.objects.count(),
        WeightProfileVersion.objects.count(),
        AuditRecord.objects.count(),
    )


def test_export_contains_the_catalog_and_applies_back_without_a_change(tmp_path, admin_a):
    apply(SAMPLE)
    services.set_threshold_override(
        "latency_p95_ms",
        scope="environment",
        target=Environment.objects.get(system__slug="credit-risk", slug="prod"),
        critical_threshold=1500.0,
        reason="x",
        actor=admin_a,
    )
    services.create_metric_version("f1", {"playbook": "1. Look.\n2. Fix.\n"}, reason="short", actor=admin_a)
    exported = export(tmp_path)
    text = exported.read_text()
    assert "\nmetrics:\n  - key: accuracy\n" in text
    assert "\nweight_profiles:\n  - name: balanced\n" in text
    assert (
        "{metric: latency_p95_ms, system: credit-risk, environment: prod, critical_threshold: 1500.0}" in text
    )
    assert "    playbook: |\n      1. Look.\n      2. Fix.\n" in text
    before = catalog_counts()
    out = apply(exported)
    assert "No changes" in out and "left as is" not in out
    assert catalog_counts() == before
    assert export(tmp_path, "again.yaml").read_text() == text


def test_only_changed_metric_content_creates_a_version(tmp_path):
    path = write(
        tmp_path,
        """
        metrics:
          - key: latency_p95_ms
            critical_threshold: 1500
          - key: error_rate
            warn_threshold: 0.01
            critical_threshold: 0.05
        """,
    )
    out = apply(path)
    assert "~ update metric latency_p95_ms v1 → v2: critical_threshold 1000.0 → 1500.0" in out
    assert "error_rate" not in out  # identical content: nothing to do
    v2 = current("latency_p95_ms")
    assert (v2.number, v2.critical_threshold, v2.warn_threshold) == (2, 1500.0, 500.0)
    assert v2.change_reason == f"apply_config {path}"
    record = AuditRecord.objects.get(action="catalog.metric.version_created")
    assert record.source == "config" and record.diff["critical_threshold"] == [1000.0, 1500.0]
    assert record.reason == f"apply_config {path}"
    assert current("error_rate").number == 1
    before = catalog_counts()
    assert "No changes" in apply(path)
    assert catalog_counts() == before


def test_a_new_metric_and_a_new_weight_profile_that_uses_it(tmp_path):
    path = write(
        tmp_path,
        """
        metrics:
          - key: queue_lag_s
            name: Queue lag
            pillar: reliability
            calculator: queue_lag_s
            data_source: worker_queues
            direction: lower_is_better
            unit: s
            warn_threshold: 60
            critical_threshold: 300
            playbook: |
              1. Check the worker queue depth.
              2. Scale the workers.
        weight_profiles:
          - name: batch-scoring
            description: Nightly batch systems.
            pillar_weights: {performance: 0.4, fairness: 0.2, reliability: 0.1, data_quality: 0.3}
            metric_weights: {queue_lag_s: 2}
        """,
    )
    out = apply(path)
    assert "+ create metric queue_lag_s" in out and "+ create weight profile batch-scoring" in out
    version = current("queue_lag_s")
    assert (version.number, version.window, version.warn_threshold, version.playbook) == (
        1,
        "1h",
        60.0,
        "1. Check the worker queue depth.\n2. Scale the workers.\n",
    )
    profile = WeightProfileVersion.objects.get(profile__name="batch-scoring")
    assert profile.metric_weights == {"queue_lag_s": 2.0} and profile.number == 1
    assert "No changes" in apply(path)


def test_overrides_by_scope_and_clearing(tmp_path):
    apply(SAMPLE)
    path = write(
        tmp_path,
        """
        threshold_overrides:
          - {metric: error_rate, system: credit-risk, warn_threshold: 0.02}
          - {metric: error_rate, system: credit-risk, environment: prod, critical_threshold: 0.08, for_windows: 3}
        """,
    )
    out = apply(path)
    assert out.count("+ create threshold override") == 2
    system = ThresholdOverride.objects.get(scope="system", is_current=True)
    env = ThresholdOverride.objects.get(scope="environment", is_current=True)
    assert (system.warn_threshold, system.critical_threshold) == (0.02, None)
    assert (env.critical_threshold, env.for_windows, env.environment.slug) == (0.08, 3, "prod")
    assert AuditRecord.objects.filter(action="catalog.override.version_created", source="config").count() == 2
    assert "No changes" in apply(path)
    cleared = write(
        tmp_path, "threshold_overrides:\n  - {metric: error_rate, system: credit-risk}\n", "clear.yaml"
    )
    out = apply(cleared)
    assert "~ update threshold override error_rate @ system credit-risk" in out
    assert "left as is: threshold override error_rate @ environment credit-risk/prod" in out
    assert ThresholdOverride.objects.get(scope="system", is_current=True).is_cleared


def test_a_deployment_override_may_name_a_deployment_the_file_creates(tmp_path):
    path = write(
        tmp_path,
        """
        systems:
          - slug: ads
            name: Ads
            team: growth
            weight_profile: low-latency
            models:
              - {slug: ranker, task: binary_classification, versions: ['1.0']}
            environments: [prod]
            deployments:
              - {model: ranker, version: '1.0', environment: prod}
        threshold_overrides:
          - metric: latency_p99_ms
            system: ads
            deployment: {model: ranker, version: '1.0', environment: prod}
            critical_threshold: 150
            warn_threshold: 80
        """,
    )
    apply(path)
    override = ThresholdOverride.objects.get()
    assert override.scope == "deployment" and override.deployment.environment.slug == "prod"
    policy = services.effective_policy("latency_p99_ms", override.deployment)
    assert (policy.warn, policy.critical, policy.source) == (80.0, 150.0, "deployment")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "metrics:\n  - key: latency_p95_ms\n    critical_threshold: 100\n",
            "catalog.yaml:3: metrics[0].critical_threshold: Lower is better",
        ),
        (
            "metrics:\n  - key: latency_p95_ms\n    pillar: vibes\n",
            "metrics[0].pillar: 'vibes' is not one of",
        ),
        ("metrics:\n  - key: brand_new\n    name: New\n", "new metric 'brand_new' needs pillar"),
        ("metrics:\n  - key: f1\n    for_windows: 0\n", "metrics[0].for_windows: must be at least 1"),
        ("threshold_overrides:\n  - {metric: nope, system: nowhere}\n", "no metric 'nope'"),
        (
            "weight_profiles:\n  - name: balanced\n    metric_weights: {unknown_metric: 1}\n",
            "unknown metric 'unknown_metric'",
        ),
        (
            "systems:\n  - {slug: ads, name: Ads, team: growth, weight_profile: custom}\n",
            "systems[0].weight_profile: no weight profile named 'custom'",
        ),
    ],
)
def test_bad_catalog_entries_apply_nothing(tmp_path, text, message):
    before = catalog_counts()
    with pytest.raises(CommandError) as excinfo:
        apply(write(tmp_path, text))
    assert message in str(excinfo.value)
    assert catalog_counts() == before


def test_a_system_may_name_a_profile_the_same_file_creates(tmp_path):
    path = write(
        tmp_path,
        """
        weight_profiles:
          - name: clinical
            pillar_weights: {performance: 0.3, fairness: 0.5, reliability: 0.1, data_quality: 0.1}
        systems:
          - {slug: triage, name: Triage, team: health, weight_profile: clinical}
        """,
    )
    apply(path)
    assert services.current_weights(System.objects.get(slug="triage")).profile.name == "clinical"
