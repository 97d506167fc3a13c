"""THE hook after computed windows: alert evaluation and the trust score (DESIGN.md §2).

``after_window(deployment_id, window_start, window_end)`` is called by the engine after the
values of every window of a deployment *ending* in ``(window_start, window_end]`` were committed
— once per committed unit and run of consecutive window ends: a live tick is ``(E - 5m, E]``
(the 5-minute window ending at ``E``, and the hour / day ending there), a catch-up chunk of an
hour is one call for its twelve window ends. It calls, in this order:

1. ``alerts.evaluate.evaluate_window(deployment_id, window_start, window_end)`` — the alerts
   app's seam, with the same ``(start, end]`` semantics (idempotent; a recomputed window is
   re-evaluated in place);
2. ``metrics.trust.service.compute_trust(deployment_id, hour_start, hour_end)`` for every whole
   hour ending in ``(window_start, window_end]`` (the trust score's default 1-hour window).

A seam whose module is not installed is skipped (and that is logged once); one that exists is
always called. Transient database errors propagate so the task retries (everything here is
idempotent); any other failure of a hook is logged and returned, so it never undoes the values
that were computed — the caller notes it on the window's runs.
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import InterfaceError, OperationalError

from metrics.engine import windows

log = logging.getLogger(__name__)

__all__ = ["HookReport", "after_window"]

TRANSIENT = (OperationalError, InterfaceError)
_missing_logged: set[str] = set()


@dataclass
class HookReport:
    called: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _seam(module: str, name: str):
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name and module.startswith(exc.name):
            if module not in _missing_logged:
                _missing_logged.add(module)
                log.warning("hook %s.%s not installed: skipped", module, name)
            return None
        raise
    return getattr(mod, name)


def after_window(deployment_id: int, window_start: datetime, window_end: datetime) -> HookReport:
    report = HookReport()
    evaluate = _seam("alerts.evaluate", "evaluate_window")
    if evaluate is None:
        report.skipped.append("alerts")
    else:
        _call(report, "alerts", evaluate, deployment_id, window_start, window_end)
    compute_trust = _seam("metrics.trust.service", "compute_trust")
    if compute_trust is None:
        report.skipped.append("trust")
    else:
        hour = timedelta(hours=1)
        end = windows.floor(window_end, hour)
        while end > window_start:
            _call(report, "trust", compute_trust, deployment_id, end - hour, end)
            end -= hour
    return report


def _call(report: HookReport, name: str, fn, *args) -> None:
    try:
        fn(*args)
        report.called.append(name)
    except TRANSIENT:
        raise
    except Exception as exc:  # a broken hook must not undo committed values
        log.exception("hook %s failed for %s", name, args)
        report.errors.append(f"hook {name} failed: {type(exc).__name__}: {exc}"[:500])
