"""The root of the JSON API under /api/v1: names the API, links to its documentation, and says who is calling."""

from __future__ import annotations

from litestar import get
from msgspec import Struct

from app.web.api_auth import ANY, ApiCaller, ApiController, error_responses


class ApiRoot(Struct):
    name: str
    version: str
    docs: str
    workspace_id: int
    key_id: int
    sandbox: bool
    scopes: list[str]


class ApiRootController(ApiController):
    path = "/api/v1"
    tags = ["meta"]

    @get("/", summary="API root", operation_id="apiRoot", opt={"scope": ANY}, responses=error_responses(),
         description="Names the API, links to its documentation, and names the calling key's workspace and "
                     "scopes. Any valid key may call it.")
    async def root(self, caller: ApiCaller) -> ApiRoot:
        return ApiRoot(name="Ignite API", version="v1", docs="/api/v1/docs", workspace_id=caller.workspace_id,
                       key_id=caller.key_id, sandbox=caller.sandbox, scopes=sorted(caller.scopes))
