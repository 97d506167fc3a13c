"""Channel transports: one function per kind. Each sends one notification once and raises
``DeliveryError`` on failure, saying whether retrying can help (the Healthchecks shape)."""

from __future__ import annotations

import email.utils
import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings
from django.core.mail import EmailMessage

from alerts import conf, netguard, signing
from alerts.models import Channel, Notification


class DeliveryError(Exception):
    def __init__(
        self,
        message: str,
        *,
        permanent: bool = False,
        status_code: int | None = None,
        retry_after: float | None = None,
        disable_channel: bool = False,
        refused: bool = False,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.status_code = status_code
        self.retry_after = retry_after
        self.disable_channel = disable_channel
        self.refused = refused


@dataclass(frozen=True)
class Sent:
    status_code: int | None = None


def body_bytes(payload: dict) -> bytes:
    """The exact bytes sent and signed (canonical JSON, stable across retries)."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = now if now is not None else time.time()
    return max(0.0, when.timestamp() - current)


def send_webhook(channel: Channel, notification: Notification) -> Sent:
    body = body_bytes(notification.payload)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Healthboard-Alerts/1",
        signing.HEADER: signing.sign(channel.secret, body),
        signing.ID_HEADER: str(notification.notification_id),
        "X-Healthboard-Delivery-Attempt": str(notification.attempts + 1),
    }
    try:
        connection, path = netguard.open_connection(channel.url, timeout=conf.get("ALERTS_WEBHOOK_TIMEOUT_S"))
    except netguard.UnsafeURL as exc:
        raise DeliveryError(str(exc), permanent=True, refused=True) from None
    try:
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        response.read(4096)
        status = response.status
        retry_after = parse_retry_after(response.getheader("Retry-After"))
    except netguard.UnsafeURL as exc:
        raise DeliveryError(str(exc), permanent=True, refused=True) from None
    except (OSError, TimeoutError, ValueError) as exc:
        raise DeliveryError(f"{type(exc).__name__}: {exc}") from None
    except Exception as exc:  # http.client.HTTPException and friends: transient
        raise DeliveryError(f"{type(exc).__name__}: {exc}") from None
    finally:
        connection.close()
    if 200 <= status < 300:
        return Sent(status)
    if status == 410:
        raise DeliveryError(
            "410 Gone: the receiver retired this endpoint",
            permanent=True,
            status_code=status,
            disable_channel=True,
        )
    if status in (408, 425, 429) or status >= 500 or 300 <= status < 400:
        raise DeliveryError(f"HTTP {status}", status_code=status, retry_after=retry_after)
    raise DeliveryError(f"HTTP {status} (not retried)", permanent=True, status_code=status)


def _email_text(payload: dict) -> tuple[str, str]:
    alerts = payload.get("alerts", [])
    firing = sum(1 for a in alerts if a.get("status") == "firing")
    resolved = len(alerts) - firing
    system = payload.get("system") or payload.get("groupLabels", {}).get("system", "")
    status = "FIRING" if firing else "RESOLVED"
    subject = (
        f"[{status}:{firing or resolved}] {system}: {payload.get('incident', {}).get('title', 'alerts')}"
    )
    lines = [subject, ""]
    for alert in alerts:
        lines.append(
            f"- [{alert['status']}/{alert['severity']}] {alert['metric']} = {alert['value']} "
            f"(threshold {alert['threshold']}) deployment {alert['deployment']} "
            f"{alert.get('segment') or 'all traffic'}{' · ' + alert['feature'] if alert.get('feature') else ''}"
        )
        lines.append(f"  {alert['url']}")
    lines += ["", f"Notification id: {payload.get('notification_id')}"]
    return subject[:200], "\n".join(lines)


def send_email(channel: Channel, notification: Notification) -> Sent:
    subject, text = _email_text(notification.payload)
    message = EmailMessage(
        subject=subject,
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=channel.recipients,
        headers={signing.ID_HEADER: str(notification.notification_id)},
    )
    try:
        message.send(fail_silently=False)
    except Exception as exc:  # SMTP and socket errors: transient
        raise DeliveryError(f"{type(exc).__name__}: {exc}") from None
    return Sent(None)


TRANSPORTS = {Channel.Kind.EMAIL: send_email, Channel.Kind.WEBHOOK: send_webhook}


def send(channel: Channel, notification: Notification) -> Sent:
    return TRANSPORTS[channel.kind](channel, notification)


def now_utc() -> datetime:
    return datetime.now(UTC)
