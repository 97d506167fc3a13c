from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from catalog.models import System
from healthboard.models import ApiToken, AuditRecord
from healthboard.tokens import issue_token


class Command(BaseCommand):
    help = (
        "Issue an ingest token for SYSTEM, or a personal API token with --user USERNAME. "
        "The token is printed alone on the last line and is never shown again."
    )

    def add_arguments(self, parser):
        parser.add_argument("system", nargs="?", help="slug of the system the ingest token writes into")
        parser.add_argument("--user", help="username for a personal API token")
        parser.add_argument("--name", default="", help="a label to tell tokens apart")

    def handle(self, *args, system=None, user=None, name="", **options):
        if bool(system) == bool(user):
            raise CommandError("Give either SYSTEM (an ingest token) or --user USERNAME (a personal token).")
        if system:
            try:
                target = System.objects.get(slug=system)
            except System.DoesNotExist:
                raise CommandError(f"No system with slug {system!r}.") from None
            token, raw = issue_token(
                kind=ApiToken.Kind.INGEST, system=target, name=name, source=AuditRecord.Source.CONFIG
            )
            self.stderr.write(f"Ingest token {token.prefix}… for system {target.slug} (id {token.pk}).")
        else:
            try:
                owner = get_user_model().objects.get(username=user)
            except get_user_model().DoesNotExist:
                raise CommandError(f"No user named {user!r}.") from None
            token, raw = issue_token(
                kind=ApiToken.Kind.PERSONAL, user=owner, name=name, source=AuditRecord.Source.CONFIG
            )
            self.stderr.write(
                f"Personal API token {token.prefix}… for user {owner.username} (id {token.pk})."
            )
        self.stdout.write(raw)
