"""A local Everflow Network API serving `POST /v1/networks/reporting/conversions` from a list of records.

Built from the documented request and answer: the key in `X-Eflow-Api-Key` (401 otherwise), a JSON body with
`from`/`to` (dates, read in UTC: timezone 67), `timezone_id`, `show_conversions` and `show_events` (400 when
missing), `page`/`page_size` in the query (1-based, 50 by default), and `{"conversions": [...], "paging":
{"page", "page_size", "total_count"}}`. `mode` injects failures: "bad_json", "slow" (answers after `delay`
seconds), "down" (500).
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as day_time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

PATH = "/v1/networks/reporting/conversions"
REQUIRED = ("from", "to", "timezone_id", "show_conversions", "show_events")


def everflow_record(conversion_id: str, transaction_id: str, at: datetime, payout: str | float = "5.00", *,
                    status: str = "approved", is_scrub: bool = False, event: str = "", currency: str = "USD",
                    revenue: str | float = "8.00", sale_amount: str | float = "40.00", offer_id: int = 7,
                    **subs: str) -> dict[str, Any]:
    """A conversion as the report lists it (the fields Ignite reads, and a few it ignores)."""
    return {"conversion_id": conversion_id, "transaction_id": transaction_id,
            "conversion_unix_timestamp": int(at.timestamp()), "click_unix_timestamp": int(at.timestamp()) - 60,
            "status": status, "is_scrub": is_scrub, "is_event": bool(event), "event": event, "payout": float(payout),
            "revenue": float(revenue), "sale_amount": float(sale_amount), "currency_id": currency,
            "payout_type": "cpa", "country": "United States",
            **{f"sub{n}": subs.get(f"sub{n}", "") for n in range(1, 6)},
            "relationship": {"offer": {"network_offer_id": offer_id, "name": "Spring offer"}}}


@dataclass
class LocalEverflow:
    api_key: str = "eflow-test-key-0123456789"
    records: list[dict[str, Any]] = field(default_factory=list)
    mode: str = "ok"
    delay: float = 2.0
    requests: list[dict[str, Any]] = field(default_factory=list)
    port: int = 0
    _server: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def report(self, body: dict[str, Any], query: dict[str, list[str]]) -> dict[str, Any]:
        start = datetime.combine(date.fromisoformat(body["from"][:10]), day_time(), UTC)
        end = datetime.combine(date.fromisoformat(body["to"][:10]) + timedelta(days=1), day_time(), UTC)
        matching = sorted((r for r in self.records
                           if start.timestamp() <= r["conversion_unix_timestamp"] < end.timestamp()
                           and (body["show_events"] if r["is_event"] else body["show_conversions"])),
                          key=lambda r: r["conversion_unix_timestamp"], reverse=True)
        page = int(query.get("page", ["1"])[0])
        size = min(int(query.get("page_size", ["50"])[0]), 2000)
        return {"conversions": matching[(page - 1) * size:page * size],
                "paging": {"page": page, "page_size": size, "total_count": len(matching)}}

    def start(self) -> LocalEverflow:
        everflow = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _answer(self, status: int, payload: Any, raw: bytes | None = None) -> None:
                data = raw if raw is not None else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                url = urlsplit(self.path)
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                everflow.requests.append({"path": url.path, "query": parse_qs(url.query), "body": body,
                                          "key": self.headers.get("X-Eflow-Api-Key", "")})
                if url.path != PATH:
                    return self._answer(404, {"Error": "Not found"})
                if self.headers.get("X-Eflow-Api-Key") != everflow.api_key:
                    return self._answer(401, {"Error": "Unauthorized"})
                if any(name not in body for name in REQUIRED):
                    return self._answer(400, {"Error": "Missing from, to, timezone_id or show_* fields"})
                if everflow.mode == "slow":
                    time.sleep(everflow.delay)
                if everflow.mode == "down":
                    return self._answer(500, {"Error": "Internal error"})
                if everflow.mode == "bad_json":
                    return self._answer(200, None, raw=b"<html>maintenance</html>")
                return self._answer(200, everflow.report(body, parse_qs(url.query)))

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
