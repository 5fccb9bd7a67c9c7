"""What the budgeted sandbox charges, and the checks it makes before operations that can multiply their input.

Each check takes the active meter (`current_meter`) and refuses, with `BudgetExceeded`, what
would not fit before it is built: `'x' * 10**7`, `10**5000`, `'x' | center(10**9)`, a join of
a thousand copies of a long text. What an operation returns is then charged: characters for
text, steps for the items of a list.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from functools import wraps
from string import Formatter
from typing import Any

from jinja2 import pass_context
from jinja2.runtime import Context
from jinja2.utils import generate_lorem_ipsum

from app.services.rendering.budget import DEFAULT_BUDGET, MAX_DIGITS, Meter, active_meter, too_large

LOOP_FILTER = "loop_steps"
_DIGITS_PER_BIT = math.log10(2)
# A printf width or precision: %10s, %.5f, %*d.
_PRINTF_SIZES = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")


def current_meter() -> Meter:
    """The render's meter; outside a render (constant folding at compile time) a fresh one, so limits still hold."""
    return active_meter() or Meter(DEFAULT_BUDGET)


def text_size(value: Any) -> int:
    """About how many characters `value` turns into when printed."""
    if isinstance(value, str):
        return len(value)
    if isinstance(value, Mapping):
        return sum(text_size(key) + text_size(item) for key, item in value.items())
    if isinstance(value, list | tuple | set | frozenset):
        return sum(text_size(item) for item in value) + len(value)
    return 8


def charge_result(meter: Meter, result: Any) -> Any:
    if isinstance(result, str):
        meter.charge(len(result))
    elif isinstance(result, list | tuple):
        meter.step(len(result))
    return result


def counting(iterable: Iterable[Any], meter: Meter) -> Iterator[Any]:
    for item in iterable:
        meter.step()
        yield item


@pass_context
def loop_steps(context: Context, iterable: Any) -> Any:
    """A loop's items, each charged as a step (pass_context keeps Jinja from running it at compile time)."""
    meter = active_meter()
    return iterable if meter is None else counting(iterable, meter)


def budget_range(*args: int) -> range:
    numbers = range(*args)
    _check_items(current_meter(), len(numbers))
    return numbers


def budget_lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:
    """Placeholder text; what it returns is charged by the call, its size is checked before."""
    current_meter().affordable(int(n) * int(max) * 12)
    return generate_lorem_ipsum(n, html, min, max)


def _check_digits(bits: float) -> None:
    if bits * _DIGITS_PER_BIT > MAX_DIGITS:
        raise too_large(f"a number would have more than {MAX_DIGITS:,} digits.")


def check_power(left: Any, right: Any) -> None:
    if isinstance(left, int) and isinstance(right, int) and right > 0 and abs(left) > 1:
        _check_digits(right * math.log2(abs(left)))


def check_product(meter: Meter, left: Any, right: Any) -> None:
    if isinstance(left, int) and isinstance(right, int):
        _check_digits(left.bit_length() + right.bit_length())
        return
    sequence, times = (left, right) if isinstance(right, int) else (right, left)
    if not isinstance(times, int) or times <= 0:
        return
    if isinstance(sequence, str):
        meter.affordable(len(sequence) * times)
    elif isinstance(sequence, list | tuple):
        _check_items(meter, len(sequence) * times)
        meter.affordable(text_size(sequence) * times)


def _check_items(meter: Meter, count: int) -> None:
    if count > meter.budget.steps:
        raise too_large(f"a list would have more than {meter.budget.steps:,} items.")


def check_sum(meter: Meter, left: Any, right: Any) -> None:
    if isinstance(left, str) and isinstance(right, str):
        meter.affordable(len(left) + len(right))
    elif isinstance(left, list | tuple) and isinstance(right, list | tuple):
        _check_items(meter, len(left) + len(right))


def _check_width(meter: Meter, width: Any) -> None:
    if isinstance(width, int):
        meter.affordable(width)


def check_printf(meter: Meter, template: Any, values: Any) -> None:
    """`'%10s' % x` and `|format`: widths come from the template text, never from a variable."""
    if not isinstance(template, str):
        return
    for width, precision in _PRINTF_SIZES.findall(template):
        if "*" in (width, precision):
            raise too_large("a format width must be written in the template, not taken from a value.")
        _check_width(meter, int(width or 0) + int(precision or 0))
    meter.affordable(len(template) + text_size(values))


def check_format(meter: Meter, template: str, values: Any) -> None:
    """`'{:>10}'.format(x)`: the same rule for str.format's format specs."""
    try:
        fields = list(Formatter().parse(template))
    except ValueError:
        return
    for _, _, spec, _ in fields:
        if not spec:
            continue
        if "{" in spec:
            raise too_large("a format width must be written in the template, not taken from a value.")
        for number in re.findall(r"\d+", spec):
            _check_width(meter, int(number))
    meter.affordable(len(template) + text_size(values))


def _replaced_size(text: Any, old: Any, new: Any, count: Any = -1) -> int:
    if not (isinstance(text, str) and isinstance(old, str) and isinstance(new, str)):
        return 0
    found = text.count(old) if old else len(text) + 1
    if isinstance(count, int) and count >= 0:
        found = min(found, count)
    return len(text) + found * max(len(new) - len(old), 0)


