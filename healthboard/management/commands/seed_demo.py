"""``manage.py seed_demo``: the demo's users, one per role, plus a demo admin.

Idempotent: a second run changes nothing (and says so). Every role user joins every team that
exists, so what they see is decided by the access grants of the applied config. The password
is ``DEMO_PASSWORD`` (default ``healthboard-demo``) for every demo user; never run this
against a production database.
"""

from __future__ import annotations

import os

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from catalog.models import Team
from healthboard import access
from healthboard.audit import record_change
from healthboard.models import AuditRecord

DEFAULT_PASSWORD = "healthboard-demo"
ADMIN_USERNAME = "admin"
# username -> role group; each role user is on every team.
ROLE_USERS = {
    "executive": access.ROLE_EXECUTIVE,
    "sre": access.ROLE_SRE,
    "data_scientist": access.ROLE_DATA_SCIENTIST,
    "platform": access.ROLE_PLATFORM,
    "catalog_admin": access.ROLE_CATALOG_ADMIN,
}


def demo_password() -> str:
    password = os.environ.get("DEMO_PASSWORD", DEFAULT_PASSWORD)
    if len(password) < 8:
        raise CommandError("DEMO_PASSWORD must be at least 8 characters.")
    return password


def _parse_now(raw: str | None):
    """``--now``: the hour (UTC; naive input is UTC) to generate and compute as of, or None."""
    from metrics.engine.cli import parse_time

    moment = parse_time(raw, "now")
    return moment.replace(minute=0, second=0, microsecond=0) if moment else None


def _state(user) -> dict:
    return {
        "username": user.username,
        "is_staff": user.is_staff,
        "is_superuser": user.is_superuser,
        "groups": sorted(user.groups.values_list("name", flat=True)),
    }


class Command(BaseCommand):
    help = (
        "Create the demo admin and one demo user per role, the four demo systems and their "
        "telemetry (idempotent); prints the credentials."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--telemetry",
            action="store_true",
            help="also apply the four demo systems and store their telemetry (make demo uses this)",
        )
        parser.add_argument("--days", type=int, default=14, help="days of telemetry (default 14)")
        parser.add_argument(
            "--compute-hours",
            type=int,
            default=24,
            help="hours of history compute_metrics fills right away (default 24; 0 = none; beat does the rest)",
        )
        parser.add_argument(
            "--now",
            help="ISO date-time (UTC): generate and compute the telemetry as if it were this hour "
            "(reproducible demos and tests; default: the clock)",
        )

    def handle(self, *args, **options):
        if options.get("telemetry"):
            self._demo_systems()
        password = demo_password()
        missing = [role for role in access.ROLES if not Group.objects.filter(name=role).exists()]
        if missing:
            raise CommandError(f"Role groups missing ({', '.join(missing)}): run `manage.py migrate` first.")
        team_groups = [team.group for team in Team.objects.select_related("group").order_by("slug")]

        changed: list[str] = []
        with transaction.atomic():
            changed += self._ensure_user(
                ADMIN_USERNAME,
                password,
                superuser=True,
                groups=[Group.objects.get(name=access.ROLE_CATALOG_ADMIN)],
            )
            for username, role in ROLE_USERS.items():
                changed += self._ensure_user(
                    username,
                    password,
                    superuser=False,
                    groups=[Group.objects.get(name=role), *team_groups],
                )

        if options.get("telemetry"):
            self._telemetry(
                days=options.get("days") or 14,
                compute_hours=options.get("compute_hours") or 0,
                now=_parse_now(options.get("now")),
            )
        if changed:
            for line in changed:
                self.stdout.write(f"  {line}")
        else:
            self.stdout.write("Demo users already up to date; nothing changed.")
        teams = ", ".join(g.team.slug for g in team_groups) or "none yet (apply a config first)"
        self.stdout.write("")
        self.stdout.write(f"Demo users (teams: {teams}); password for all: {password}")
        self.stdout.write(f"  {ADMIN_USERNAME:<15} superuser + catalog_admin")
        for username, role in ROLE_USERS.items():
            self.stdout.write(f"  {username:<15} role {role}")

    def _ensure_user(self, username: str, password: str, *, superuser: bool, groups: list) -> list[str]:
        User = get_user_model()
        user, created = User.objects.get_or_create(
            username=username, defaults={"email": f"{username}@demo.invalid"}
        )
        before = None if created else _state(user)
        notes = []
        if created:
            notes.append(f"created user {username}")
        if superuser and not (user.is_superuser and user.is_staff):
            user.is_superuser = user.is_staff = True
            notes.append(f"made {username} a superuser")
        if not user.is_active:
            user.is_active = True
            notes.append(f"re-activated {username}")
        password_changed = not user.check_password(password)
        if password_changed:
            user.set_password(password)
            if not created:
                notes.append(f"reset the password of {username}")
        if created or notes or password_changed:
            user.save()
        current = {g.pk for g in user.groups.all()}
        new_groups = [g for g in groups if g.pk not in current]
        if new_groups:
            user.groups.add(*new_groups)
            notes.append(f"added {username} to {', '.join(g.name for g in new_groups)}")
            access.forget_cached_access(user)
        if notes:
            record_change(
                action="user.create" if created else "user.update",
                obj=user,
                before=before,
                after=_state(user),
                reason="seed_demo: " + "; ".join(notes),
                source=AuditRecord.Source.SYSTEM,
                actor="seed_demo",
            )
        return notes

    def _demo_systems(self):
        """The four demo systems (dashboards/demo/demo_config.yaml), through apply_config, and
        who their alerts notify (dashboards/demo/notifications.py)."""
        from django.core.management import call_command

        from dashboards.demo import CONFIG, notifications

        self.stdout.write(f"Applying the demo systems ({CONFIG.name}) …")
        call_command("apply_config", str(CONFIG), stdout=self.stdout)
        for line in notifications.ensure():
            self.stdout.write(f"  created {line}")
        self.stdout.write(
            "Alerts notify the demo's email channels through EMAIL_BACKEND (the console by default: "
            "the worker prints each notification); DEMO_WEBHOOK_URL adds a signed webhook."
        )

    def _telemetry(self, *, days: int, compute_hours: int, now=None):
        from datetime import timedelta

        from django.core.management import call_command
        from django.utils import timezone

        from dashboards.demo.telemetry import generate

        self.stdout.write(f"Storing {days} days of demo telemetry through the ingestion pipeline …")
        totals = generate(self.stdout, days=days, now=now)
        self.stdout.write(
            f"  events stored {totals['accepted']}, duplicates {totals['duplicates']}, rejected {totals['rejected']}"
        )
        if compute_hours:
            hours = min(compute_hours, days * 24)
            start = ((now or timezone.now()) - timedelta(hours=hours)).replace(
                minute=0, second=0, microsecond=0
            )
            self.stdout.write(f"Computing metric history from {start:%Y-%m-%d %H:%M} (compute_metrics) …")
            end = {"end": now.isoformat()} if now else {}
            call_command("compute_metrics", start=start.isoformat(), stdout=self.stdout, **end)
