"""``manage.py apply_config FILE [--dry-run]``: apply a config file (DESIGN.md §10)."""

from __future__ import annotations

import getpass

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from catalog import config


class Command(BaseCommand):
    help = (
        "Apply a Healthboard config file idempotently: print the plan, then apply it in one "
        "transaction with an audit record per change. Nothing is ever deleted."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="The YAML config file.")
        parser.add_argument("--dry-run", action="store_true", help="Print the plan; change nothing.")
        parser.add_argument("--actor", metavar="USERNAME", help="The user the audit records name.")

    def handle(self, *args, file: str, dry_run: bool, actor: str | None, **options):
        if actor:
            user = get_user_model().objects.filter(username=actor).first()
            if user is None:
                raise CommandError(f"--actor: no user named {actor!r}")
        else:
            user = f"{_os_user()} (apply_config)"
        try:
            plan = config.apply_file(file, dry_run=dry_run, actor=user, on_plan=self._show)
        except config.ConfigError as exc:
            raise CommandError(str(exc)) from None
        if plan.is_empty:
            return
        if dry_run:
            self.stdout.write("Dry run: nothing was applied.")
        else:
            self.stdout.write(self.style.SUCCESS(f"Applied {len(plan.changes)} changes from {file}."))

    def _show(self, plan: config.Plan) -> None:
        for line in config.render(plan):
            self.stdout.write(line)


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
