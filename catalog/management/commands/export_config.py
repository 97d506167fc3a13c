"""``manage.py export_config [-o FILE]``: write the configuration as YAML (DESIGN.md §10)."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from catalog import config


class Command(BaseCommand):
    help = "Write the configuration in the shape apply_config reads (stdout unless -o is given)."

    def add_arguments(self, parser):
        parser.add_argument("-o", "--output", metavar="FILE", help="Write to FILE instead of stdout.")

    def handle(self, *args, output: str | None, **options):
        text = config.export_yaml()
        if not output:
            self.stdout.write(text, ending="")
            return
        try:
            Path(output).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise CommandError(f"cannot write {output}: {exc.strerror or exc}") from None
        self.stderr.write(f"Wrote {output}.")
