"""Request limits: body size (checked before anything is parsed), gzip, per-token rate limit.

* Size: a ``Content-Length`` above the limit is refused without reading a byte; a chunked
  body (no length) is read in bounded steps and refused as soon as it passes the limit; a
  gzip body is inflated only up to the limit (a zip bomb costs at most ``limit`` bytes).
* Rate: per token, two fixed windows counted atomically across processes — the limit per
  minute, and a sixth of it (at least ``min(limit, 10)``) per 10 seconds, so a tenant far
  over its limit is spread over the minute instead of spending it in the first seconds and
  crowding out the other tenants (measured by ``make load``). Redis ``INCR`` when
  ``REDIS_URL`` is set, otherwise an ``INSERT … ON CONFLICT DO UPDATE … RETURNING`` per window
  on the database (PostgreSQL and SQLite alike). A burst can reach twice a window's share
  across its boundary — the usual fixed-window trade-off, kept for its single write per window.
  Redis unreachable or hung: the database counts instead (never "no limit"), and Redis is left
  alone for ``REDIS_RETRY_SECONDS`` so a hung server costs one socket timeout per process, not
  one per request.
"""

from __future__ import annotations

import logging
import math
import time
import zlib
from datetime import UTC, datetime

from django.db import connection, transaction

from metrics.ingest import conf

log = logging.getLogger(__name__)

READ_CHUNK = 64 * 1024
NDJSON_TYPES = ("application/x-ndjson", "application/ndjson", "application/jsonl", "application/x-jsonlines")


class IngestError(Exception):
    """An error that answers the whole request (never one record)."""

    status = 400
    reason = "bad_request"

    def __init__(self, message: str, errors: dict | None = None, headers: dict | None = None):
        super().__init__(message)
        self.message = message
        self.errors = errors or {}
        self.headers = headers or {}

    def body(self) -> dict:
        return {"message": self.message, "errors": self.errors}


class BadBody(IngestError):
    status = 400
    reason = "unreadable_body"


class PayloadTooLarge(IngestError):
    status = 413
    reason = "too_large"


class Throttled(IngestError):
    status = 429
    reason = "rate_limited"


def _too_large(size_text: str) -> PayloadTooLarge:
    limit = conf.max_bytes()
    return PayloadTooLarge(
        f"The request body is {size_text}; the limit is {limit} bytes ({limit / 1048576:g} MiB). "
        "Send fewer records per request.",
        {"body": [f"larger than {limit} bytes"]},
    )


def read_body(request) -> bytes:
    """The request body (inflated when gzip), refusing an oversized one before parsing it.

    ``request`` is the Django ``HttpRequest`` (``request._request`` under DRF); its body must
    not have been read yet.
    """
    limit = conf.max_bytes()
    meta = request.META
    raw_length = (meta.get("CONTENT_LENGTH") or "").strip()
    if raw_length:
        try:
            length = int(raw_length)
        except ValueError:
            raise BadBody("Content-Length is not a number.") from None
        if length > limit:
            raise _too_large(f"{length} bytes")
        body = request.read(length) if length else b""
    elif "chunked" in meta.get("HTTP_TRANSFER_ENCODING", "").lower():
        body = _read_bounded(meta["wsgi.input"], limit)
    else:
        body = b""
    encoding = meta.get("HTTP_CONTENT_ENCODING", "").strip().lower()
    if encoding in ("gzip", "x-gzip"):
        body = _gunzip_bounded(body, limit)
    elif encoding not in ("", "identity"):
        raise BadBody(
            f"Content-Encoding {encoding!r} is not supported; send gzip or no encoding.",
            {"Content-Encoding": ["unsupported"]},
        )
    return body


def _read_bounded(stream, limit: int) -> bytes:
    parts: list[bytes] = []
    total = 0
    while True:
        chunk = stream.read(min(READ_CHUNK, limit + 1 - total))
        if not chunk:
            break
        parts.append(chunk)
        total += len(chunk)
        if total > limit:
            raise _too_large(f"more than {limit} bytes (chunked)")
    return b"".join(parts)


