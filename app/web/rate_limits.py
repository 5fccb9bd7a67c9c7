"""A rate-limited request answers 429 with Retry-After, and shows why where the person typed.

The form the route remembered (`submitted()`) is rendered again with its values and the message as a
form-wide error; without one, a short page says it. Routes of public pages register the handler:
`exception_handlers=RATE_LIMIT_HANDLERS`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from litestar import Request, Response
from litestar.response import Template
from litestar.types import Receive, Scope, Send

from app.services.forms import FORM_WIDE
from app.services.public_limits import RateLimited
from app.web.errors import FORM_PAGE, FormContext, is_htmx_request

STATUS = 429


class _LimitedForm(Response):
    """The remembered form, rendered once its (possibly async) context is ready."""

    def __init__(self, template: str, context: FormContext, values: Mapping[str, str], message: str,
                 headers: dict[str, str]) -> None:
        super().__init__(content=b"", status_code=STATUS)
        self.template, self.form_context, self.values, self.message = template, context, values, message
        self.limit_headers = headers

    def to_asgi_response(self, app: Any, request: Request, **kwargs: Any) -> Any:
        async def respond(scope: Scope, receive: Receive, send: Send) -> None:
            context = self.form_context if isinstance(self.form_context, Mapping) else await self.form_context()
            values = {name: value for name, value in self.values.items() if "password" not in name}
            rendered = Template(self.template, status_code=STATUS, headers=self.limit_headers,
                                context={**context, "form": values, "errors": {FORM_WIDE: self.message}})
            await rendered.to_asgi_response(None, request, **kwargs)(scope, receive, send)

        return respond


def rate_limited_response(request: Request, exc: RateLimited) -> Response:
    headers = {"Retry-After": str(exc.retry_after)}
    if is_htmx_request(request):
        headers["X-Ignite-Message"] = quote(exc.message)
    remembered = request.scope.get("state", {}).get(FORM_PAGE)
    if remembered is not None:
        template, context, values = remembered
        return _LimitedForm(template, context, values, exc.message, headers)
    return Template("public/message.html", status_code=STATUS, headers=headers,
                    context={"title": "Slow down", "message": exc.message})


RATE_LIMIT_HANDLERS = {RateLimited: rate_limited_response}