def _joined(meter: Meter, items: Any, separator: Any) -> list[Any]:
    listed = list(items) if isinstance(items, Iterable) else []
    meter.step(len(listed))
    meter.affordable(text_size(listed) + len(listed) * (len(separator) if isinstance(separator, str) else 0))
    return listed


# Checks that run before a filter whose output can be much larger than its input.
# Each takes the meter and the filter's arguments (after Jinja's context argument) and
# returns the arguments to call it with (a generator may be read into a list first).
Arguments = tuple[tuple[Any, ...], dict[str, Any]]


def _center(meter: Meter, args: tuple, kwargs: dict) -> Arguments:
    _check_width(meter, kwargs.get("width", args[1] if len(args) > 1 else 0))
    return args, kwargs


def _indent(meter: Meter, args: tuple, kwargs: dict) -> Arguments:
    width = kwargs.get("width", args[1] if len(args) > 1 else 4)
    lines = str(args[0]).count("\n") + 1 if args else 1
    meter.affordable(lines * (len(width) if isinstance(width, str) else width if isinstance(width, int) else 0))
    return args, kwargs


def _format(meter: Meter, args: tuple, kwargs: dict) -> Arguments:
    check_printf(meter, args[0] if args else "", (args[1:], kwargs))
    return args, kwargs


def _replace(meter: Meter, args: tuple, kwargs: dict) -> Arguments:
    count = kwargs.get("count", args[3] if len(args) > 3 else -1)
    if len(args) >= 3:
        meter.affordable(_replaced_size(args[0], args[1], args[2], -1 if count is None else count))
    return args, kwargs


def _join(meter: Meter, args: tuple, kwargs: dict) -> Arguments:
    if not args:
        return args, kwargs
    separator = kwargs.get("d", args[1] if len(args) > 1 else "")
    return (_joined(meter, args[0], separator), *args[1:]), kwargs


def _fill(meter: Meter, args: tuple, kwargs: dict) -> Arguments:
    """batch and slice make `count` lists, padded with `fill_with`."""
    count = kwargs.get("linecount", kwargs.get("slices", args[1] if len(args) > 1 else 0))
    if isinstance(count, int):
        meter.step(max(count, 0))
    return args, kwargs


def _wordwrap(meter: Meter, args: tuple, kwargs: dict) -> Arguments:
    text = str(args[0]) if args else ""
    width = kwargs.get("width", args[1] if len(args) > 1 else 79)
    wrapstring = kwargs.get("wrapstring", args[3] if len(args) > 3 else None) or "\n"
    if isinstance(width, int) and width > 0 and isinstance(wrapstring, str):
        meter.affordable(len(text) + (len(text) // width + 1) * len(wrapstring))
    return args, kwargs


def _printed(meter: Meter, args: tuple, kwargs: dict) -> Arguments:
    meter.affordable(text_size(args[0]) * 2 if args else 0)
    return args, kwargs


FILTER_GUARDS: dict[str, Callable[[Meter, tuple, dict], Arguments]] = {
    "center": _center, "indent": _indent, "format": _format, "replace": _replace, "join": _join,
    "batch": _fill, "slice": _fill, "wordwrap": _wordwrap,
    "tojson": _printed, "pprint": _printed, "string": _printed, "xmlattr": _printed, "urlencode": _printed,
}


def metered_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    """`func` charged one step per use and for what it returns, after its guard (if any) allowed it."""
    guard = FILTER_GUARDS.get(name)
    leading = 1 if getattr(func, "jinja_pass_arg", None) else 0

    @wraps(func)
    def run(*args: Any, **kwargs: Any) -> Any:
        meter = current_meter()
        meter.step()
        if guard is not None:
            checked, kwargs = guard(meter, args[leading:], kwargs)
            args = (*args[:leading], *checked)
        return charge_result(meter, func(*args, **kwargs))

    return run


def metered_filters(filters: Mapping[str, Callable[..., Any]]) -> dict[str, Callable[..., Any]]:
    return {**{name: metered_filter(name, func) for name, func in filters.items()}, LOOP_FILTER: loop_steps}


def str_method_arguments(meter: Meter, owner: str, name: str, args: tuple, kwargs: dict) -> tuple:
    """The same checks for str methods a template may call: 'x'.center(10**9), s.replace('', big), ..."""
    first = kwargs.get("width", args[0] if args else 0)
    if name in ("center", "ljust", "rjust", "zfill"):
        _check_width(meter, first)
    elif name == "replace" and len(args) >= 2:
        meter.affordable(_replaced_size(owner, args[0], args[1], args[2] if len(args) > 2 else -1))
    elif name == "expandtabs":
        _check_width(meter, owner.count("\t") * (first if isinstance(first, int) else 8))
    elif name == "translate" and isinstance(first, Mapping):
        meter.affordable(len(owner) * max((text_size(value) for value in first.values()), default=1))
    elif name == "join" and args:
        return (_joined(meter, args[0], owner), *args[1:])
    return args
