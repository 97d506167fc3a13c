"""Real processes for the integration tests and the load driver: a private Redis and a private
PostgreSQL cluster (throwaway, on their own ports, so faults never touch the shared services),
gunicorn, Celery workers and Django one-shots — each a subprocess, stopped by its own pid.

Nothing here needs pytest: ``tests/load/two_tenants.py`` builds the same stack from the command
line. Ports come from fixed ranges (``PORT_RANGES``), starting at an offset per pytest-xdist
worker, skipping ports in use.
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PORT_RANGES = {"http": range(8340, 8400), "redis": range(6390, 6400), "postgres": range(5440, 5450)}


class Unavailable(Exception):
    """A binary this stack needs is not installed (tests skip with the message)."""


# --- ports, waiting, logs -------------------------------------------------------------------


def _xdist_index() -> int:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    return int(worker[2:]) if worker[2:].isdigit() else 0


_reserved: dict[int, object] = {}  # port -> its open lock file, held for this process's life


def free_port(kind: str) -> int:
    """A port of ``PORT_RANGES[kind]`` nothing listens on, reserved for this process: an
    ``flock`` on ``/tmp/hb-test-port-<port>.lock`` (released when the process ends) keeps two
    pytest-xdist workers from picking the same one before either has started its server."""
    ports = PORT_RANGES[kind]
    start = (_xdist_index() * max(1, len(ports) // 4)) % len(ports)
    for i in range(len(ports)):
        port = ports[(start + i) % len(ports)]
        if port in _reserved:
            continue
        lock = open(f"/tmp/hb-test-port-{port}.lock", "a")  # noqa: SIM115 - held open on purpose
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            lock.close()
            continue
        with socket.socket() as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                lock.close()
                continue
        _reserved[port] = lock
        return port
    raise RuntimeError(f"no free {kind} port in {ports.start}-{ports.stop - 1}")


def wait_for(
    predicate: Callable[[], object],
    what: str,
    *,
    progress: Callable[[], object] | None = None,
    stall: float = 60.0,
    step: float = 0.25,
    log: Callable[[], str] = lambda: "",
):
    """Poll ``predicate`` until it returns something truthy, and return that.

    Fails only when nothing moved for ``stall`` seconds: ``progress()`` returns a snapshot of
    the work (a watermark, a row count, a log length) and every change restarts the clock. On
    a machine shared with other jobs slow progress is not a failure; no progress is. A hard
    cap of 20 stalls stops a run that keeps moving without ever finishing.
    """
    started = last_move = time.monotonic()
    seen = progress() if progress else None
    while True:
        result = predicate()
        if result:
            return result
        now = time.monotonic()
        if progress is not None:
            current = progress()
            if current != seen:
                seen, last_move = current, now
        if now - last_move > stall or now - started > 20 * stall:
            raise AssertionError(
                f"timed out waiting for {what} (no progress for {now - last_move:.0f} s, last: {seen!r})\n{log()}"
            )
        time.sleep(step)


class _Logged:
    """A subprocess whose combined output is kept (last lines) by a reader thread."""

    proc: subprocess.Popen

    def _start(self, argv: list[str], env: dict, **kwargs) -> None:
        self.lines: list[str] = []
        self.proc = subprocess.Popen(
            argv,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            **kwargs,
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line.rstrip())
            if len(self.lines) > 5000:
                del self.lines[:1000]

    def log(self, last: int = 60) -> str:
        return "\n".join(self.lines[-last:])

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def assert_running(self, what: str) -> None:
        if self.proc.poll() is not None:
            raise AssertionError(f"{what} exited with {self.proc.returncode}:\n{self.log()}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


def stop_all(*processes: _Logged, timeout: float = 30) -> None:
    """SIGTERM to all at once, then wait for each (their shutdowns overlap)."""
    for process in processes:
        if process.proc.poll() is None:
            process.proc.terminate()
    for process in processes:
        process.stop(timeout=timeout)


def children_of(pid: int) -> list[int]:
    """Direct children of ``pid`` (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(entry.name))
    return found


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state in ("Z", "X")  # a zombie nobody reaps (PID 1 in a container) is gone too


# --- Redis ----------------------------------------------------------------------------------


class PrivateRedis(_Logged):
    """``redis-server`` on its own port, nothing on disk; ``stop()`` and ``start()`` again."""

    def __init__(self, port: int | None = None):
        self.binary = shutil.which("redis-server")
        if not self.binary:
            raise Unavailable("redis-server is not installed (apt-get install redis-server)")
        self.port = port or free_port("redis")
        self.dir = tempfile.mkdtemp(prefix="hb-redis-")

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> PrivateRedis:
        argv = [
            self.binary,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ]
        self._start([*argv, "--daemonize", "no", "--dir", self.dir], dict(os.environ))
        wait_for(self.ping, f"redis-server on {self.port}", stall=30, log=self.log)
        return self

    def ping(self) -> bool:
        self.assert_running("redis-server")
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def kill(self) -> None:
        """Redis goes away at once (SIGKILL): clients see refused connections."""
        self.stop(signal.SIGKILL)

    def freeze(self) -> None:
        """Redis hangs (SIGSTOP): connections are accepted by the kernel, nothing answers."""
        self.proc.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        self.proc.send_signal(signal.SIGCONT)

    def close(self) -> None:
        self.stop(signal.SIGKILL)
        shutil.rmtree(self.dir, ignore_errors=True)


