"""Every error becomes a clear page or a JSON error with a stable code; never a stack trace."""

from __future__ import annotations

from urllib.parse import quote

from litestar import Request, Response
from litestar.exceptions import HTTPException, NotAuthorizedException, ValidationException
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from app.logs import get_logger

log = get_logger("ignite.errors")

CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
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
    413: "That was too large",
    429: "Slow down",
    500: "Something went wrong on our side",
    503: "Temporarily unavailable",
}


def wants_json(request: Request) -> bool:
    if request.url.path.startswith("/api/"):
        return True
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def _message(exc: Exception, status: int) -> str:
    if status == 403 and "CSRF" in str(getattr(exc, "detail", "")):
        return "Your form expired or came from another site. Reload the page and try again."
    if status == 413:
        return "The request body is larger than this form accepts."
    if status >= 500:
        return "The error has been logged. Try again in a moment."
    detail = getattr(exc, "detail", "") or ""
    return detail if isinstance(detail, str) else TITLES.get(status, "Error")


def error_response(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else HTTP_500_INTERNAL_SERVER_ERROR
    request_id = request.scope.get("state", {}).get("request_id", "")
    if status >= 500:
        log.error("unhandled_error", exc_info=exc, route=request.scope.get("path_template", ""))
    message = _message(exc, status)
    if wants_json(request):
        body = {"error": {"code": CODES.get(status, "error"), "message": message, "request_id": request_id}}
        if isinstance(exc, ValidationException) and isinstance(exc.extra, list):
            body["error"]["fields"] = exc.extra
        return Response(body, status_code=status, headers=getattr(exc, "headers", None) or None)
    if isinstance(exc, NotAuthorizedException):
        return _to_sign_in(request)
    return Template(
        template_name="errors/error.html",
        context={"status": status, "title": TITLES.get(status, "Error"), "message": message,
                 "request_id": request_id},
        status_code=status,
    )


def _to_sign_in(request: Request) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    location = f"/login?next={quote(target)}" if request.method == "GET" else "/login"
    if request.headers.get("hx-request") == "true":
        return Response(b"", status_code=200, headers={"HX-Redirect": location})
    return Redirect(location, status_code=303)


EXCEPTION_HANDLERS = {HTTPException: error_response, Exception: error_response}
