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

from collections.abc import Callable, Iterable
from functools import wraps
from typing import Any

from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.runtime import Context, LoopContext, Macro
from jinja2.sandbox import ImmutableSandboxedEnvironment

from app.services.rendering.budget import active_meter, too_large
from app.services.rendering.guards import (
    budget_lipsum,
    budget_range,
    charge_result,
    check_format,
    check_power,
    check_printf,
    check_product,
    check_sum,
    counting,
    current_meter,
    str_method_arguments,
)


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
        meter = current_meter()
        meter.step()
        if operator == "**":
            check_power(left, right)
        elif operator == "*":
            check_product(meter, left, right)
        elif operator == "+":
            check_sum(meter, left, right)
        elif operator == "%":
            check_printf(meter, left, right)
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
            check_format(current_meter(), template, (args, kwargs))
            return formatter(*args, **kwargs)

        return checked

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        meter = current_meter()
        meter.step()
        if isinstance(__obj, LoopContext) and args:
            # A recursive loop's `loop(children)`: its items are iterations too.
            args = (counting(args[0], meter), *args[1:])
        owner = getattr(__obj, "__self__", None)
        if isinstance(owner, str):
            args = str_method_arguments(meter, owner, getattr(__obj, "__name__", ""), args, kwargs)
        try:
            result = super().call(__context, __obj, *args, **kwargs)
        except OverflowError as error:
            raise too_large("a number is too big to compute.") from error
        # A macro's output was charged as it was written.
        return result if isinstance(__obj, Macro) else charge_result(meter, result)
