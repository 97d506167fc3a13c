"""``seed_demo`` (idempotent demo users) and ``run_demo``'s process supervisor."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command

from healthboard import access
from healthboard.management.commands.run_demo import ProcessSpec, Supervisor, demo_processes
from healthboard.models import AuditRecord
from tests.factories import TeamFactory

ROOT = Path(settings.BASE_DIR)
ROLE_USERS = ["executive", "sre", "data_scientist", "platform", "catalog_admin"]


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    # PBKDF2 at full strength costs about a second per user here; the hasher is not under test.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def seed() -> str:
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_seed_demo_creates_admin_and_one_user_per_role(monkeypatch):
    monkeypatch.delenv("DEMO_PASSWORD", raising=False)
    teams = [TeamFactory(slug="risk-ml"), TeamFactory(slug="discovery")]
    output = seed()
    User = get_user_model()

    admin = User.objects.get(username="admin")
    assert admin.is_superuser and admin.is_staff
    assert admin.check_password("healthboard-demo")
    assert access.is_catalog_admin(admin)

    for username in ROLE_USERS:
        user = User.objects.get(username=username)
        assert not user.is_superuser
        assert user.check_password("healthboard-demo")
        assert access.user_roles(user) == {username}
        assert set(user.groups.filter(team__isnull=False)) == {t.group for t in teams}

    assert "password for all: healthboard-demo" in output
    assert "teams: discovery, risk-ml" in output


@pytest.mark.django_db
def test_seed_demo_is_idempotent_and_audited():
    TeamFactory(slug="risk-ml")
    seed()
    records = AuditRecord.objects.count()
    users = list(get_user_model().objects.order_by("pk").values_list("pk", "password", "is_superuser"))
    assert records == 6  # one per created user, written with the change

    output = seed()
    assert "nothing changed" in output
    assert AuditRecord.objects.count() == records
    assert (
        list(get_user_model().objects.order_by("pk").values_list("pk", "password", "is_superuser")) == users
    )


@pytest.mark.django_db
def test_seed_demo_picks_up_a_new_team_and_a_changed_password(monkeypatch):
    seed()
    team = TeamFactory(slug="late-team")
    monkeypatch.setenv("DEMO_PASSWORD", "another-demo-pass")
    output = seed()
    sre = get_user_model().objects.get(username="sre")
    assert team.group in sre.groups.all()
    assert sre.check_password("another-demo-pass")
    assert "added sre to team:late-team" in output
    assert AuditRecord.objects.filter(action="user.update", object_repr="sre").exists()


@pytest.mark.django_db
def test_seed_demo_refuses_a_short_password(monkeypatch):
    from django.core.management.base import CommandError

    monkeypatch.setenv("DEMO_PASSWORD", "short")
    with pytest.raises(CommandError, match="DEMO_PASSWORD"):
        seed()
    assert not get_user_model().objects.filter(username="admin").exists()


# -- run_demo -----------------------------------------------------------------------------


def test_demo_processes_are_web_worker_and_beat_with_the_right_queues():
    processes = demo_processes(addr="127.0.0.1", port=8123, concurrency=2)
    specs = {spec.name: spec.argv for spec in processes}
    # runserver stops cleanly on SIGINT, Celery does a warm shutdown on SIGTERM
    assert [spec.stop_signal for spec in processes] == [signal.SIGINT, signal.SIGTERM, signal.SIGTERM]
    assert list(specs) == ["web", "worker", "beat"]
    assert "runserver" in specs["web"] and "127.0.0.1:8123" in specs["web"]
    worker = specs["worker"]
    assert worker[worker.index("-Q") + 1] == "ingest,compute,notify"
    beat = specs["beat"]
    assert Path(beat[beat.index("--schedule") + 1]).parent == Path(settings.VAR_DIR)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie counts as gone
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(") ")[1][0] != "Z"
    except FileNotFoundError:
        return False


def sleeper(
    name: str, seconds: float = 60, *, ignore_term: bool = False, code: int | None = None
) -> ProcessSpec:
    body = ["import signal, sys, time"]
    if ignore_term:
        body.append("signal.signal(signal.SIGTERM, signal.SIG_IGN)")
    body.append(f"print('{name} up', flush=True)")
    if code is not None:
        body.append(f"time.sleep({seconds}); sys.exit({code})")
    else:
        body.append(f"time.sleep({seconds})")
    return ProcessSpec(name, [sys.executable, "-c", "; ".join(body)])


def test_supervisor_stops_everyone_when_one_process_dies():
    out = io.StringIO()
    supervisor = Supervisor(
        [sleeper("steady"), sleeper("crashy", 0.5, code=3), sleeper("other")], out=out, stop_timeout=5
    )
    started = time.monotonic()
    status = supervisor.run()
    assert status == 3
    assert time.monotonic() - started < 10
    assert not any(pid_alive(pid) for pid in supervisor.pids)
    lines = out.getvalue().splitlines()
    assert "steady | steady up" in lines
    assert "crashy | crashy up" in lines
    assert "crashy | exited with status 3; stopping the others" in lines


def test_supervisor_kills_a_process_that_ignores_sigterm():
    out = io.StringIO()
    supervisor = Supervisor(
        [sleeper("stubborn", ignore_term=True), sleeper("quitter", 0.5, code=0)], out=out, stop_timeout=1
    )
    status = supervisor.run()
    assert status == 1  # a demo process that exits, even with 0, is a failure of the demo
    assert not any(pid_alive(pid) for pid in supervisor.pids)
    assert "did not stop within 1s; killing it" in out.getvalue()


SUPERVISOR_SCRIPT = textwrap.dedent(
    """
    import sys
    from healthboard.management.commands.run_demo import ProcessSpec, Supervisor

    code = "import time; print('%s up', flush=True); time.sleep(120)"
    specs = [ProcessSpec(name, [sys.executable, "-c", code % name]) for name in ("web", "worker", "beat")]
    supervisor = Supervisor(specs, stop_timeout=5)
    status = supervisor.run()
    print("PIDS", *supervisor.pids, flush=True)
    sys.exit(status)
    """
)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_to_the_supervisor_stops_all_processes(signum):
    proc = subprocess.Popen(
        [sys.executable, "-c", SUPERVISOR_SCRIPT],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "healthboard.settings"},
    )
    seen = []
    deadline = time.monotonic() + 30
    while len([line for line in seen if line.endswith(" up")]) < 3 and time.monotonic() < deadline:
        seen.append(proc.stdout.readline().rstrip())
    assert len([line for line in seen if line.endswith(" up")]) == 3, seen
    proc.send_signal(signum)
    rest, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, rest
    pids = [int(pid) for pid in rest.split("PIDS", 1)[1].split()]
    assert len(pids) == 3
    assert not any(pid_alive(pid) for pid in pids)
    assert f"received {signal.Signals(signum).name}; stopping all" in rest
    for name in ("web", "worker", "beat"):
        assert any(line.startswith(f"{name:<6} | stopped") for line in rest.splitlines()), rest
