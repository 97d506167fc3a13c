"""Lineage: one ``ComputationRun`` per (deployment, window) computed, and the reaper.

A run is created ``running`` and committed *before* its window is computed; the window's
values and the run's ``succeeded`` status then commit together. A worker killed mid-window
therefore leaves no values and a run stuck in ``running`` — the reaper marks those ``failed``
(the redelivered task computes the window again under a new run).
"""

from __future__ import annotations

import functools
import logging
import os
import subprocess
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from metrics.engine import conf
from metrics.engine.windows import Window
from metrics.models import ComputationRun

log = logging.getLogger(__name__)

__all__ = ["code_version", "fail", "finish", "reap_stuck", "start"]

Status = ComputationRun.Status
WINDOW, BACKFILL, BACKFILL_WINDOW = "window", "backfill", "backfill_window"


@functools.cache
def code_version() -> str:
    """``HEALTHBOARD_CODE_VERSION`` if set (container builds), else the git commit of the source
    tree (``+dirty`` when it has local changes), else the installed package version."""
    explicit = os.environ.get("HEALTHBOARD_CODE_VERSION", "").strip()
    if explicit:
        return explicit[:64]
    base = Path(getattr(settings, "BASE_DIR", Path(__file__).resolve().parents[2]))
    try:
        commit = subprocess.run(
            ["git", "-C", str(base), "rev-parse", "--short=12", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        if commit:
            return f"git:{commit}"
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        from importlib.metadata import version

        return f"healthboard {version('healthboard')}"
    except Exception:
        return "unknown"


def start(
    deployment_id: int | None,
    windows: Sequence[Window],
    *,
    task_id: str = "",
    kind: str = "window",
    reference_id: int | None = None,
) -> dict[Window, ComputationRun]:
    """Create (and commit) one ``running`` run per window."""
    now = timezone.now()
    runs = [
        ComputationRun(
            deployment_id=deployment_id,
            kind=kind,
            task_id=(task_id or "")[:64],
            code_version=code_version(),
            reference_id=reference_id,
            window_start=w.start,
            window_end=w.end,
            status=Status.RUNNING,
            started_at=now,
            input_rows={"window": w.size},
        )
        for w in windows
    ]
    with transaction.atomic():
        ComputationRun.objects.bulk_create(runs)
    if any(r.pk is None for r in runs):  # backends that cannot return ids from bulk inserts
        for i, run in enumerate(runs):
            if run.pk is None:
                run.save()
                runs[i] = run
    return dict(zip(windows, runs, strict=True))


def finish(
    run: ComputationRun, *, catalog_versions: dict, input_rows: dict, errors: Sequence[str] = ()
) -> None:
    """Mark a run succeeded (call inside the transaction that stores its values)."""
    run.status = Status.SUCCEEDED
    run.finished_at = timezone.now()
    run.catalog_versions = catalog_versions
    run.input_rows = {**(run.input_rows or {}), **input_rows}
    run.error = ("calculator errors: " + "; ".join(errors))[:4000] if errors else ""
    run.save(update_fields=["status", "finished_at", "catalog_versions", "input_rows", "error"])


def fail(runs: Sequence[ComputationRun], error: BaseException | str) -> None:
    """Mark runs failed, in their own transaction (the computing one was rolled back)."""
    ids = [r.pk for r in runs if r.pk is not None]
    if not ids:
        return
    text = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
    try:
        with transaction.atomic():
            ComputationRun.objects.filter(pk__in=ids, status=Status.RUNNING).update(
                status=Status.FAILED, finished_at=timezone.now(), error=text[:4000]
            )
    except Exception:
        log.exception("could not mark runs %s failed", ids)


def note(run_ids: Sequence[int], text: str) -> None:
    """Append a note (e.g. a failed hook) to runs' ``error`` without changing their status."""
    for run in ComputationRun.objects.filter(pk__in=list(run_ids)):
        run.error = ((run.error + "\n") if run.error else "") + text[:1000]
        run.save(update_fields=["error"])


def reap_stuck(now: datetime | None = None) -> int:
    """Runs ``running`` for longer than ``COMPUTE_RUN_TIMEOUT_SECONDS`` → ``failed``."""
    now = now or timezone.now()
    cutoff = now - conf.run_timeout()
    # A backfill's umbrella run lives as long as the whole backfill: a day before it is stuck.
    stuck = Q(started_at__lt=cutoff) & ~Q(kind=BACKFILL) | Q(
        kind=BACKFILL, started_at__lt=now - timedelta(days=1)
    )
    return ComputationRun.objects.filter(stuck, status=Status.RUNNING).update(
        status=Status.FAILED,
        finished_at=now,
        error=f"reaped at {now.isoformat()}: still running after {conf.run_timeout()} "
        "(worker lost or killed); the window is recomputed by its redelivered task or the next tick",
    )
