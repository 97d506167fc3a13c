"""Webhook signatures: ``X-Healthboard-Signature: t=<unix>,v1=<hex>``.

``v1`` is the hex HMAC-SHA256, keyed with the channel's secret, of ``"<t>.<raw body>"`` (the
Stripe scheme). Receivers recompute it over the raw bytes they received, compare in constant
time, and reject timestamps older than their tolerance (300 s here) to stop replays. Several
``v1=`` entries may appear during a secret rotation; any one matching is enough.
"""

from __future__ import annotations

import hashlib
import hmac
import time

HEADER = "X-Healthboard-Signature"
ID_HEADER = "X-Healthboard-Notification-Id"
DEFAULT_TOLERANCE_S = 300


def compute(secret: str, timestamp: int, body: bytes) -> str:
    message = str(int(timestamp)).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The header value for ``body`` signed now (or at ``timestamp``)."""
    ts = int(time.time()) if timestamp is None else int(timestamp)
    return f"t={ts},v1={compute(secret, ts, body)}"


def parse(header: str) -> tuple[int | None, list[str]]:
    timestamp, signatures = None, []
    for part in (header or "").split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1" and value:
            signatures.append(value)
    return timestamp, signatures


def verify(
    secret: str, body: bytes, header: str, *, now: float | None = None, tolerance: int = DEFAULT_TOLERANCE_S
) -> bool:
    """True when ``header`` is a valid, fresh signature of exactly ``body``."""
    timestamp, signatures = parse(header)
    if timestamp is None or not signatures:
        return False
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        return False
    expected = compute(secret, timestamp, body)
    return any(hmac.compare_digest(expected, candidate) for candidate in signatures)
