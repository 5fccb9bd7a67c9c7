"""Every error takes one path to the person who caused it: never a stack trace.

- A service's `FormError` re-renders the submitted form with a message next to each field (422),
  which the browser's htmx configuration swaps in like a success (static/js/ignite.js).
- A service's `LookupError` is a 404.
- Anything else is a page (full navigation), a toast (an HTMX request: the message travels in the
  `X-Ignite-Message` header), or a JSON error with a stable code (the API).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import quote, urlsplit

from litestar import Request, Response
from litestar.exceptions import HTTPException, NotAuthorizedException, ValidationException
from litestar.plugins.flash import flash
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR
from litestar.types import Receive, Scope, Send

from app.logs import get_logger
from app.services.forms import FORM_WIDE, FormError

log = get_logger("ignite.errors")

CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    422: "invalid",
    429: "rate_limited",
    500: "internal_error",
    503: "unavailable",
}

TITLES = {
    400: "That request was not understood",
    401: "Please sign in",
    403: "You can't do that here",
    404: "Not found",
    405: "Not allowed",
    409: "That changed meanwhile",
    413: "That was too large",
    422: "Please correct the form",
    429: "Slow down",
    500: "Something went wrong on our side",
    503: "Temporarily unavailable",
}

class ApiError(HTTPException):
    """A refusal of the JSON API with a stable code beside the message: `{"error": {"code", "message", "fields"}}`."""

    def __init__(self, status_code: int, code: str, message: str, fields: Mapping[str, str] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(detail=message, status_code=status_code, headers=headers)
        self.code = code
        self.fields = dict(fields or {})


GONE_FROM_API = "Not found: nothing with that id in this key's workspace."
GONE = "That no longer exists. Reload the page to see what is there now."
# What a route leaves on request.state so that a FormError can re-render its form.
FORM_PAGE = "form_page"
FormContext = Mapping[str, Any] | Callable[[], Awaitable[Mapping[str, Any]]]
# msgspec names where in the body a value was refused ("… - at `$.recipients[0].to`") or what was missing.
_PATH_IN_MESSAGE = re.compile(r"at `\$\.([^`]+)`")
_MISSING_FIELD = re.compile(r"missing required field `([^`]+)`")


def wants_json(request: Request) -> bool:
    if request.url.path.startswith("/api/"):
        return True
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def is_htmx_request(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def _message(exc: Exception, status: int) -> str:
    if status == 403 and "CSRF" in str(getattr(exc, "detail", "")):
        return "Your form expired or came from another site. Reload the page and try again."
    if status == 413:
        return "The request body is larger than this form accepts."
    if status >= 500:
        return "The error has been logged. Try again in a moment."
    detail = getattr(exc, "detail", "") or ""
    return detail if isinstance(detail, str) and detail else TITLES.get(status, "Error")


def _status_of(exc: Exception) -> int:
    if isinstance(exc, HTTPException):
        return exc.status_code
    # KeyError and IndexError are bugs, not "no such thing in this workspace".
    if isinstance(exc, LookupError) and not isinstance(exc, KeyError | IndexError):
        return 404
    return HTTP_500_INTERNAL_SERVER_ERROR


def fields_of(problems: list[Any]) -> dict[str, str]:
    """Litestar's validation problems as the API's `fields`: each field named by its path in the body.

    A missing field is reported against the whole body (`data`); its name is in the message."""
    fields: dict[str, str] = {}
    for problem in problems:
        problem = problem if isinstance(problem, Mapping) else {"message": str(problem)}
        message = str(problem.get("message", ""))
        located = _PATH_IN_MESSAGE.search(message) or _MISSING_FIELD.search(message)
        name = located.group(1) if located else str(problem.get("key") or FORM_WIDE)
        fields.setdefault(name, message)
    return fields


def error_response(request: Request, exc: Exception) -> Response:
    status = _status_of(exc)
    request_id = request.scope.get("state", {}).get("request_id", "")
    if status >= 500:
        log.error("unhandled_error", exc_info=exc, route=request.scope.get("path_template", ""))
    gone = GONE_FROM_API if wants_json(request) else GONE
    message = gone if status == 404 and not isinstance(exc, HTTPException) else _message(exc, status)
    headers = dict(getattr(exc, "headers", None) or {})
    if wants_json(request):
        code = exc.code if isinstance(exc, ApiError) else CODES.get(status, "error")
        body = {"error": {"code": code, "message": message, "request_id": request_id}}
        if isinstance(exc, ApiError) and exc.fields:
            body["error"]["fields"] = exc.fields
        if isinstance(exc, ValidationException) and isinstance(exc.extra, list):
            body["error"]["fields"] = fields_of(exc.extra)
        return Response(body, status_code=status, headers=headers or None)
    if isinstance(exc, NotAuthorizedException):
        return _to_sign_in(request)
    if is_htmx_request(request):
        headers["X-Ignite-Message"] = quote(message)
    return Template(
        template_name="errors/error.html",
        context={"status": status, "title": TITLES.get(status, "Error"), "message": message,
                 "request_id": request_id},
        status_code=status,
        headers=headers,
    )


class FormPage(Response):
    """A remembered form rendered again with messages, once its (possibly async) context is ready.

    Typed passwords are never sent back."""

    def __init__(self, remembered: tuple[str, FormContext, Mapping[str, str]], errors: dict[str, str],
                 status_code: int = 422, headers: dict[str, str] | None = None) -> None:
        # The address bar keeps the form's page: reloading a POST address would only answer 405.
        super().__init__(content=b"", status_code=status_code, headers={**(headers or {}), "HX-Push-Url": "false"})
        self.template, self.form_context, values = remembered
        self.values = {name: value for name, value in values.items() if "password" not in name}
        self.errors = errors

    def to_asgi_response(self, app: Any, request: Request, **kwargs: Any) -> Any:
        async def respond(scope: Scope, receive: Receive, send: Send) -> None:
            context = self.form_context if isinstance(self.form_context, Mapping) else await self.form_context()
            rendered = Template(self.template, status_code=self.status_code, headers=self.headers,
                                context={**context, "form": self.values,
                                         "errors": {**context.get("errors", {}), **self.errors}})
            await rendered.to_asgi_response(None, request, **kwargs)(scope, receive, send)

        return respond


def remembered_form(request: Request) -> tuple[str, FormContext, Mapping[str, str]] | None:
    """What the route asked to re-render if its input is refused (see `app.web.pages.submitted`)."""
    return request.scope.get("state", {}).get(FORM_PAGE)


def form_error_response(request: Request, exc: FormError) -> Response:
    """The form again, values kept, each message next to its field; or the message where there is no form."""
    if wants_json(request):
        request_id = request.scope.get("state", {}).get("request_id", "")
        return Response({"error": {"code": "invalid", "message": str(exc), "fields": exc.errors,
                                   "request_id": request_id}}, status_code=422)
    remembered = remembered_form(request)
    if remembered is not None:
        return FormPage(remembered, exc.errors)
    if is_htmx_request(request) and request.headers.get("hx-boosted") != "true":
        return Response(b"", status_code=422, headers={"X-Ignite-Message": quote(str(exc))})
    flash(request, str(exc), "error")
    return Redirect(_back(request), status_code=303)


def _back(request: Request) -> str:
    """The page the form was on (a local path only), so its message shows where it was typed."""
    referer = urlsplit(request.headers.get("referer", ""))
    if referer.netloc and referer.netloc != request.url.netloc:
        return "/"
    path = referer.path or "/"
    if not path.startswith("/") or path.startswith("//"):
        return "/"
    return path + (f"?{referer.query}" if referer.query else "")


def _to_sign_in(request: Request) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    location = f"/login?next={quote(target)}" if request.method == "GET" else "/login"
    if is_htmx_request(request):
        return Response(b"", status_code=200, headers={"HX-Redirect": location})
    return Redirect(location, status_code=303)


EXCEPTION_HANDLERS = {FormError: form_error_response, HTTPException: error_response, Exception: error_response}
__all__ = ["EXCEPTION_HANDLERS", "FORM_PAGE", "FORM_WIDE", "ApiError", "FormContext", "error_response", "wants_json"]
