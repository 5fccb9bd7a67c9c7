"""Each endpoint of segments, suppression, templates, campaigns, servers and statistics is held to its one scope:
a key with every other scope is refused with `insufficient_scope`, a key with only that one is let in."""

from __future__ import annotations

import pytest

from tests.api_client import api_key, bearer
from tests.factories import make_workspace

SCOPES = ("messages:send", "messages:read", "subscribers:write", "subscribers:read", "lists:manage",
          "campaigns:manage", "suppression:manage", "stats:read", "webhooks:manage", "leads:write")
# An id nothing has: a key let in meets a 404 (or a refusal of its input), never a 403.
NONE = 999_999
ENDPOINTS = [
    ("GET", "/api/v1/segments", "subscribers:read"),
    ("POST", "/api/v1/segments", "lists:manage"),
    ("POST", "/api/v1/segments/count", "subscribers:read"),
    ("GET", f"/api/v1/segments/{NONE}", "subscribers:read"),
    ("PUT", f"/api/v1/segments/{NONE}", "lists:manage"),
    ("DELETE", f"/api/v1/segments/{NONE}", "lists:manage"),
    ("GET", f"/api/v1/segments/{NONE}/count", "subscribers:read"),
    ("GET", f"/api/v1/segments/{NONE}/export.csv", "subscribers:read"),
    ("GET", f"/api/v1/segments/{NONE}/export.jsonl", "subscribers:read"),
    ("GET", "/api/v1/suppression/lists", "suppression:manage"),
    ("POST", "/api/v1/suppression/lists", "suppression:manage"),
    ("DELETE", f"/api/v1/suppression/lists/{NONE}", "suppression:manage"),
    ("GET", f"/api/v1/suppression/lists/{NONE}/entries", "suppression:manage"),
    ("DELETE", f"/api/v1/suppression/lists/{NONE}/entries/{NONE}", "suppression:manage"),
    ("POST", "/api/v1/suppression/entries", "suppression:manage"),
    ("POST", "/api/v1/suppression/entries/remove", "suppression:manage"),
    ("GET", "/api/v1/suppression/check?email=a@example.com", "suppression:manage"),
    ("GET", "/api/v1/templates", "campaigns:manage"),
    ("POST", "/api/v1/templates", "campaigns:manage"),
    ("GET", f"/api/v1/templates/{NONE}", "campaigns:manage"),
    ("PUT", f"/api/v1/templates/{NONE}", "campaigns:manage"),
    ("DELETE", f"/api/v1/templates/{NONE}", "campaigns:manage"),
    ("GET", "/api/v1/campaigns", "campaigns:manage"),
    ("POST", "/api/v1/campaigns", "campaigns:manage"),
    ("GET", f"/api/v1/campaigns/{NONE}", "campaigns:manage"),
    ("PATCH", f"/api/v1/campaigns/{NONE}", "campaigns:manage"),
    *[("POST", f"/api/v1/campaigns/{NONE}/{action}", "campaigns:manage")
      for action in ("schedule", "start", "unschedule", "pause", "resume", "cancel")],
    ("GET", f"/api/v1/campaigns/{NONE}/statistics", "campaigns:manage"),
    ("GET", "/api/v1/servers", "stats:read"),
    ("GET", f"/api/v1/servers/{NONE}", "stats:read"),
    ("GET", f"/api/v1/statistics/campaigns/{NONE}", "stats:read"),
    ("GET", "/api/v1/statistics/servers", "stats:read"),
    ("GET", "/api/v1/statistics/days", "stats:read"),
]


@pytest.mark.parametrize(("method", "path", "scope"), ENDPOINTS, ids=[f"{m} {p}" for m, p, _ in ENDPOINTS])
async def test_an_endpoint_needs_its_scope_and_no_other(client, method, path, scope):
    workspace = await make_workspace()
    others = bearer(await api_key(workspace, scopes=tuple(s for s in SCOPES if s != scope)))
    refused = await client.request(method, path, headers=others, json={} if method in ("POST", "PUT", "PATCH")
                                   else None)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "insufficient_scope"
    only = bearer(await api_key(workspace, scopes=(scope,)))
    allowed = await client.request(method, path, headers=only, json={} if method in ("POST", "PUT", "PATCH")
                                   else None)
    assert allowed.status_code != 403 and allowed.status_code < 500, allowed.text
