"""The ingest rate limiter when Redis is hung or gone (DESIGN.md §12: ingestion keeps working).

A real TCP server stands in for a hung Redis: it accepts connections and never answers, so the
real redis-py client waits for its socket timeout. The limiter must then count in the database
(never "no limit") and leave Redis alone for ``REDIS_RETRY_SECONDS``, or every request would
wait out the timeout. The process-level outage (Redis killed under gunicorn) is
``tests/integration/test_faults.py``.
"""

from __future__ import annotations

import socket
import threading

import pytest

from metrics.ingest import limits
from metrics.models import RateLimitCounter

pytestmark = pytest.mark.django_db


class HungServer:
    """Accepts TCP connections, counts them, never sends a byte."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.connections: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections.append(conn)

    def close(self):
        self.sock.close()
        for conn in self.connections:
            conn.close()


@pytest.fixture
def hung_redis(settings, monkeypatch):
    server = HungServer()
    settings.REDIS_URL = f"redis://127.0.0.1:{server.port}/0"
    monkeypatch.setattr(limits, "_redis_down_until", 0.0)
    monkeypatch.setattr(limits, "_redis_client", None)
    yield server
    server.close()


NOW = 1_790_000_000.0  # one fixed moment: all calls count in the same one-minute window


def test_a_hung_redis_costs_one_timeout_then_the_database_counts(hung_redis):
    for _ in range(5):
        limits.check_rate_limit("token:7", limit=5, now=NOW)
    assert len(hung_redis.connections) == 1  # tried once, then left alone
    with pytest.raises(limits.Throttled) as throttled:
        limits.check_rate_limit("token:7", limit=5, now=NOW)
    assert throttled.value.headers["X-RateLimit-Limit"] == "5"
    # the sixth request was refused by the 10-second window, so the minute counted five
    assert RateLimitCounter.objects.get(key="token:7@10s").count == 6
    assert RateLimitCounter.objects.get(key="token:7").count == 5


def test_redis_is_tried_again_after_the_retry_interval(hung_redis, monkeypatch):
    limits.check_rate_limit("token:8", limit=100, now=NOW)
    limits.check_rate_limit("token:8", limit=100, now=NOW)
    assert len(hung_redis.connections) == 1
    monkeypatch.setattr(limits, "_redis_down_until", 0.0)  # the interval has passed
    limits.check_rate_limit("token:8", limit=100, now=NOW)
    assert len(hung_redis.connections) == 2
    assert RateLimitCounter.objects.get(key="token:8").count == 3
