"""The JSON API under /api/v1. API keys arrive with their own issue; until then every call is refused."""

from __future__ import annotations

from litestar import Controller, Request, get
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException
from litestar.handlers.base import BaseRouteHandler
from msgspec import Struct


class ApiRoot(Struct):
    name: str
    version: str
    docs: str


def api_key_required(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    raise NotAuthorizedException(
        "An API key is required: send it as 'Authorization: Bearer <key>'.",
        headers={"WWW-Authenticate": 'Bearer realm="ignite"'},
    )


class ApiRootController(Controller):
    path = "/api/v1"
    guards = [api_key_required]
    tags = ["meta"]

    @get("/", summary="API root", description="Names the API and links to its documentation.")
    async def root(self, request: Request) -> ApiRoot:
        return ApiRoot(name="Ignite API", version="v1", docs="/api/v1/docs")
