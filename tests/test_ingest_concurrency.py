"""Duplicates under concurrency: the database decides, not the application (PostgreSQL)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections
from django.test import Client

from metrics.models import EventKey, IngestionStat, PredictionEvent
from tests.ingest_support import EVENTS_URL, event, ingest_token, make_model, post_json

THREADS = 8
REQUESTS_PER_THREAD = 125
IDS = [f"dup-{i}" for i in range(10)]  # every request carries the same 10 event ids


@pytest.mark.django_db(transaction=True)
def test_10000_duplicate_posts_from_8_threads_store_each_event_once(system_a, settings):
    if connection.vendor != "postgresql":
        pytest.skip("concurrent writers need PostgreSQL (SQLite serialises every writer)")
    settings.INGEST_RATE_LIMIT_PER_MINUTE = 1_000_000
    make_model(system_a)
    token = ingest_token(system_a)
    batch = {"events": [event(event_id=event_id) for event_id in IDS]}
    barrier = threading.Barrier(THREADS)
    results: list[dict] = []
    failures: list[str] = []
    lock = threading.Lock()

    def worker():
        client = Client()
        try:
            barrier.wait()
            for _ in range(REQUESTS_PER_THREAD):
                response = post_json(client, EVENTS_URL, token, batch)
                with lock:
                    if response.status_code == 200:
                        results.append(response.json())
                    else:
                        failures.append(f"{response.status_code} {response.content[:200]!r}")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert not failures, failures[:3]
    assert len(results) == THREADS * REQUESTS_PER_THREAD
    posted = THREADS * REQUESTS_PER_THREAD * len(IDS)
    assert posted == 10_000
    assert sum(r["accepted"] for r in results) == len(IDS)
    assert sum(r["duplicates"] for r in results) == posted - len(IDS)
    assert all(r["rejected"] == [] for r in results)
    assert PredictionEvent.objects.count() == len(IDS)
    assert sorted(PredictionEvent.objects.values_list("event_id", flat=True)) == sorted(IDS)
    assert EventKey.objects.count() == len(IDS)
    stat_totals = IngestionStat.objects.filter(system=system_a, kind="event")
    assert sum(s.accepted for s in stat_totals) == len(IDS)
    assert sum(s.duplicates for s in stat_totals) == posted - len(IDS)
