"""Issue 7's "done when" on the demo data: ``seed_demo --telemetry`` (the four demo systems, their
telemetry through the ingestion pipeline, ``compute_metrics`` with the alert and trust hooks),
then the readiness gate for every demo deployment.

Small on purpose — a day of telemetry, two computed hours — and anchored (``--now``) at 01:00
UTC, so the computed range holds the daily window that ended at midnight: quality and fairness
are daily metrics, and the clinical fairness regression shows only there.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import call_command

from catalog.models import Deployment
from dashboards.demo.telemetry import SPECS
from metrics.models.trust import TrustScore
from tests.trust.helpers import gate

pytestmark = pytest.mark.django_db
EXIT_CODES = {"ready": 0, "staged": 10, "blocked": 20}


def _anchor() -> datetime:
    """01:00 UTC today, or yesterday's while today's is not closed yet."""
    now = datetime.now(UTC)
    today = now.replace(hour=1, minute=0, second=0, microsecond=0)
    return today if now >= today + timedelta(minutes=10) else today - timedelta(days=1)


@pytest.fixture
def demo() -> datetime:
    anchor = _anchor()
    call_command(
        "seed_demo",
        "--telemetry",
        "--days",
        "1",
        "--compute-hours",
        "2",
        "--now",
        anchor.isoformat(),
        stdout=StringIO(),
    )
    return anchor


def test_every_demo_deployment_is_scored_explained_and_answered_by_the_gate(demo):
    deployments = list(
        Deployment.objects.filter(environment__system__slug__in=[s.system for s in SPECS]).select_related(
            "environment__system", "model_version__model"
        )
    )
    assert len(deployments) == 12  # four systems, each in prod, staging and edge
    answers = {}
    for deployment in deployments:
        latest = TrustScore.objects.latest_for(deployment)
        assert latest is not None and latest.window_end == demo, deployment
        assert latest.score is not None and latest.reasons, deployment  # a score, reasons
        lost = sum(c["contribution"] for c in latest.contributions)  # the explanation adds up
        assert lost == pytest.approx(100 - latest.score, abs=1e-6), deployment
        code, out = gate(deployment)
        assert code == EXIT_CODES[latest.readiness], out
        assert f"readiness: {latest.readiness}" in out and f"score {latest.score:.1f}" in out
        assert all(reason["message"] in out for reason in latest.reasons)
        answers[(deployment.environment.system.slug, deployment.environment.slug)] = (code, out, latest)

    # The clinical deployment with the fairness regression (positives of women aged 80+ missed).
    code, out, latest = answers[("clinical-triage", "prod")]
    assert code == 20 and latest.readiness == "blocked"
    critical = {(r["metric"], r.get("attribute")) for r in latest.reasons if r["code"] == "metric_critical"}
    assert ("equal_opportunity_difference", "age_band") in critical
    assert "fairness metric equal_opportunity_difference (attribute age_band)" in out
    # The regression is the clinical model's only problem: its quality holds up.
    assert not {metric for metric, _ in critical} & {"accuracy", "precision", "recall", "f1", "roc_auc"}
