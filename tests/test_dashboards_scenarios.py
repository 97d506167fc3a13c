"""The scenario simulator computes on copies: it never writes MetricValue rows."""

from __future__ import annotations

import pytest
from django.urls import reverse

from metrics.models import MetricValue
from metrics.models.trust import TrustScore
from tests.test_dashboards_support import populate

pytestmark = pytest.mark.django_db


def test_latency_spike_changes_readiness_without_writing(client, alice, deployment_a):
    populate(deployment_a)
    before = list(MetricValue.objects.order_by("pk").values_list("pk", "value", "status"))
    scores = TrustScore.objects.count()
    client.force_login(alice)
    response = client.get(
        reverse("dashboards:scenarios"),
        {"deployment": deployment_a.pk, "fault": "latency_spike", "size": "10"},
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert 'data-testid="sim-readiness">blocked<' in html  # 1200 ms p95 > critical
    assert list(MetricValue.objects.order_by("pk").values_list("pk", "value", "status")) == before
    assert TrustScore.objects.count() == scores


def test_drift_scenario_on_one_feature(client, alice, deployment_a):
    populate(deployment_a)
    client.force_login(alice)
    html = client.get(
        reverse("dashboards:scenarios"),
        {"deployment": deployment_a.pk, "fault": "drift", "size": "0.5", "feature": "income"},
    ).content.decode()
    assert 'class="changed"' in html


def test_outsider_gets_404(client, bob, deployment_a):
    populate(deployment_a)
    client.force_login(bob)
    assert client.get(reverse("dashboards:scenarios"), {"deployment": deployment_a.pk}).status_code == 404
