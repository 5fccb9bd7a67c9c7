"""An SES v2 endpoint on loopback that answers "Throttling: Maximum sending rate exceeded" for a while.

moto accepts everything; this server plays an account over its sending rate (SES's SMTP interface says
"454 Throttling failure", its API HTTP 400 Throttling) for its first `throttle` requests, then accepts
each message and records its Message-ID, so a test can count losses and duplicates.
"""

from __future__ import annotations

import base64
import json
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.integration.campaigns.recorder import MESSAGE_ID

SEND_PATH = "/v2/email/outbound-emails"


class ScriptedSes:
    def __init__(self, throttle: int) -> None:
        self.throttle_left = throttle
        self.throttled = 0
        self.ids: list[str] = []
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> ScriptedSes:
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def counts(self) -> Counter[str]:
        with self.lock:
            return Counter(self.ids)

    def answer(self, body: bytes) -> tuple[int, dict[str, str], dict[str, str]]:
        """Status, headers and JSON body for one SendEmail request."""
        with self.lock:
            if self.throttle_left > 0:
                self.throttle_left -= 1
                self.throttled += 1
                return 400, {"x-amzn-ErrorType": "Throttling"}, {"message": "Maximum sending rate exceeded."}
            raw = base64.b64decode(json.loads(body)["Content"]["Raw"]["Data"])
            found = MESSAGE_ID.search(raw)
            self.ids.append(found.group(1).decode() if found else "")
            return 200, {}, {"MessageId": f"ses-{len(self.ids)}"}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        scripted = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.path != SEND_PATH:
                    status, headers, reply = 404, {"x-amzn-ErrorType": "NotFoundException"}, {"message": self.path}
                else:
                    status, headers, reply = scripted.answer(body)
                data = json.dumps(reply).encode()
                self.send_response(status)
                for name, value in {**headers, "Content-Type": "application/json",
                                    "Content-Length": str(len(data))}.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                """Quiet: thousands of requests."""

        return Handler
