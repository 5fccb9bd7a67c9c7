"""Every endpoint of the API held to its own OpenAPI schema, property-based (schemathesis, in-process).

Schemathesis generates requests from the schema, valid ones and deliberately broken ones, and each answer is
checked against what the schema promises: no server error, a documented status code, content type, headers
and body, and broken input refused. Hypothesis runs in a thread so that each request can go through the
test's own event loop, where the app's database pool lives.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from tests.api_client import api_key, bearer
from tests.factories import make_list, make_subscribers, make_workspace

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          negative_data_rejection]
EXAMPLES_PER_OPERATION = 12
BASE_URL = "http://127.0.0.1:8000"
# What the httpx client takes of the keyword arguments schemathesis prepares for `requests`.
REQUEST_ARGUMENTS = {"method", "url", "params", "headers", "cookies", "json", "data", "files", "content"}


def _exercise(operation, send: Callable[[object], httpx.Response]) -> None:
    @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy())
    def check(case) -> None:
        case.validate_response(send(case), checks=CHECKS)

    check()


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
async def test_every_endpoint_answers_as_its_schema_says(client):
    workspace = await make_workspace()
    await make_subscribers(await make_list(workspace), 3)
    secret = await api_key(workspace, scopes=("admin",))
    document = (await client.get("/api/v1/docs/openapi.json")).json()
    schema = schemathesis.openapi.from_dict(document)
    loop = asyncio.get_running_loop()

    def send(case) -> httpx.Response:
        prepared = case.as_transport_kwargs(base_url=BASE_URL, headers=bearer(secret))
        arguments = {name: value for name, value in prepared.items() if name in REQUEST_ARGUMENTS}
        request = client.build_request(**arguments)
        # A multipart body is a stream; schemathesis reads the request back when it explains a failure.
        request.read()
        return asyncio.run_coroutine_threadsafe(client.send(request), loop).result(timeout=60)

    failures: dict[str, str] = {}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 20, "the schema lists the API's endpoints"
    for operation in operations:
        # Rotating or revoking the key the run uses would leave every later operation answering 401.
        if operation.path.startswith("/api/v1/keys/"):
            continue
        try:
            await asyncio.to_thread(_exercise, operation, send)
        except Exception as failure:
            failures[operation.label] = str(failure)[:2000]
    assert not failures, "\n\n".join(f"{label}:\n{text}" for label, text in failures.items())