# --- PostgreSQL -----------------------------------------------------------------------------


def _postgres_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"), key=lambda p: int(Path(p).parts[-3]))
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("postgres") or shutil.which("initdb")
    if on_path:
        return Path(on_path).parent
    raise Unavailable("PostgreSQL server binaries (initdb, postgres) are not installed")


class PrivatePostgres(_Logged):
    """A throwaway PostgreSQL cluster in a temporary directory, trust auth on 127.0.0.1.

    Run as the ``postgres`` OS user when we are root (the server refuses root). ``fsync`` is
    off: the faults here kill processes, they do not cut power, so what the kernel holds
    survives either way; ``synchronous_commit`` stays on as in production, so a commit is in
    the WAL before the client hears of it.
    """

    def __init__(self, port: int | None = None):
        self.bin = _postgres_bin()
        for tool in ("initdb", "postgres", "pg_dump", "pg_restore"):
            if not (self.bin / tool).exists():
                raise Unavailable(f"{self.bin / tool} is missing")
        self.port = port or free_port("postgres")
        self.dir = Path(tempfile.mkdtemp(prefix="hb-pg-"))
        self.data = self.dir / "data"
        self.as_user: dict = {}
        if os.geteuid() == 0:
            try:
                account = pwd.getpwnam("postgres")
            except KeyError:
                raise Unavailable("running as root and there is no 'postgres' OS user") from None
            os.chown(self.dir, account.pw_uid, account.pw_gid)
            self.as_user = {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}
        subprocess.run(
            [
                self.bin / "initdb",
                "-D",
                self.data,
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
            check=True,
            capture_output=True,
            **self.as_user,
        )

    def url(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> PrivatePostgres:
        argv = [str(self.bin / "postgres"), "-D", str(self.data), "-p", str(self.port), "-k", str(self.dir)]
        settings = [
            "listen_addresses=127.0.0.1",
            "fsync=off",
            "max_connections=60",
            "log_min_messages=warning",
        ]
        for setting in settings:
            argv += ["-c", setting]
        self._start(argv, dict(os.environ), **self.as_user)
        wait_for(self.ready, f"PostgreSQL on {self.port}", stall=60, log=self.log)
        return self

    def ready(self) -> bool:
        self.assert_running("postgres")
        try:
            with self.connect("postgres") as conn:
                conn.execute("SELECT 1")
            return True
        except Exception:  # starting up or in crash recovery
            return False

    def connect(self, database: str):
        import psycopg

        return psycopg.connect(self.url(database), autocommit=True, connect_timeout=3)

    def execute(self, database: str, sql: str, params=None) -> list[tuple]:
        with self.connect(database) as conn, conn.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall() if cursor.description else []

    def crash(self) -> None:
        """Kill the postmaster and every backend with SIGKILL, as the OOM killer would: no
        shutdown checkpoint, in-flight transactions lost; the next start runs crash recovery."""
        postmaster = self.proc.pid
        os.kill(postmaster, signal.SIGSTOP)  # no new backend is forked while we collect them
        backends = children_of(postmaster)
        for pid in [postmaster, *backends]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.proc.wait(timeout=10)
        wait_for(lambda: all(_gone(pid) for pid in backends), "the killed backends to exit", stall=30)

    def stop(self, sig: int = signal.SIGINT, timeout: float = 30) -> None:  # SIGINT: fast shutdown
        super().stop(sig, timeout)

    def create_database(self, name: str, template: str | None = None) -> None:
        clause = f' TEMPLATE "{template}"' if template else ""
        self.execute("postgres", f'CREATE DATABASE "{name}"{clause}')

    def restore(self, database: str, dump: Path) -> None:
        out = subprocess.run(
            [self.bin / "pg_restore", "--no-owner", "-d", self.url(database), dump],
            capture_output=True,
            text=True,
        )
        if out.returncode != 0:
            raise AssertionError(f"pg_restore failed: {out.stderr[-2000:]}")

    def dump(self, source_url: str) -> Path:
        """A custom-format dump of ``source_url`` (any PostgreSQL this pg_dump can read)."""
        target = Path(tempfile.mkdtemp(prefix="hb-dump-")) / "schema.dump"
        out = subprocess.run(
            [self.bin / "pg_dump", "-Fc", "--no-owner", "-f", target, source_url],
            capture_output=True,
            text=True,
        )
        if out.returncode != 0:
            raise AssertionError(f"pg_dump failed: {out.stderr[-2000:]}")
        return target

    def close(self) -> None:
        if self.proc.poll() is None:
            self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


# --- the application's processes ------------------------------------------------------------


def app_env(database_url: str, redis_url: str = "", broker_url: str = "", **extra: str) -> dict:
    """The environment of a web, worker or one-shot process of this stack."""
    env = dict(os.environ)
    for name in ("PYTEST_XDIST_WORKER", "PYTEST_CURRENT_TEST", "DJANGO_SETTINGS_MODULE"):
        env.pop(name, None)
    env.update(
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        CELERY_BROKER_URL=broker_url or "memory://",
        CELERY_RESULT_BACKEND="",
        CELERY_TASK_ALWAYS_EAGER="false",
        PYTHONUNBUFFERED="1",
        PYTHONPATH=str(ROOT),
        LOG_LEVEL="WARNING",
    )
    env.update(extra)
    return env


class Gunicorn(_Logged):
    """``gunicorn healthboard.wsgi`` (sync workers, the app imported once with ``--preload``)."""

    def __init__(self, env: dict, *, workers: int = 2, port: int | None = None):
        if not (BIN / "gunicorn").exists():
            raise Unavailable("gunicorn is not installed in the virtualenv")
        self.port = port or free_port("http")
        self.url = f"http://127.0.0.1:{self.port}"
        argv = [str(BIN / "gunicorn"), "healthboard.wsgi:application", "--bind", f"127.0.0.1:{self.port}"]
        argv += ["--workers", str(workers), "--preload", "--timeout", "120", "--graceful-timeout", "5"]
        self._start(argv, env, cwd=ROOT)

    def healthz(self) -> tuple[int, dict] | None:
        try:
            with urllib.request.urlopen(self.url + "/healthz", timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:  # 503 while a dependency is down
            return exc.code, json.loads(exc.read() or b"{}")
        except OSError:
            return None

    def wait_ready(self) -> Gunicorn:
        def up():
            self.assert_running("gunicorn")
            return self.healthz()

        wait_for(up, "gunicorn to answer", progress=lambda: len(self.lines), stall=90, step=0.5, log=self.log)
        return self


class CeleryWorker(_Logged):
    """A Celery worker subprocess (prefork pool) on the given queues, its log and pool pids."""

    def __init__(
        self, env: dict, *, queues: str = "compute,ingest,notify", concurrency: int = 1, name: str = "w"
    ):
        argv = [
            str(BIN / "celery"),
            "-A",
            "healthboard",
            "worker",
            "-Q",
            queues,
            "--concurrency",
            str(concurrency),
        ]
        argv += ["--pool", "prefork", "--loglevel", "INFO", "--without-gossip", "--without-mingle"]
        argv += ["--hostname", f"{name}-{os.getpid()}@%h"]
        env = {**env, "LOG_LEVEL": "INFO"}
        self._start(argv, env, cwd=ROOT)

    def wait_ready(self) -> CeleryWorker:
        def ready():
            self.assert_running("worker")
            return any(" ready." in line for line in self.lines)

        wait_for(
            ready,
            "the worker to be ready",
            progress=lambda: len(self.lines),
            stall=90,
            step=0.3,
            log=self.log,
        )
        return self

    def pool_pids(self) -> list[int]:
        return children_of(self.proc.pid)


def django_call(env: dict, function: str, *args: str, timeout: float = 300) -> dict:
    """Run ``tests.integration.seed.<function>(*args)`` in a fresh Django process with ``env``;
    returns the JSON it prints (the last line)."""
    out = subprocess.run(
        [sys.executable, "-m", "tests.integration.seed", function, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if out.returncode != 0:
        raise AssertionError(f"seed {function} failed:\n{out.stdout[-2000:]}\n{out.stderr[-4000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def send_task(broker_url: str, name: str, queue: str, args: tuple = ()) -> None:
    """Publish one task message the way beat does (the task runs on a worker)."""
    from healthboard.celery import app

    with app.connection_for_write(broker_url) as connection:
        connection.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=2)
        with connection.Producer() as producer:
            app.send_task(name, args=args, queue=queue, producer=producer, retry=False)


def migrate(env: dict) -> None:
    out = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        raise AssertionError(f"migrate failed:\n{out.stderr[-4000:]}")


def http_post(url: str, token: str, document: dict | bytes, timeout: float = 60) -> tuple[int, dict, dict]:
    """One POST, no retry: ``(status, headers, JSON body)``; status 0 when the connection failed."""
    body = document if isinstance(document, bytes) else json.dumps(document).encode()
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as exc:
        payload = exc.read()
        try:
            parsed = json.loads(payload) if payload else {}
        except ValueError:
            parsed = {"message": payload[:200].decode("utf-8", "replace")}
        return exc.code, dict(exc.headers), parsed
    except OSError as exc:
        return 0, {}, {"message": f"{type(exc).__name__}: {exc}"}
