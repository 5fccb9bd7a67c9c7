"""The Jinja sandbox with a budget: every step a template takes is charged to the active `Meter`.

Jinja's sandbox stops templates from reaching Python internals, but not from spending
the machine: `{% for a in range(100000) %}{% for b in range(1500) %}` runs for minutes,
`{{ 'x' * 10**7 }}` builds ten megabytes and `{{ 10**5000 }}` cannot even be printed.
Here each of those is charged or refused before it is built:

- every loop iteration, call (macros included) and filter is a step;
- every character written into the output, into a macro or a `{% set %}` block, or built by
  `~`, `+` or a filter is charged; operations that can multiply their input (`*`, `%`,
  `center`, `replace`, `join`, `indent`, `batch`, ...) are checked before they run;
- numbers may not grow past `MAX_DIGITS` digits;
- templates cannot mutate lists or dicts (the immutable sandbox), so nothing grows unseen.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from functools import wraps
from string import Formatter
from typing import Any

from jinja2 import nodes, pass_context
from jinja2.compiler import CodeGenerator, Frame
from jinja2.runtime import Context, LoopContext, Macro
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import generate_lorem_ipsum

from app.services.rendering.budget import DEFAULT_BUDGET, MAX_DIGITS, Meter, active_meter, too_large

# The filter wrapped around every `for` loop's iterable, so that each iteration is a step.
LOOP_FILTER = "loop_steps"
_DIGITS_PER_BIT = math.log10(2)
# A printf width or precision: %10s, %.5f, %*d.
_PRINTF_SIZES = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")


def _meter() -> Meter:
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


def _counting(iterable: Iterable[Any], meter: Meter) -> Iterator[Any]:
    for item in iterable:
        meter.step()
        yield item


@pass_context
def loop_steps(context: Context, iterable: Any) -> Any:
    """A loop's items, each charged as a step (pass_context keeps Jinja from running it at compile time)."""
    meter = active_meter()
    return iterable if meter is None else _counting(iterable, meter)


def budget_range(*args: int) -> range:
    numbers = range(*args)
    _check_items(_meter(), len(numbers))
    return numbers


def budget_lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:
    """Placeholder text; what it returns is charged by the call, its size is checked before."""
    _meter().affordable(int(n) * int(max) * 12)
    return generate_lorem_ipsum(n, html, min, max)


def _check_digits(bits: float) -> None:
    if bits * _DIGITS_PER_BIT > MAX_DIGITS:
        raise too_large(f"a number would have more than {MAX_DIGITS:,} digits.")


def _check_power(left: Any, right: Any) -> None:
    if isinstance(left, int) and isinstance(right, int) and right > 0 and abs(left) > 1:
        _check_digits(right * math.log2(abs(left)))


def _check_product(meter: Meter, left: Any, right: Any) -> None:
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


def _check_sum(meter: Meter, left: Any, right: Any) -> None:
    if isinstance(left, str) and isinstance(right, str):
        meter.affordable(len(left) + len(right))
    elif isinstance(left, list | tuple) and isinstance(right, list | tuple):
        _check_items(meter, len(left) + len(right))


def _check_width(meter: Meter, width: Any) -> None:
    if isinstance(width, int):
        meter.affordable(width)


def _check_printf(meter: Meter, template: Any, values: Any) -> None:
    """`'%10s' % x` and `|format`: widths come from the template text, never from a variable."""
    if not isinstance(template, str):
        return
    for width, precision in _PRINTF_SIZES.findall(template):
        if "*" in (width, precision):
            raise too_large("a format width must be written in the template, not taken from a value.")
        _check_width(meter, int(width or 0) + int(precision or 0))
    meter.affordable(len(template) + text_size(values))


