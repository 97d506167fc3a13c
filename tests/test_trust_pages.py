"""Trust pages: the deployment panel (figures as JSON data blocks, no inline script), plotly.js
served from the package, and the anomaly review queue (second person only, audited)."""

from __future__ import annotations

import json
import re

import plotly
import pytest

from healthboard import access
from healthboard.models import AuditRecord
from metrics.models.trust import ScoreAnomaly
from metrics.trust import service
from tests.factories import UserFactory
from tests.trust.helpers import HOUR, T0, healthy, metric, value

pytestmark = pytest.mark.django_db


def _series_with_jump(deployment, hours=30):
    healthy(deployment, keys=("accuracy",))
    version = metric("error_rate")
    for h in range(hours + 1):
        end = T0 + (h + 1) * HOUR
        if h:
            value(deployment, metric("accuracy"), 0.95, end=end)
        bad = h == hours
        value(deployment, version, 0.045 if bad else 0.0100 + 0.0001 * ((h * 7) % 15), end=end)
        service.compute_trust(deployment.pk, end - HOUR, end)
    return ScoreAnomaly.objects.get(kind="jump")


def test_deployment_trust_page_shows_score_reasons_and_figures(client, alice, deployment_a):
    healthy(deployment_a)
    value(deployment_a, metric("demographic_parity_difference"), 0.31, attribute="sex")
    score = service.compute_trust(deployment_a.pk, T0, T0 + HOUR)
    client.force_login(alice)
    response = client.get(f"/deployments/{deployment_a.pk}/trust/")
    assert response.status_code == 200
    html = response.content.decode()
    assert f"{score.score:.1f}" in html and "Blocked" in html
    assert "metric_critical" in html and "demographic_parity_difference" in html
    assert html.count("<meter") >= 3
    # Every <script> is either an external file or a JSON data block: nothing executes inline.
    for attrs, body in re.findall(r"<script([^>]*)>(.*?)</script>", html, flags=re.S):
        assert ("src=" in attrs and not body.strip()) or 'type="application/json"' in attrs, attrs
    waterfall = json.loads(re.search(r'id="trust-waterfall-data"[^>]*>(.*?)</script>', html, re.S).group(1))
    assert waterfall["data"][0]["type"] == "waterfall"
    assert (
        waterfall["data"][0]["x"][0] == "full trust"
        and waterfall["data"][0]["x"][1] == "demographic_parity_difference"
    )
    assert waterfall["data"][0]["y"][-1] == pytest.approx(score.score)
    assert f"/vendor/plotly-{plotly.__version__}.min.js" in html
    assert "metrics/trust.js" in html


def test_history_shows_anomaly_markers(client, alice, deployment_a):
    _series_with_jump(deployment_a)
    client.force_login(alice)
    html = client.get(f"/deployments/{deployment_a.pk}/trust/").content.decode()
    history = json.loads(re.search(r'id="trust-history-data"[^>]*>(.*?)</script>', html, re.S).group(1))
    names = [trace.get("name") for trace in history["data"]]
    assert names == ["trust score", "anomaly"]
    assert len(history["data"][1]["x"]) == 1
    assert "Score jump" in html and "awaiting review" in html


def test_trust_page_is_404_for_outsiders(client, bob, deployment_a):
    client.force_login(bob)
    assert client.get(f"/deployments/{deployment_a.pk}/trust/").status_code == 404


def test_page_without_score_says_so(client, alice, deployment_a):
    client.force_login(alice)
    html = client.get(f"/deployments/{deployment_a.pk}/trust/").content.decode()
    assert "No trust score has been computed" in html and "no_score" in html


def test_plotly_js_is_served_from_the_package(client):
    response = client.get(f"/vendor/plotly-{plotly.__version__}.min.js")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    assert "immutable" in response["Cache-Control"]
    head = b"".join(response.streaming_content)[:2000]
    assert b"plotly.js" in head
    assert client.get("/vendor/plotly-0.0.1.min.js").status_code == 404


def test_policy_flip_review_by_a_second_person_is_audited(client, deployment_a, system_a, team_a):
    editor = UserFactory(username="editor", roles=["catalog_admin"])
    reviewer = UserFactory(username="reviewer", roles=["data_scientist"])
    for user in (editor, reviewer):
        user.groups.add(team_a.group)
    access.grant(system_a, [access.VIEW], group=team_a.group)
    healthy(deployment_a)
    value(deployment_a, metric("demographic_parity_difference"), 0.25, attribute="sex")
    service.compute_trust(deployment_a.pk, T0, T0 + HOUR)
    metric("demographic_parity_difference", warn=0.3, critical=0.5, by=editor)
    service.recheck_policy([deployment_a], actor=editor)
    anomaly = ScoreAnomaly.objects.get(kind="policy_flip")

    client.force_login(editor)
    page = client.get("/trust/anomalies/").content.decode()
    assert anomaly.summary[:30] in page and "you caused this change" in page
    denied = client.post(
        f"/trust/anomalies/{anomaly.pk}/review/", {"verdict": "confirmed", "note": "fine by me"}
    )
    assert denied.status_code == 403
    anomaly.refresh_from_db()
    assert not anomaly.is_reviewed

    client.force_login(reviewer)
    assert (
        f'action="/trust/anomalies/{anomaly.pk}/review/"' in client.get("/trust/anomalies/").content.decode()
    )
    response = client.post(
        f"/trust/anomalies/{anomaly.pk}/review/", {"verdict": "disputed", "note": "loosened without evidence"}
    )
    assert response.status_code == 302
    anomaly.refresh_from_db()
    assert anomaly.reviewed_by == reviewer and anomaly.verdict == "disputed"
    record = AuditRecord.objects.get(action="trust.anomaly.review")
    assert record.actor == reviewer and record.reason == "loosened without evidence"
    assert record.diff["verdict"] == ["", "disputed"]
    # Once reviewed, it cannot be reviewed again.
    again = client.post(f"/trust/anomalies/{anomaly.pk}/review/", {"verdict": "confirmed", "note": "again"})
    assert again.status_code == 403


def test_anomalies_are_scoped_and_need_a_reviewer_role(client, alice, bob, deployment_a):
    anomaly = _series_with_jump(deployment_a)
    client.force_login(bob)
    assert anomaly.summary not in client.get("/trust/anomalies/").content.decode()
    assert (
        client.post(
            f"/trust/anomalies/{anomaly.pk}/review/", {"verdict": "confirmed", "note": "x" * 5}
        ).status_code
        == 404
    )
    sre = UserFactory(username="sre-a", roles=["sre"])
    sre.groups.add(deployment_a.environment.system.team.group)
    client.force_login(sre)
    assert (
        client.post(
            f"/trust/anomalies/{anomaly.pk}/review/", {"verdict": "confirmed", "note": "x" * 5}
        ).status_code
        == 403
    )
    client.force_login(alice)  # a data scientist on the team
    response = client.post(
        f"/trust/anomalies/{anomaly.pk}/review/", {"verdict": "confirmed", "note": "real outage"}
    )
    assert response.status_code == 302
    assert ScoreAnomaly.objects.get(pk=anomaly.pk).is_reviewed
