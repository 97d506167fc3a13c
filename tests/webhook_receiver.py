"""A real local webhook receiver (threaded ``http.server``) for the alert delivery tests: it
answers from a script, then 200, and records every request. Stopping it and starting another
on the same port is a receiver that is down, then up."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Receiver:
    """``script``: (status, headers) answers used first; ``delay``: seconds each answer takes
    (a slow receiver keeps a delivery in flight while other dispatchers run)."""

    def __init__(self, port: int, *, delay: float = 0.0):
        self.script: list[tuple[int, dict]] = []
        self.requests: list[dict] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if delay:
                    time.sleep(delay)
                with receiver.lock:
                    status, headers = receiver.script.pop(0) if receiver.script else (200, {})
                    receiver.requests.append(
                        {"headers": dict(self.headers), "body": body, "status": status, "path": self.path}
                    )
                self.send_response(status)
                for name, val in headers.items():
                    self.send_header(name, val)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{port}/hook"

    @property
    def accepted(self) -> list[dict]:
        return [r for r in self.requests if 200 <= r["status"] < 300]

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
