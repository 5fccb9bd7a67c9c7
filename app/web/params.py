"""Typed path and query parameters are checked at the edge, before a handler or a query sees them.

PostgreSQL refuses a value its column cannot hold, and that refusal would surface as a 500. So:
- an integer path parameter is a row id: one outside its column's range names no row, answer 404;
- an integer query parameter outside that range, or not a whole number, is a 400 with a message:
  handlers declare it in their signature (checked here) or read it with `int_param()` (`keyset_param()`
  for a `value|id` page cursor);
- a NUL character in the path, the query string or a url-encoded form is a 400 (PostgreSQL text
  cannot hold one).

`checked_parameters` is the app's `before_request` hook, so it runs after the guards: a caller who may
not see a page is sent to sign in (or refused) before being told anything about its parameters.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache

from litestar import Request
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotFoundException, ValidationException
from litestar.handlers.base import BaseRouteHandler
from litestar.typing import FieldDefinition

INTEGER = (-(2**31), 2**31 - 1)
BIGINT = (-(2**63), 2**63 - 1)
# Parameters that carry ids of bigserial tables (subscribers, suppression entries, captured messages) or
# cursors over them (the audit log and inbox go back `before` an id); every other id is a serial integer.
BIGINT_PARAMETERS = frozenset({"subscriber_id", "entry_id", "message_id", "bounce_id", "report_id", "before", "after"})
NUL = "\x00"


def fits_column(name: str, value: int) -> bool:
    """Whether the column behind parameter `name` can hold `value`."""
    low, high = BIGINT if name in BIGINT_PARAMETERS else INTEGER
    return low <= value <= high


def _whole_number(name: str, text: str) -> int:
    try:
        value = int(text.strip())
    except ValueError:
        value = None
    if value is None or not fits_column(name, value):
        raise ValidationException(f"The address has {name}={text[:40]!r}, which is not a valid number.")
    return value


def int_param(params: Mapping[str, str], name: str) -> int | None:
    """An optional integer query parameter: None when absent or empty, 400 when it is not a whole number
    its column can hold."""
    text = str(params.get(name) or "").strip()
    return _whole_number(name, text) if text else None


def keyset_param(params: Mapping[str, str], name: str = "after") -> tuple[str, int] | None:
    """A keyset cursor `value|id` (the sort value and id of the last row shown): None when absent, 400 when it
    is not one. The ids are of bigserial tables (subscribers, suppression entries)."""
    text = str(params.get(name) or "")
    if not text:
        return None
    value, separator, last_id = text.rpartition("|")
    if not separator or not last_id.isdigit():
        raise ValidationException(f"The address has {name}={text[:40]!r}, which is not a page of this list.")
    return value, _whole_number(name, last_id)


def _takes_int(field: FieldDefinition) -> bool:
    """`int` or `int | None`, not `bool`."""
    types = [inner for inner in field.inner_types if not inner.is_none_type] if field.is_optional else [field]
    return bool(types) and all(t.is_subclass_of(int) and not t.is_subclass_of(bool) for t in types)


@cache
def _declared_int_queries(handler: BaseRouteHandler, path_params: frozenset[str]) -> tuple[str, ...]:
    """Query parameters the handler takes as integers (path parameters and dependencies excluded); worked
    out once per handler, as every request (the tracking pixel's too) passes here."""
    excluded = path_params | set(handler.resolve_dependencies())
    return tuple(name for name, field in handler.parsed_fn_signature.parameters.items()
                 if name not in excluded and _takes_int(field))


async def _form_has_nul(request: Request) -> bool:
    # Multipart bodies are uploads that their handler streams to disk: reading them here would use up the stream.
    if request.method in {"GET", "HEAD", "OPTIONS"} or request.content_type[0] != RequestEncodingType.URL_ENCODED:
        return False
    form = await request.form()
    return any(NUL in key or NUL in str(value) for key, value in form.multi_items())


async def checked_parameters(request: Request) -> None:
    """Refuse parameters no handler could use (see the module docstring); let everything else through."""
    if NUL in request.scope["path"] or any(NUL in key or NUL in value
                                           for key, value in request.query_params.multi_items()):
        raise ValidationException("The address contains a NUL character; remove it and try again.")
    for name, value in request.path_params.items():
        if isinstance(value, int) and not isinstance(value, bool) and not fits_column(name, value):
            raise NotFoundException("There is nothing with that number here.")
    for name in _declared_int_queries(request.route_handler, frozenset(request.path_params)):
        for text in request.query_params.getall(name, []):
            if text.strip():
                _whole_number(name, text)
    if await _form_has_nul(request):
        raise ValidationException("The form contains a NUL character; remove it and try again.")
