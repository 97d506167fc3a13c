"""``manage.py readiness_gate SYSTEM MODEL VERSION --environment ENV`` — the CI/CD gate.

Answers from the latest stored trust score of the deployment (DESIGN.md §5.7) and exits with:

- ``0``  ready   — roll out;
- ``10`` staged  — roll out as a canary (the containment names the first traffic share and the
  rollback target);
- ``20`` blocked — do not roll out;
- ``2``  the deployment does not exist (or the arguments are wrong): a pipeline fails closed.

The reasons are printed one per line (``--json`` prints the API's readiness body plus
``exit_code`` instead). ``--max-age-hours H`` stages an answer whose score is older than H hours;
``--compute`` first scores the latest closed hour (the same code the workers run).
"""

from __future__ import annotations

import datetime as dt
import json

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from catalog.models import Deployment
from metrics.trust import service

EXIT_CODES = {"ready": 0, "staged": 10, "blocked": 20}
NOT_FOUND = 2


class Command(BaseCommand):
    help = "Exit 0 (ready), 10 (staged) or 20 (blocked) for a model version in an environment, printing the reasons."

    def add_arguments(self, parser):
        parser.add_argument("system", help="system slug")
        parser.add_argument("model", help="model slug")
        parser.add_argument("version", help="model version, e.g. 2.3.1")
        parser.add_argument("--environment", "-e", required=True, help="environment slug, e.g. prod")
        parser.add_argument("--json", action="store_true", help="print the answer as JSON")
        parser.add_argument("--max-age-hours", type=float, default=None, help="stage a score older than this")
        parser.add_argument("--compute", action="store_true", help="score the latest closed hour first")

    def handle(self, *args, **options):
        deployment = (
            Deployment.objects.select_related("environment__system", "model_version__model")
            .filter(
                environment__system__slug=options["system"],
                environment__slug=options["environment"],
                model_version__model__slug=options["model"],
                model_version__version=options["version"],
            )
            .first()
        )
        if deployment is None:
            raise CommandError(
                f"No deployment of {options['system']}/{options['model']} {options['version']} "
                f"in environment {options['environment']}.",
                returncode=NOT_FOUND,
            )
        if options["compute"]:
            end = timezone.now().replace(minute=0, second=0, microsecond=0)
            service.compute_trust(deployment.pk, end - service.DEFAULT_WINDOW, end)
        max_age = dt.timedelta(hours=options["max_age_hours"]) if options["max_age_hours"] else None
        answer = service.gate(deployment, max_age=max_age)
        code = EXIT_CODES[answer["readiness"]]
        if options["json"]:
            self.stdout.write(json.dumps({**answer, "exit_code": code}, indent=2, default=str))
        else:
            self._print(answer, code)
        if code:
            # Exit without a traceback or "CommandError:" prefix; the answer is already printed.
            self.stdout.flush()
            raise SystemExit(code)

    def _print(self, answer: dict, code: int) -> None:
        write = self.stdout.write
        score = "—" if answer["score"] is None else f"{answer['score']:.1f}"
        coverage = "—" if answer["coverage"] is None else f"{answer['coverage']:.0%}"
        write(f"readiness: {answer['readiness']} (exit {code})")
        write(
            f"deployment #{answer['deployment']} {answer['system']}/{answer['model']} {answer['version']} "
            f"@ {answer['environment']} · score {score} · coverage {coverage} · window end {answer['window_end'] or '—'}"
        )
        write("reasons:")
        for reason in answer["reasons"]:
            write(f"  [{reason.get('decision')}] {reason.get('code')}: {reason.get('message')}")
        if answer.get("containment"):
            write(f"containment: {answer['containment'].get('message')}")
