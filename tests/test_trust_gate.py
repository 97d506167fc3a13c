"""``manage.py readiness_gate``: exit 0 ready / 10 staged / 20 blocked, reasons printed."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from metrics.trust import service
from tests.factories import DeploymentFactory
from tests.trust.helpers import HOUR, T0, gate, healthy, metric, value

pytestmark = pytest.mark.django_db


def test_ready_exits_0(deployment_a):
    healthy(deployment_a)
    service.compute_trust(deployment_a.pk, T0, T0 + HOUR)
    code, out = gate(deployment_a)
    assert code == 0
    assert out.startswith("readiness: ready (exit 0)")
    assert "all_clear" in out


def test_staged_exits_10_with_containment(deployment_a):
    healthy(deployment_a, keys=("latency_p95_ms", "error_rate", "null_rate"))
    value(deployment_a, metric("accuracy"), 0.78)  # warn
    service.compute_trust(deployment_a.pk, T0, T0 + HOUR)
    code, out = gate(deployment_a)
    assert code == 10
    assert "[staged] metric_warn: performance metric accuracy = 0.78" in out
    assert "containment: start with 10% of traffic" in out


def test_blocked_exits_20_naming_the_metric(deployment_a):
    healthy(deployment_a)
    value(deployment_a, metric("demographic_parity_difference"), 0.4, attribute="sex")
    service.compute_trust(deployment_a.pk, T0, T0 + HOUR)
    code, out = gate(deployment_a)
    assert code == 20
    assert "metric_critical: fairness metric demographic_parity_difference (attribute sex) = 0.4" in out


def test_json_output_and_no_score(deployment_a):
    code, out = gate(deployment_a, "--json")
    body = json.loads(out)
    assert code == 10 and body["exit_code"] == 10
    assert body["readiness"] == "staged" and body["reasons"][0]["code"] == "no_score"


def test_stale_score_is_staged(deployment_a):
    healthy(deployment_a)
    service.compute_trust(deployment_a.pk, T0, T0 + HOUR)
    code, out = gate(deployment_a, "--max-age-hours", "1")
    assert code == 10 and "stale_score" in out


def test_unknown_deployment_fails_closed(deployment_a):
    other = DeploymentFactory()
    with pytest.raises(CommandError) as excinfo:
        call_command(
            "readiness_gate", "nope", "m", "1", "--environment", other.environment.slug, stdout=StringIO()
        )
    assert excinfo.value.returncode == 2


def test_compute_trust_command_backfills_hourly_windows_then_the_gate_answers(deployment_a):
    for h in range(3):
        healthy(deployment_a, end=T0 + (h + 1) * HOUR)
    out = StringIO()
    call_command("compute_trust", "--start", T0.isoformat(), "--end", (T0 + 3 * HOUR).isoformat(), stdout=out)
    assert "3 trust scores computed for 1 deployments." in out.getvalue()
    assert deployment_a.trust_scores.count() == 3
    assert gate(deployment_a)[0] == 0