def _check_format(meter: Meter, template: str, values: Any) -> None:
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
    _check_printf(meter, args[0] if args else "", (args[1:], kwargs))
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
        meter = _meter()
        meter.step()
        if guard is not None:
            checked, kwargs = guard(meter, args[leading:], kwargs)
            args = (*args[:leading], *checked)
        return charge_result(meter, func(*args, **kwargs))

    return run


def metered_filters(filters: Mapping[str, Callable[..., Any]]) -> dict[str, Callable[..., Any]]:
    return {**{name: metered_filter(name, func) for name, func in filters.items()}, LOOP_FILTER: loop_steps}


def _str_method_arguments(meter: Meter, owner: str, name: str, args: tuple, kwargs: dict) -> tuple:
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


def _repeats(frame: Frame | None) -> bool:
    """Whether output in `frame` can be written more than once per render (in a loop, macro or block)."""
    if frame is None or frame.buffer is not None:
        return True
    while frame is not None:
        if frame.loop_frame:
            return True
        frame = frame.parent
    return False


class BudgetedCodeGenerator(CodeGenerator):
    """Jinja's code generator, with every piece of output in a loop, macro or block and every `~`
    charged to the meter.

    Output outside those is written once per render: literal text no longer than the template,
    values already charged when they were built (or subscriber data). Leaving it uncharged keeps
    campaign sends fast.
    """

    _output_frame: Frame | None = None

    def visit_Output(self, node: nodes.Output, frame: Frame) -> None:
        self._output_frame = frame
        super().visit_Output(node, frame)

    def _output_child_pre(self, node: nodes.Expr, frame: Frame, finalize: Any) -> None:
        if _repeats(frame):
            self.write("environment.written(")
        super()._output_child_pre(node, frame, finalize)

    def _output_child_post(self, node: nodes.Expr, frame: Frame, finalize: Any) -> None:
        super()._output_child_post(node, frame, finalize)
        if _repeats(frame):
            self.write(")")

    def _output_const_repr(self, group: Iterable[Any]) -> str:
        text = super()._output_const_repr(group)
        return f"environment.written({text})" if _repeats(self._output_frame) else text

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.written(")
        super().visit_Concat(node, frame)
        self.write(")")


class BudgetedEnvironment(ImmutableSandboxedEnvironment):
    """The immutable sandbox, charging the active meter for every step (see the module docstring)."""

    code_generator_class = BudgetedCodeGenerator
    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.globals["range"] = budget_range
        self.globals["lipsum"] = budget_lipsum

    def written(self, text: Any) -> Any:
        meter = active_meter()
        if meter is not None:
            meter.charge(len(text))
        return text

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        meter = _meter()
        meter.step()
        if operator == "**":
            _check_power(left, right)
        elif operator == "*":
            _check_product(meter, left, right)
        elif operator == "+":
            _check_sum(meter, left, right)
        elif operator == "%":
            _check_printf(meter, left, right)
        try:
            return charge_result(meter, super().call_binop(context, operator, left, right))
        except OverflowError as error:
            raise too_large("a number is too big to compute.") from error

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        formatter = super().wrap_str_format(value)
        if formatter is None:
            return None
        template = value.__self__

        @wraps(formatter)
        def checked(*args: Any, **kwargs: Any) -> str:
            _check_format(_meter(), template, (args, kwargs))
            return formatter(*args, **kwargs)

        return checked

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        meter = _meter()
        meter.step()
        if isinstance(__obj, LoopContext) and args:
            # A recursive loop's `loop(children)`: its items are iterations too.
            args = (_counting(args[0], meter), *args[1:])
        owner = getattr(__obj, "__self__", None)
        if isinstance(owner, str):
            args = _str_method_arguments(meter, owner, getattr(__obj, "__name__", ""), args, kwargs)
        try:
            result = super().call(__context, __obj, *args, **kwargs)
        except OverflowError as error:
            raise too_large("a number is too big to compute.") from error
        # A macro's output was charged as it was written.
        return result if isinstance(__obj, Macro) else charge_result(meter, result)
