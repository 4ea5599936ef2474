"""A real HTTP server on 127.0.0.1 that answers from a script and records what it received."""

from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    method: str
    path: str
    headers: dict
    body: object


@dataclass
class ScriptedServer:
    responses: deque = field(default_factory=deque)
    received: list = field(default_factory=list)

    def answer(self, status: int, body: object = None, headers: dict | None = None) -> "ScriptedServer":
        self.responses.append((status, body, headers or {}))
        return self

    def start(self) -> str:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output quiet
                pass

            def _serve(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                server.received.append(Received(self.command, self.path, dict(self.headers),
                                                json.loads(raw) if raw else None))
                status, body, headers = server.responses.popleft() if server.responses else (500, None, {})
                payload = b"" if body is None else json.dumps(body).encode()
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = _serve

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
