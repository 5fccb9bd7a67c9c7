"""Bad parameters never give a 500: every registered route, walked with ids no column can hold, negative and
zero ids, NUL characters, malformed cursors and ids in the wrong places, answers 4xx with a message (or a
page). One test per route module, so a failure names the file to fix."""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from typing import Any

import pytest

from tests.factories import login
from tests.integration.security.walking import (
    Endpoint,
    call,
    each_endpoint,
    endpoints,
    first_workspace,
    path_values_for,
)

HUGE = "99999999999999999999"
NUL = "\x00"
BAD_IDS = (HUGE, "-1", "0")
QUERY_VARIANTS: tuple[dict[str, str], ...] = (
    {"q": NUL}, {"q": "Zoë%_\\'\""}, {"after": HUGE}, {"before": HUGE}, {"after": "abc"}, {"before": "-1"},
    {"sort": "email", "after": "a|abc"}, {"sort": "email", "after": f"a@b.example|{HUGE}"},
    {"sort": "email", "after": "|"}, {"tag_id": HUGE}, {"list_id": HUGE}, {"segment_id": HUGE}, {"tag_id": "abc"},
    {"list_id": "-1"}, {"segment_id": "abc"}, {"archived": "maybe"}, {"status": NUL}, {"kind": "nonsense"},
    {"email": "nobody@second.example"}, {"added_from": "2026-13-45"}, {"next": "//evil.example"},
)
FORM_FIELDS = (
    "name", "email", "list_id", "tag_id", "domain_group_id", "plan_id", "segment_id", "target_list", "day",
    "override_cap", "hourly_limit", "status", "role", "workspace_id", "ids", "test_to", "domain", "selector", "kind",
    "weight", "per_second", "daily_quota", "cost_per_thousand", "daily_caps", "action", "scope", "tag_name", "label",
    "q", "after", "subject", "html", "entries", "domains", "password", "mode", "direction", "label", "tag",
)
FORM_VALUES = (HUGE, "abc", "-1", "0", "a|abc", "x" * 400)


@cache
def _modules() -> list[str]:
    from app.main import create_app

    return sorted({endpoint.module for endpoint in endpoints(create_app())})


def _declared_queries(endpoint: Endpoint) -> list[str]:
    handler = endpoint.handler
    skipped = {"request", "scope", "data", "socket", *handler.resolve_dependencies(),
               *endpoint.route.path_parameters}
    return [name for name in handler.parsed_fn_signature.parameters if name not in skipped]


def bad_requests(endpoint: Endpoint, ids: dict[str, Any]) -> Iterator[tuple[str, dict | None, dict | None]]:
    """(url, query, form) for each bad request to make of `endpoint`; a stream only gets ones it must refuse."""
    for name in endpoint.int_params:
        for value in BAD_IDS:
            yield endpoint.url({**ids, name: value}), None, None
    for parameter in endpoint.route.path_parameters.values():
        if parameter.type is not int:
            yield endpoint.url({**ids, parameter.name: f"a{NUL}b"}), None, None
    real = endpoint.url(ids)
    yield real, {"q": NUL}, None
    if endpoint.streams:
        return
    if endpoint.method == "GET":
        declared = _declared_queries(endpoint)
        yield from ((real, query, None) for query in QUERY_VARIANTS)
        yield from ((real, {name: value}, None) for name in declared for value in (HUGE, NUL, "-1", "abc"))
        return
    yield real, None, {"name": NUL}
    yield from ((real, None, dict.fromkeys(FORM_FIELDS, value)) for value in FORM_VALUES)


async def walk(client, app, module: str) -> list[str]:
    first = await first_workspace()
    await login(client, first.owner["email"])
    ids = {**first.ids, "section": "lists"}
    failures = []
    for endpoint in each_endpoint(app, modules={module}):
        values = path_values_for(endpoint, ids)
        for url, query, form in bad_requests(endpoint, values):
            response = await call(client, endpoint, url, query, form)
            if response.status_code >= 500:
                failures.append(f"{endpoint}: {url} query={query} form={bool(form)} -> {response.status_code}")
    return failures


@pytest.mark.parametrize("module", _modules())
async def test_bad_parameters_never_give_a_500(client, app, module):
    failures = await walk(client, app, module)
    assert not failures, "\n".join(failures)


async def test_every_route_is_refused_nul_and_oversized_ids_by_the_edge_hook(app):
    """The parameter check is the app's hook on every handler: a handler or controller with its own hook
    would silently replace it (Litestar runs only the innermost `before_request`)."""
    from app.web.params import checked_parameters

    hooks = {str(endpoint): endpoint.handler.resolve_before_request() for endpoint in endpoints(app)}
    assert {name for name, hook in hooks.items() if hook is not checked_parameters} == set()


async def test_the_reported_parameters_answer_400_or_404_with_a_message(client):
    from tests.factories import post_form, signed_in_client

    await signed_in_client(client)
    assert (await client.get(f"/mailing/lists/{HUGE}")).status_code == 404
    for url, params in (("/settings/audit", {"before": HUGE}), ("/mailing/inbox", {"before": HUGE}),
                        ("/mailing/subscribers", {"q": NUL}), ("/mailing/lists", {"q": NUL})):
        response = await client.get(url, params=params)
        assert response.status_code == 400, url
        assert "not a valid number" in response.text or "NUL character" in response.text
    named = await post_form(client, "/mailing/lists", {"name": f"a{NUL}b"})
    assert named.status_code == 400 and "NUL character" in named.text
    json_answer = await client.get(f"/mailing/lists/{HUGE}", headers={"accept": "application/json"})
    assert json_answer.json()["error"]["code"] == "not_found"

