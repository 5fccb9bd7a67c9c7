"""A rate-limited request answers 429 with Retry-After, and shows why where the person typed.

The form the route remembered (`submitted()`) is rendered again with its values and the message as a
form-wide error; without one, a short page says it. `create_app()` registers the handler app-wide.
"""

from __future__ import annotations

from urllib.parse import quote

from litestar import Request, Response
from litestar.response import Template

from app.services.forms import FORM_WIDE
from app.services.public_limits import RateLimited
from app.web.errors import FormPage, is_htmx_request, remembered_form

STATUS = 429


def rate_limited_response(request: Request, exc: RateLimited) -> Response:
    headers = {"Retry-After": str(exc.retry_after)}
    if is_htmx_request(request):
        headers["X-Ignite-Message"] = quote(exc.message)
    remembered = remembered_form(request)
    if remembered is not None:
        return FormPage(remembered, {FORM_WIDE: exc.message}, status_code=STATUS, headers=headers)
    return Template("public/message.html", status_code=STATUS, headers=headers,
                    context={"title": "Slow down", "message": exc.message})


RATE_LIMIT_HANDLERS = {RateLimited: rate_limited_response}
