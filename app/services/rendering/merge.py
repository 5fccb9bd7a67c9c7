"""Merge tags: Jinja2 in its sandboxed environment, tuned so that a campaign never fails halfway.

Undefined names, attributes and items render as empty text, arithmetic on them
stays undefined, and `None` prints as nothing. Everything that can be wrong in
the template itself (syntax, unknown filters, constructs we forbid) is raised
as `TemplateError` when the template is compiled, so the editor can show it
before anything is sent. The environment is the budgeted sandbox (sandbox.py):
what a render may spend is held by the meter active around it (budget.py).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from datetime import date, datetime
from types import CodeType
from typing import Any, Generic, TypeVar

import jinja2
from jinja2 import ChainableUndefined, nodes

from app.services.rendering.errors import TemplateError
from app.services.rendering.guards import LOOP_FILTER, metered_filters
from app.services.rendering.sandbox import BudgetedEnvironment


class SilentUndefined(ChainableUndefined):
    """An undefined value that absorbs every operation instead of raising mid-campaign."""

    __slots__ = ()

    def _absorb(self, *args: Any, **kwargs: Any) -> SilentUndefined:
        return self

    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = _absorb
    __truediv__ = __rtruediv__ = __floordiv__ = __rfloordiv__ = _absorb
    __mod__ = __rmod__ = __pow__ = __rpow__ = __pos__ = __neg__ = _absorb
    __lt__ = __le__ = __gt__ = __ge__ = __call__ = _absorb


def _is_missing(value: Any) -> bool:
    return isinstance(value, jinja2.Undefined) or value is None or (isinstance(value, str) and not value.strip())


def default_filter(value: Any, fallback: Any = "", boolean: bool = False) -> Any:
    """Like Jinja's `default`, but an empty or blank field also counts as missing, as marketers expect."""
    if _is_missing(value) or (boolean and not value):
        return fallback
    return value


def date_filter(value: Any, format: str = "%Y-%m-%d") -> str:
    """Format a date, datetime, ISO string or Unix timestamp; anything unreadable renders empty."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            return ""
    elif isinstance(value, int | float) and not isinstance(value, bool):
        try:
            value = datetime.fromtimestamp(value)
        except (OverflowError, OSError, ValueError):
            return ""
    if not isinstance(value, date):
        return ""
    try:
        return value.strftime(format)
    except ValueError:
        return ""


# Included templates would be looked up at send time, and autoescape blocks would let
# a template switch off escaping of subscriber data; both are refused at compile time.
_FORBIDDEN_NODES: dict[type[nodes.Node], str] = {
    nodes.Extends: "extends",
    nodes.Include: "include",
    nodes.Import: "import",
    nodes.FromImport: "import",
    nodes.ScopedEvalContextModifier: "autoescape",
    nodes.EvalContextModifier: "autoescape",
}


def _finalize(value: Any) -> Any:
    return "" if value is None else value


def _environment(autoescape: bool) -> BudgetedEnvironment:
    environment = BudgetedEnvironment(
        autoescape=autoescape,
        undefined=SilentUndefined,
        finalize=_finalize,
        keep_trailing_newline=True,
        cache_size=0,
        auto_reload=False,
    )
    environment.filters["default"] = environment.filters["d"] = default_filter
    environment.filters["date"] = date_filter
    # `safe` would print subscriber data unescaped into the HTML part.
    del environment.filters["safe"]
    environment.filters = metered_filters(environment.filters)
    return environment


HTML_ENVIRONMENT = _environment(autoescape=True)
TEXT_ENVIRONMENT = _environment(autoescape=False)


def compile_template(source: str, *, html: bool) -> jinja2.Template:
    """Compile merge tags once; HTML templates escape every value they print."""
    environment = HTML_ENVIRONMENT if html else TEXT_ENVIRONMENT
    try:
        tree = environment.parse(source)
        for node_type, name in _FORBIDDEN_NODES.items():
            found = next(tree.find_all(node_type), None)
            if found is not None:
                raise TemplateError(f"'{name}' is not allowed in email templates", found.lineno)
        # Jinja only checks filters outside conditional blocks at compile time; check them all.
        for node in tree.find_all((nodes.Filter, nodes.Test)):
            known = environment.filters if isinstance(node, nodes.Filter) else environment.tests
            if node.name not in known:
                raise TemplateError(f"unknown filter or test '{node.name}'", node.lineno)
        for loop in tree.find_all(nodes.For):
            loop.iter = nodes.Filter(loop.iter, LOOP_FILTER, [], [], None, None, lineno=loop.iter.lineno)
        return environment.from_string(tree)
    except jinja2.TemplateSyntaxError as error:
        raise TemplateError(error.message or "syntax error", error.lineno) from error


def render_pieces(template: jinja2.Template, context: dict[str, Any]) -> Iterator[str]:
    """The output as the compiled template yields it, without the copy of the context
    that `Template.render` makes for every call.

    The context must already hold the environment's globals (`base_context()` provides them).
    """
    return template.root_render_func(template.new_context(context, shared=True))


def render_template(template: jinja2.Template, context: dict[str, Any]) -> str:
    return "".join(render_pieces(template, context))


def template_constants(template: jinja2.Template) -> set[str]:
    """The literal text a compiled template can yield, found in its code objects' constants."""
    constants: set[str] = set()
    codes = [template.root_render_func.__code__]
    while codes:
        code = codes.pop()
        for constant in code.co_consts:
            if isinstance(constant, str):
                constants.add(constant)
            elif isinstance(constant, CodeType):
                codes.append(constant)
    return constants


def base_context() -> dict[str, Any]:
    return dict(HTML_ENVIRONMENT.globals)


V = TypeVar("V")


class TemplateCache(Generic[V]):
    """A small thread-safe LRU of compiled objects keyed by (template or campaign id, version)."""

    def __init__(self, maxsize: int = 128) -> None:
        self.maxsize = maxsize
        self._items: OrderedDict[Hashable, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, build: Callable[[], V]) -> V:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        value = build()
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.maxsize:
                self._items.popitem(last=False)
        return value

    def __len__(self) -> int:
        return len(self._items)
