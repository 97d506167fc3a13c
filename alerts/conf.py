"""Alert tuning, read from Django settings (set from the environment in healthboard/settings.py).

| setting | default | meaning |
|---|---|---|
| ALERTS_WEBHOOK_ALLOWED_NETWORKS | [] | CIDRs webhooks may target although not public (e.g. 127.0.0.1/32) |
| ALERTS_GROUP_WAIT_S | 30 | wait after an incident opens before its first notification (batching) |
| ALERTS_GROUP_INTERVAL_S | 300 | minimum time between two notifications of one group to one channel |
| ALERTS_REPEAT_INTERVAL_S | 14400 | re-send an unchanged, unacknowledged firing group after this long |
| ALERTS_INCIDENT_GROUP_WINDOW_S | 1800 | a system's alert joins its incident if active within this window |
| ALERTS_DELIVERY_MAX_AGE_S | 259200 | give up (dead letter) on a notification this old (72 h) |
| ALERTS_RETRY_BASE_S | 10 | first retry delay; doubles each attempt, with jitter |
| ALERTS_RETRY_MAX_S | 3600 | cap of the retry delay and of an honoured Retry-After |
| ALERTS_WEBHOOK_TIMEOUT_S | 10 | connect + read timeout of one webhook attempt |
| ALERTS_EVALUATION_RETENTION_DAYS | 30 | evaluation rows older than this are pruned |
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings

DEFAULTS = {
    "ALERTS_GROUP_WAIT_S": 30,
    "ALERTS_GROUP_INTERVAL_S": 300,
    "ALERTS_REPEAT_INTERVAL_S": 4 * 3600,
    "ALERTS_INCIDENT_GROUP_WINDOW_S": 1800,
    "ALERTS_DELIVERY_MAX_AGE_S": 72 * 3600,
    "ALERTS_RETRY_BASE_S": 10,
    "ALERTS_RETRY_MAX_S": 3600,
    "ALERTS_WEBHOOK_TIMEOUT_S": 10,
    "ALERTS_EVALUATION_RETENTION_DAYS": 30,
}


def get(name: str) -> int:
    return int(getattr(settings, name, DEFAULTS[name]))


def seconds(name: str) -> timedelta:
    return timedelta(seconds=get(name))
