from django.core.management.base import BaseCommand, CommandError

from healthboard.audit import verify_chain
from healthboard.models import AuditRecord


class Command(BaseCommand):
    help = "Verify the audit trail's hash chain; exit non-zero naming the first broken record."

    def handle(self, *args, **options):
        problem = verify_chain()
        if problem is not None:
            raise CommandError(f"Audit chain broken at record #{problem.seq}: {problem.message}")
        self.stdout.write(f"Audit chain intact: {AuditRecord.objects.count()} records verified.")
