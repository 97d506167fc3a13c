"""A small Python client for Healthboard's ingest API (DESIGN.md §10).

Standard library only (``urllib``); uses ``orjson`` for speed when it is installed. It imports
nothing from Django or the rest of this repository, so it can be copied into any model
service as a single file::

    from healthboard.client import HealthboardClient

    client = HealthboardClient("https://healthboard.example.org", token="hbi_…")
    result = client.send_events(events)          # any iterable of event dicts
    # {"accepted": 9998, "duplicates": 1, "rejected": [{"index": 17, "event_id": …, "errors": {…}}]}
    client.send_labels([{"event_id": "a1b2", "label": 1}])
    client.send_reference("scorer", "2.3.1", rows)  # first chunk replaces, the rest append

* batches of ``batch_size`` events (at most 10,000 per request; a 413 halves the batch);
* an event without ``event_id`` gets a random one *before* the first attempt, so a retry can
  never store it twice (the server counts the repeat as a duplicate);
* retries on 429, 5xx and connection errors with exponential backoff and full jitter, waiting
  at least what ``Retry-After`` asks; other 4xx answers raise :class:`HealthboardError`;
* ``gzip=True`` compresses request bodies (``Content-Encoding: gzip``);
* the result is the aggregate of the per-batch answers, with ``index`` relative to the whole
  input.
"""

from __future__ import annotations

import email.utils
import gzip as gzip_module
import json
import random
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterable, Iterator

try:  # optional speed-up
    import orjson

    def _dumps(value) -> bytes:
        return orjson.dumps(value)

    def _loads(data: bytes):
        return orjson.loads(data)

except ImportError:  # pragma: no cover - exercised where orjson is absent

    def _dumps(value) -> bytes:
        return json.dumps(value, separators=(",", ":")).encode()

    def _loads(data: bytes):
        return json.loads(data)


__all__ = ["HealthboardClient", "HealthboardError"]

MAX_BATCH = 10_000
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class HealthboardError(Exception):
    """The server refused a request for good (not retryable), or retries ran out."""

    def __init__(self, message: str, status: int | None = None, body: dict | None = None):
        super().__init__(message)
        self.status = status
        self.body = body or {}


def _retry_after_seconds(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _chunks(items: Iterable, size: int) -> Iterator[list]:
    batch: list = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


class HealthboardClient:
    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        batch_size: int = 5_000,
        gzip: bool = False,
        timeout: float = 60.0,
        max_retries: int = 8,
        backoff_base: float = 0.5,
        backoff_max: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
        user_agent: str = "healthboard-client/1",
    ):
        if not 1 <= batch_size <= MAX_BATCH:
            raise ValueError(f"batch_size must be between 1 and {MAX_BATCH}")
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.batch_size = batch_size
        self.gzip = gzip
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.sleep = sleep
        self.user_agent = user_agent
        self.retries = 0  # total retries made, for callers that report them

    # --- public API -------------------------------------------------------------------

    def send_events(self, events: Iterable[dict]) -> dict:
        """Send prediction events in batches; returns the aggregated response."""
        return self._send_batched("/api/v1/ingest/events", "events", self._with_ids(events))

    def send_labels(self, labels: Iterable[dict]) -> dict:
        return self._send_batched("/api/v1/ingest/labels", "labels", labels)

    def send_reference(self, model: str, model_version: str, rows: Iterable[dict]) -> dict:
        """Replace the version's reference with ``rows`` (several requests if needed: the
        first replaces, the following ones carry ``"append": true``)."""
        total = {"accepted": 0, "duplicates": 0, "rejected": []}
        offset = 0
        first = True
        for batch in _chunks(rows, self.batch_size):
            document = {"model": model, "model_version": model_version, "append": not first, "events": batch}
            result = self._post_with_retries("/api/v1/ingest/reference", document)
            self._merge(total, result, offset)
            offset += len(batch)
            first = False
        return total

    def post_raw(self, path: str, body: bytes, content_type: str = "application/json") -> dict:
        """Post pre-serialised bytes (with the same retries); used by the benchmark."""
        return self._post_bytes_with_retries(path, body, content_type)

    # --- internals --------------------------------------------------------------------

    @staticmethod
    def _with_ids(events: Iterable[dict]) -> Iterator[dict]:
        for event in events:
            if not event.get("event_id"):
                event = {**event, "event_id": uuid.uuid4().hex}
            yield event

    @staticmethod
    def _merge(total: dict, result: dict, offset: int) -> None:
        total["accepted"] += result.get("accepted", 0)
        total["duplicates"] += result.get("duplicates", 0)
        for rejection in result.get("rejected", []):
            total["rejected"].append({**rejection, "index": rejection["index"] + offset})

    def _send_batched(self, path: str, key: str, records: Iterable[dict]) -> dict:
        total = {"accepted": 0, "duplicates": 0, "rejected": []}
        offset = 0
        for batch in _chunks(records, self.batch_size):
            self._send_splitting(path, key, batch, offset, total)
            offset += len(batch)
        return total

    def _send_splitting(self, path: str, key: str, batch: list, offset: int, total: dict) -> None:
        try:
            result = self._post_with_retries(path, {key: batch})
        except HealthboardError as exc:
            if exc.status == 413 and len(batch) > 1:  # too large: halve and try again
                half = len(batch) // 2
                self._send_splitting(path, key, batch[:half], offset, total)
                self._send_splitting(path, key, batch[half:], offset + half, total)
                return
            raise
        self._merge(total, result, offset)

    def _post_with_retries(self, path: str, document: dict) -> dict:
        return self._post_bytes_with_retries(path, _dumps(document), "application/json")

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        delay = random.uniform(0, min(self.backoff_max, self.backoff_base * (2**attempt)))  # full jitter
        if retry_after is not None:
            delay = max(delay, retry_after) + random.uniform(0, min(1.0, self.backoff_base))
        return delay

    def _post_bytes_with_retries(self, path: str, body: bytes, content_type: str) -> dict:
        headers = {
            "Authorization": f"Bearer {self.token}",
            "Content-Type": content_type,
            "Accept": "application/json",
            "User-Agent": self.user_agent,
        }
        if self.gzip:
            body = gzip_module.compress(body, compresslevel=5)
            headers["Content-Encoding"] = "gzip"
        url = self.base_url + path
        last_error = "no attempt made"
        for attempt in range(self.max_retries + 1):
            retry_after = None
            request = urllib.request.Request(url, data=body, headers=headers, method="POST")
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    return _loads(response.read())
            except urllib.error.HTTPError as exc:
                payload = exc.read()
                try:
                    parsed = _loads(payload) if payload else {}
                except ValueError:
                    parsed = {"message": payload[:200].decode("utf-8", "replace")}
                message = parsed.get("message") if isinstance(parsed, dict) else None
                if exc.code not in RETRY_STATUSES:
                    raise HealthboardError(
                        f"{exc.code} from {path}: {message or exc.reason}", status=exc.code, body=parsed
                    ) from None
                retry_after = _retry_after_seconds(exc.headers.get("Retry-After"))
                last_error = f"{exc.code} {message or exc.reason}"
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError) as exc:
                last_error = f"{type(exc).__name__}: {exc}"
            if attempt == self.max_retries:
                break
            self.retries += 1
            self.sleep(self._backoff(attempt, retry_after))
        raise HealthboardError(f"giving up on {path} after {self.max_retries + 1} attempts: {last_error}")
