"""``manage.py run_demo``: web + Celery worker + beat in one command; Ctrl-C stops all three.

A small process supervisor: each process runs in its own process group (so the terminal's
Ctrl-C reaches only the supervisor, which then stops every group in order), its output is
prefixed with its name, and when one process dies the others are stopped too.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TextIO

from django.conf import settings
from django.core.management.base import BaseCommand

STOP_TIMEOUT_SECONDS = 20.0


@dataclass
class ProcessSpec:
    name: str
    argv: list[str]
    env: dict[str, str] | None = None
    # what asks this process to shut down cleanly (Celery: SIGTERM is a warm shutdown)
    stop_signal: int = signal.SIGTERM


@dataclass
class _Running:
    spec: ProcessSpec
    popen: subprocess.Popen
    reader: threading.Thread = field(init=False)


def _set_parent_death_signal() -> None:
    """Linux: the child gets SIGTERM if the supervisor itself is killed (e.g. SIGKILL)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM, 0, 0, 0)
    except Exception:  # not Linux, or no prctl: best effort only
        pass


class Supervisor:
    """Start processes, relay their output with a name prefix, stop them all together.

    ``run()`` returns 0 when stopped by SIGINT/SIGTERM, otherwise the exit status of the first
    process that died (1 if it exited with 0: a demo process is not supposed to finish).
    """

    def __init__(
        self,
        specs: Sequence[ProcessSpec],
        *,
        out: TextIO | None = None,
        stop_timeout: float = STOP_TIMEOUT_SECONDS,
        poll_interval: float = 0.2,
    ) -> None:
        self.specs = list(specs)
        self.out = out or sys.stdout
        self.stop_timeout = stop_timeout
        self.poll_interval = poll_interval
        self.width = max((len(s.name) for s in self.specs), default=0)
        self._running: list[_Running] = []
        self._lock = threading.Lock()
        self._signal: int | None = None
        self._signal_count = 0

    # -- output -------------------------------------------------------------------------
    def emit(self, name: str, line: str) -> None:
        with self._lock:
            self.out.write(f"{name:<{self.width}} | {line.rstrip()}\n")
            self.out.flush()

    def _relay(self, running: _Running) -> None:
        stream = running.popen.stdout
        assert stream is not None
        for raw in iter(stream.readline, b""):
            self.emit(running.spec.name, raw.decode("utf-8", errors="replace"))
        stream.close()

    # -- signals ------------------------------------------------------------------------
    def _on_signal(self, signum, frame) -> None:
        self._signal = signum
        self._signal_count += 1
        if self._signal_count > 1:  # a second Ctrl-C: no more waiting
            self._kill_groups(signal.SIGKILL)

    def _send(self, running: _Running, signum: int, *, group: bool = False) -> None:
        """Signal the process itself (it shuts its own children down, e.g. Celery's pool), or
        with ``group`` its whole process group."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if group:
                os.killpg(running.popen.pid, signum)
            else:
                os.kill(running.popen.pid, signum)

    def _kill_groups(self, signum: int) -> None:
        for running in self._running:
            self._send(running, signum, group=True)

    # -- lifecycle ----------------------------------------------------------------------
    def start(self) -> None:
        for spec in self.specs:
            env = dict(os.environ if spec.env is None else spec.env)
            env.setdefault("PYTHONUNBUFFERED", "1")
            popen = subprocess.Popen(
                spec.argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
                preexec_fn=_set_parent_death_signal if sys.platform.startswith("linux") else None,
            )
            self._running.append(_Running(spec, popen))
            self.emit(spec.name, f"started (pid {popen.pid}): {' '.join(spec.argv)}")
        for running in self._running:
            running.reader = threading.Thread(target=self._relay, args=(running,), daemon=True)
            running.reader.start()

    def run(self) -> int:
        previous = {
            sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
        }
        status = 0
        try:
            self.start()
            first_dead: _Running | None = None
            while self._signal is None and first_dead is None:
                first_dead = next((r for r in self._running if r.popen.poll() is not None), None)
                if first_dead is None:
                    time.sleep(self.poll_interval)
            if first_dead is not None:
                code = first_dead.popen.returncode
                self.emit(first_dead.spec.name, f"exited with status {code}; stopping the others")
                status = code if code and code > 0 else 1
            else:
                self.emit("demo", f"received {signal.Signals(self._signal).name}; stopping all")
            self.stop()
        finally:
            self._kill_groups(signal.SIGKILL)  # leftovers (e.g. pool children), if any
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return status

    def stop(self) -> None:
        """Ask every process group still alive to stop, wait, then SIGKILL stragglers."""
        for running in self._running:
            if running.popen.poll() is None:
                self._send(running, running.spec.stop_signal)
        deadline = time.monotonic() + self.stop_timeout
        for running in self._running:
            remaining = max(0.0, deadline - time.monotonic())
            try:
                running.popen.wait(timeout=remaining)
            except subprocess.TimeoutExpired:
                self.emit(running.spec.name, f"did not stop within {self.stop_timeout:.0f}s; killing it")
                self._send(running, signal.SIGKILL, group=True)
                running.popen.wait()
            self.emit(running.spec.name, f"stopped (status {running.popen.returncode})")
        for running in self._running:
            running.reader.join(timeout=5)

    @property
    def pids(self) -> list[int]:
        return [r.popen.pid for r in self._running]


def demo_processes(
    *, addr: str, port: int, concurrency: int, python: str = sys.executable, simulate: bool = False
) -> list[ProcessSpec]:
    manage = str(settings.BASE_DIR / "manage.py")
    celery = [python, "-m", "celery", "-A", "healthboard"]
    schedule = str(settings.VAR_DIR / "celerybeat-schedule")
    processes = [
        # --insecure: serve static files with DEBUG off (the demo runs with production-like DEBUG).
        ProcessSpec(
            "web",
            [python, manage, "runserver", f"{addr}:{port}", "--noreload", "--insecure"],
            stop_signal=signal.SIGINT,
        ),
        ProcessSpec(
            "worker",
            [
                *celery,
                "worker",
                "-Q",
                "ingest,compute,notify",
                "--concurrency",
                str(concurrency),
                "--loglevel",
                "INFO",
                "--hostname",
                "demo@%h",
            ],
        ),
        ProcessSpec("beat", [*celery, "beat", "--loglevel", "INFO", "--schedule", schedule]),
    ]
    if simulate:
        # Live traffic for the demo systems, through the public ingest API of the web process.
        processes.append(
            ProcessSpec("simulator", [python, manage, "simulate_traffic", "--url", f"http://{addr}:{port}"])
        )
    return processes


class Command(BaseCommand):
    help = "Run web (runserver), a Celery worker (queues ingest, compute, notify) and beat together."

    def add_arguments(self, parser):
        parser.add_argument("--addr", default="127.0.0.1", help="web address (default 127.0.0.1)")
        parser.add_argument("--port", type=int, default=8000, help="web port (default 8000)")
        parser.add_argument("--concurrency", type=int, default=2, help="worker processes (default 2)")
        parser.add_argument(
            "--simulate",
            action="store_true",
            help="also stream live demo traffic (manage.py simulate_traffic)",
        )

    def handle(self, *args, **options):
        specs = demo_processes(
            addr=options["addr"],
            port=options["port"],
            concurrency=options["concurrency"],
            simulate=options["simulate"],
        )
        self.stdout.write(
            f"Starting web on http://{options['addr']}:{options['port']}/ , worker and beat. "
            "Press Ctrl-C to stop all of them."
        )
        status = Supervisor(specs).run()
        if status:
            sys.exit(status)
