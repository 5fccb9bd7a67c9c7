"""The root of the JSON API under /api/v1: names the API and links to its documentation."""

from __future__ import annotations

from litestar import Request, get
from msgspec import Struct

from app.web.api_auth import ApiController


class ApiRoot(Struct):
    name: str
    version: str
    docs: str


class ApiRootController(ApiController):
    path = "/api/v1"
    tags = ["meta"]

    @get("/", summary="API root", description="Names the API and links to its documentation.")
    async def root(self, request: Request) -> ApiRoot:
        return ApiRoot(name="Ignite API", version="v1", docs="/api/v1/docs")
