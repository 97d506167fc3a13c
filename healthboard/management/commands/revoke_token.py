from django.core.management.base import BaseCommand, CommandError

from healthboard.models import ApiToken, AuditRecord
from healthboard.tokens import revoke_token


class Command(BaseCommand):
    help = "Revoke an API token by its id or its prefix (as shown when issued and in the admin)."

    def add_arguments(self, parser):
        parser.add_argument("token", help="token id or prefix")
        parser.add_argument("--reason", default="", help="recorded in the audit trail")

    def handle(self, *args, token, reason, **options):
        matches = (
            ApiToken.objects.filter(pk=int(token))
            if token.isdigit()
            else ApiToken.objects.filter(prefix=token)
        )
        if matches.count() != 1:
            raise CommandError(f"{token!r} matches {matches.count()} tokens; give the id or a unique prefix.")
        target = matches.get()
        revoke_token(target, reason=reason, source=AuditRecord.Source.CONFIG)
        self.stdout.write(f"Revoked {target}.")
