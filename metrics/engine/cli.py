"""Shared bits of the engine's commands: ISO times and a plain progress bar on stderr."""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime

from django.core.management.base import CommandError
from django.utils.dateparse import parse_date, parse_datetime


def parse_time(value: str | None, name: str) -> datetime | None:
    if not value:
        return None
    parsed = parse_datetime(value)
    if parsed is None:
        day = parse_date(value)
        if day is None:
            raise CommandError(f"--{name}: not an ISO 8601 date or date-time: {value!r}")
        parsed = datetime(day.year, day.month, day.day)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


class ProgressBar:
    """``[#####.....] 12/48 windows 340 values 1.2 s`` redrawn in place on stderr."""

    def __init__(self, total: int, label: str, stream=None, width: int = 30):
        self.total = max(total, 1)
        self.label = label
        self.stream = stream or sys.stderr
        self.width = width
        self.started = time.monotonic()
        self.tty = getattr(self.stream, "isatty", lambda: False)()
        self._last = -1

    def update(self, done: int, extra: str = "") -> None:
        filled = int(self.width * min(done, self.total) / self.total)
        bar = "#" * filled + "." * (self.width - filled)
        line = f"{self.label} [{bar}] {done}/{self.total} {extra} {time.monotonic() - self.started:.1f} s"
        if self.tty:
            self.stream.write("\r" + line)
        elif filled != self._last:  # a log file gets one line per step
            self.stream.write(line + "\n")
        self._last = filled
        self.stream.flush()

    def close(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()