def _gunzip_bounded(body: bytes, limit: int) -> bytes:
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(body, limit + 1)
    except zlib.error as exc:
        raise BadBody(f"The gzip body could not be decompressed: {exc}.") from None
    if len(out) > limit or inflater.unconsumed_tail:
        raise _too_large(f"more than {limit} bytes once decompressed")
    return out


def is_ndjson(request) -> bool:
    content_type = request.META.get("CONTENT_TYPE", "").split(";")[0].strip().lower()
    return content_type in NDJSON_TYPES


# --- rate limit -------------------------------------------------------------------------

REDIS_RETRY_SECONDS = 15.0
_redis_client = None
_redis_url = None
_redis_down_until = 0.0  # time.monotonic() before which this process counts in the database


def _redis():
    global _redis_client, _redis_url
    url = conf.redis_url()
    if not url or time.monotonic() < _redis_down_until:
        return None
    if _redis_client is None or _redis_url != url:
        import redis

        _redis_client = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        _redis_url = url
    return _redis_client


def _redis_failed() -> None:
    global _redis_down_until
    _redis_down_until = time.monotonic() + REDIS_RETRY_SECONDS


def _count_redis(client, key: str, window_start: int, seconds: int) -> int:
    name = f"healthboard:rl:{key}:{window_start}"
    pipe = client.pipeline()
    pipe.incr(name)
    pipe.expire(name, 2 * seconds)
    count, _ = pipe.execute()
    return int(count)


def _count_db(key: str, window_start: int) -> int:
    window = datetime.fromtimestamp(window_start, UTC)
    if connection.vendor == "sqlite":
        window = connection.ops.adapt_datetimefield_value(window)
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Losing an increment in a crash is harmless; not waiting for the WAL flush is not.
            cursor.execute("SET LOCAL synchronous_commit = off")
        cursor.execute(
            "INSERT INTO metrics_ratelimitcounter (key, window_start, count) VALUES (%s, %s, 1) "
            "ON CONFLICT (key, window_start) DO UPDATE "
            "SET count = metrics_ratelimitcounter.count + 1 RETURNING count",
            [key, window],
        )
        return int(cursor.fetchone()[0])


SHORT_WINDOW_SECONDS = 10


def rate_windows(limit: int) -> tuple[tuple[int, int], ...]:
    """(window seconds, requests allowed in it), checked in this order: the 10-second share,
    then the minute. A request refused by the short window does not count in the minute, so
    a tenant hammering at 10x still gets its share of every 10 seconds."""
    short = max(math.ceil(limit * SHORT_WINDOW_SECONDS / 60), min(limit, 10))
    return ((SHORT_WINDOW_SECONDS, short), (60, limit))


def check_rate_limit(key: str, *, limit: int | None = None, now: float | None = None) -> None:
    """Count one request for ``key`` (e.g. ``token:42``); raise ``Throttled`` past the limit."""
    limit = conf.rate_limit_per_minute() if limit is None else limit
    now = time.time() if now is None else now
    short = rate_windows(limit)[0][1]
    for seconds, allowed in rate_windows(limit):
        # the minute keeps the plain key (its counter is the one reports and tests read)
        window_key = key if seconds == 60 else f"{key}@{seconds}s"
        start = int(now // seconds) * seconds
        if _count(window_key, start, seconds) > allowed:
            break
    else:
        return
    retry_after = max(1, math.ceil(start + seconds - now))
    raise Throttled(
        f"Rate limit of {limit} requests per minute (at most {short} per {SHORT_WINDOW_SECONDS} s) "
        f"for this token exceeded; retry in {retry_after} s.",
        {"rate_limit": [f"{limit} requests per minute, at most {short} per {SHORT_WINDOW_SECONDS} s"]},
        headers={
            "Retry-After": str(retry_after),
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Scope": "token",
        },
    )


def _count(key: str, window_start: int, seconds: int) -> int:
    """One more request in the window, counted in Redis or (Redis down or unset) the database."""
    client = _redis()
    if client is not None:
        try:
            return _count_redis(client, key, window_start, seconds)
        except Exception:  # Redis down: fall back to the database, never to "no limit"
            _redis_failed()
            log.warning(
                "rate limit: Redis unavailable, counting in the database for %g s",
                REDIS_RETRY_SECONDS,
                exc_info=True,
            )
    return _count_db(key, window_start)
