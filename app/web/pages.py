"""Rendering a whole page or just the partial HTMX asked for, from the same template data."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.response import Template

from app.services.audit import Actor
from app.web.auth import client_ip
from app.web.errors import FORM_PAGE, FormContext

# Untrusted email HTML is served with this policy: no script, no same-origin access, no network but images.
SANDBOX_CSP = "sandbox; default-src 'none'; img-src https: http: data:; style-src 'unsafe-inline'; font-src https:"


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true" and request.headers.get("hx-boosted") != "true"


def page(
    request: Request,
    template: str,
    partial: str | None = None,
    status_code: int = 200,
    **context: Any,
) -> Template:
    """The full page, or `partial` when HTMX asked for a fragment; both get the same context."""
    name = partial if partial and is_htmx(request) else template
    return Template(template_name=name, context=context, status_code=status_code)


def actor_of(request: Request) -> Actor:
    viewer = request.state.viewer
    return Actor(user_id=viewer.user_id, email=viewer.email, ip=client_ip(request))


def form_values(form: Any) -> dict[str, str]:
    """A submitted form as plain strings, for re-filling it next to its errors."""
    return {key: str(value) for key, value in form.items()}


async def submitted(request: Request, template: str, context: FormContext | None = None) -> dict[str, str]:
    """The posted form as plain strings. If a service then raises `FormError`, the error handler
    renders `template` with `context`, these values as `form` and the messages as `errors` (422)."""
    values = form_values(await request.form())
    on_form_error(request, template, context or {}, values)
    return values


def on_form_error(request: Request, template: str, context: FormContext, values: dict[str, str]) -> None:
    """What to re-render if a service rejects `values`; `context` may be an async function, called only then."""
    request.scope.setdefault("state", {})[FORM_PAGE] = (template, context, values)
