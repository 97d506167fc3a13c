"""The Python client (healthboard/client.py) against a live server, and its retry rules."""

from __future__ import annotations

import http.server
import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from healthboard.client import HealthboardClient, HealthboardError
from metrics.models import PredictionEvent, ReferenceDataset
from tests.ingest_support import event, ingest_token, make_model

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def live(live_server, system_a, settings):
    settings.INGEST_RATE_LIMIT_PER_MINUTE = 10_000
    make_model(system_a)
    return live_server.url, ingest_token(system_a)


@pytest.mark.django_db(transaction=True)
def test_client_batches_and_aggregates_against_a_live_server(live):
    url, token = live
    events = [event(event_id=f"c-{i}") for i in range(12)]
    events[7] = event(event_id="c-7", latency_ms=-5)
    events[11] = event(event_id="c-0")  # a duplicate across batches
    client = HealthboardClient(url, token, batch_size=5)
    result = client.send_events(events)
    assert result["accepted"] == 10 and result["duplicates"] == 1
    assert [(r["index"], r["event_id"]) for r in result["rejected"]] == [(7, "c-7")]
    assert PredictionEvent.objects.count() == 10


@pytest.mark.django_db(transaction=True)
def test_client_gzip_and_generated_event_ids(live):
    url, token = live
    client = HealthboardClient(url, token, gzip=True)
    events = [{k: v for k, v in event().items() if k != "event_id"} for _ in range(3)]
    assert client.send_events(events)["accepted"] == 3
    assert len(set(PredictionEvent.objects.values_list("event_id", flat=True))) == 3


@pytest.mark.django_db(transaction=True)
def test_client_waits_for_retry_after_on_429(live, settings):
    url, token = live
    settings.INGEST_RATE_LIMIT_PER_MINUTE = 1
    settings.REDIS_URL = ""
    sleeps: list[float] = []

    def sleep(seconds):
        sleeps.append(seconds)
        settings.INGEST_RATE_LIMIT_PER_MINUTE = 1_000  # the limit lifts while we wait

    client = HealthboardClient(url, token, batch_size=2, sleep=sleep)
    result = client.send_events([event() for _ in range(4)])
    assert result["accepted"] == 4
    assert len(sleeps) == 1 and sleeps[0] >= 1  # at least Retry-After (≥ 1 s)
    assert client.retries == 1


@pytest.mark.django_db(transaction=True)
def test_client_reference_upload_replaces_then_appends(live):
    url, token = live
    rows = [{"features": {"income": float(i), "age": i, "region": "eu"}} for i in range(25)]
    result = HealthboardClient(url, token, batch_size=10).send_reference("scorer", "2.3.1", rows)
    assert result == {"accepted": 25, "duplicates": 0, "rejected": []}
    ref = ReferenceDataset.objects.get(is_current=True)
    assert ref.row_count == 25 and ref.chunks == 3


@pytest.mark.django_db(transaction=True)
def test_client_wrong_token_raises_without_retrying(live):
    url, _ = live
    client = HealthboardClient(url, "hbi_wrong", sleep=lambda s: pytest.fail("must not retry a 401"))
    with pytest.raises(HealthboardError) as caught:
        client.send_events([event()])
    assert caught.value.status == 401


class _Scripted(http.server.BaseHTTPRequestHandler):
    """A stub server answering from a script: [(status, headers, body)], recording requests."""

    script: list = []
    seen: list = []

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        payload = json.loads(self.rfile.read(length))
        type(self).seen.append(payload)
        status, headers, body = type(self).script.pop(0)
        if callable(body):
            body = body(payload)
        data = json.dumps(body).encode()
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def stub():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Scripted)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Scripted.seen = []
    yield server, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def _ok(payload):
    return {"accepted": len(payload["events"]), "duplicates": 0, "rejected": []}


def test_client_retries_5xx_with_backoff_honouring_retry_after(stub):
    _, url = stub
    _Scripted.script = [
        (503, {"Retry-After": "3"}, {"message": "busy"}),
        (500, {}, {"message": "oops"}),
        (200, {}, _ok),
    ]
    sleeps: list[float] = []
    client = HealthboardClient(url, "t", sleep=sleeps.append, backoff_base=0.01)
    assert client.send_events([event()])["accepted"] == 1
    assert len(sleeps) == 2 and sleeps[0] >= 3 and sleeps[1] < 1
    assert len(_Scripted.seen) == 3
    # the retried requests carried the same event_id: the server can deduplicate them
    assert len({p["events"][0]["event_id"] for p in _Scripted.seen}) == 1


def test_client_gives_up_after_max_retries(stub):
    _, url = stub
    _Scripted.script = [(502, {}, {"message": "bad gateway"})] * 3
    client = HealthboardClient(url, "t", sleep=lambda s: None, max_retries=2)
    with pytest.raises(HealthboardError, match="after 3 attempts"):
        client.send_events([event()])


def test_client_splits_a_batch_on_413(stub):
    _, url = stub
    _Scripted.script = [(413, {}, {"message": "too large"}), (200, {}, _ok), (200, {}, _ok)]
    client = HealthboardClient(url, "t", sleep=lambda s: None)
    assert client.send_events([event() for _ in range(4)])["accepted"] == 4
    assert [len(p["events"]) for p in _Scripted.seen] == [4, 2, 2]


def test_client_is_importable_without_django():
    code = (
        "import sys, importlib.util\n"
        "sys.modules['django'] = None\n"  # any 'import django' now fails
        f"spec = importlib.util.spec_from_file_location('hb_client', {str(ROOT / 'healthboard' / 'client.py')!r})\n"
        "module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)\n"
        "print(module.HealthboardClient.__name__)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "HealthboardClient"
