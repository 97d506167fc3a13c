"""Issue 8's "done when" on the demo data: after ``seed_demo --telemetry`` (the same small,
anchored demo as the trust done-when test), the executive page shows the four demo systems
with incidents among the top risks (the clinical fairness regression, the stale pipeline),
and the evidence behind a risk is a few clicks away:
risk → deployment → the critical value → its window and lineage run → the window's raw events.
"""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model

from dashboards.demo.telemetry import SPECS
from tests.test_trust_demo import demo  # noqa: F401 (a fixture)

pytestmark = pytest.mark.django_db


def test_executive_sees_the_incidents_and_reaches_the_evidence(client, demo):  # noqa: F811
    client.force_login(get_user_model().objects.get(username="executive"))
    portfolio = client.get("/").content.decode()
    for spec in SPECS:
        assert f'data-system="{spec.system}"' in portfolio
    risks = re.findall(r'data-testid="risk">(.*?)</li>', portfolio, flags=re.S)
    assert risks, "no top risks on the demo's portfolio"
    clinical = next(r for r in risks if "Clinical triage" in r and "@ prod" in r)
    fairness = re.search(r"fairness metric (\w+)", clinical)  # the fairness regression
    assert fairness, risks
    stale = [r for r in risks if "Payments fraud scoring" in r and "@ edge" in r]
    assert stale and "data_freshness_s" in stale[0], risks  # the stale pipeline

    risk_links = re.findall(r'<a href="(/d/\d+/[^"]*)" data-testid="risk">', portfolio)
    deployment_url = next(u for u, r in zip(risk_links, risks, strict=True) if r == clinical)
    deployment = client.get(deployment_url).content.decode()
    row = re.search(rf'<tr><td><a href="[^"]+">{fairness.group(1)}</a>.*?</tr>', deployment, re.S)
    assert row and "status-critical" in row.group(0)
    value_url = re.search(r'href="(/values/\d+/[^"]*)"', row.group(0)).group(1)
    window = client.get(value_url).content.decode()
    assert 'data-testid="lineage"' in window and "Computation run" in window
    events_url = re.search(r'href="(/values/\d+/events/[^"]*)"', window).group(1)
    events = client.get(events_url)
    assert events.status_code == 200 and 'data-testid="raw-events"' in events.content.decode()
