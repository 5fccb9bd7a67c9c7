"""Every render of a customer's template has a budget: loop steps, characters, digits and time."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

import pytest

from app.services.rendering import (
    BudgetExceeded,
    CompiledMessage,
    RenderBudget,
    RenderError,
    TemplateError,
    compile_template,
    render_off_loop,
)
from app.services.rendering.budget import metering, stoppable
from app.services.rendering.merge import base_context, render_template

TOO_LONG = "takes too long to render"
TOO_LARGE = "is too large to render"


def render(source: str, budget: RenderBudget | None = None, **context: object) -> str:
    with metering(budget or RenderBudget()):
        return render_template(compile_template(source, html=True), {**base_context(), **context})


def test_nested_loops_are_stopped_at_the_step_budget(compile_message: Callable[..., CompiledMessage]) -> None:
    # The template from the report: 150 million iterations, 35 to 99 s per save before the budget.
    nested = "{% for a in range(100000) %}{% for b in range(1500) %}{{ b }}{% endfor %}{% endfor %}"
    with pytest.raises(TemplateError, match=TOO_LONG) as caught:
        compile_message(f"<p>{nested}</p>")
    assert "100,000 loop iterations" in str(caught.value) and caught.value.part == "html"


def test_string_multiplication_is_refused_before_it_is_built(compile_message) -> None:
    with pytest.raises(TemplateError, match=TOO_LARGE) as caught:
        compile_message("<p>{{ 'x' * 10**7 }}</p>")
    assert "2,000,000 characters" in str(caught.value)


@pytest.mark.parametrize("power", ["10**5000", "10.0**5000", "(10**3000) * (10**3000)"])
def test_huge_numbers_are_refused_with_a_message(compile_message, power: str) -> None:
    with pytest.raises(TemplateError, match=TOO_LARGE):
        compile_message(f"<p>{{{{ {power} }}}}</p>")


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("{{ 'x' | center(10**8) }}", TOO_LARGE),
        ("{{ 'x'.ljust(10**8) }}", TOO_LARGE),
        ("{{ '%0999999999d' % 1 }}", TOO_LARGE),
        ("{{ '%*d' % (10**8, 1) }}", TOO_LARGE),
        ("{{ '%0999999999d' | format(1) }}", TOO_LARGE),
        ("{{ '{:>999999999}'.format(1) }}", TOO_LARGE),
        ("{{ '{:>{}}'.format(1, 10**8) }}", TOO_LARGE),
        ("{{ ('x' * 100000).replace('x', 'y' * 1000) }}", TOO_LARGE),
        ("{{ ('x' * 100000) | replace('x', 'y' * 1000) }}", TOO_LARGE),
        ("{{ (['x' * 100000] * 1000) | join }}", TOO_LARGE),
        ("{{ ('x\n' * 1000) | indent(10**6) }}", TOO_LARGE),
        ("{{ [1] | batch(10**9, 0) | list }}", TOO_LONG),
        ("{{ range(10**9) | list }}", TOO_LARGE),
        ("{{ lipsum(10**6) }}", TOO_LARGE),
        ("{% set ns = namespace(s='ab') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}", TOO_LARGE),
        ("{% set ns = namespace(l=[1]) %}{% for i in range(40) %}{% set ns.l = ns.l + ns.l %}{% endfor %}", TOO_LONG),
        ("{% for i in range(90000) %}{{ 'forty characters of literal text here..' }}{% endfor %}", TOO_LARGE),
        ("{% macro m() %}{% for i in range(90000) %}literal text in a macro{% endfor %}{% endmacro %}{{ m() }}",
         TOO_LARGE),
        ("{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(30) }}", TOO_LONG),
        ("{% for i in range(3) recursive %}{% if loop.depth < 50 %}{{ loop(range(1000)) }}{% endif %}{% endfor %}",
         TOO_LONG),
        ("{{ ([[1] * 100000] * 100000) | map('list') | list | length }}", TOO_LONG),
    ],
)
def test_operations_that_multiply_their_input_are_charged_or_refused(source: str, message: str) -> None:
    with pytest.raises(BudgetExceeded, match=message):
        render(source)


def test_templates_cannot_grow_lists_in_place() -> None:
    # The immutable sandbox: `append`/`extend` would grow a list with no operator to charge.
    assert render("{% set l = [1] %}{{ l.extend(l) }}{{ l | length }}") == "1"


def test_ordinary_templates_render_as_before() -> None:
    source = (
        "{% macro price(p) %}{{ '%.2f' | format(p) }}{% endmacro %}"
        "{% for item in items %}{{ loop.index }}. {{ item.name | title }} {{ price(item.price) }}; {% endfor %}"
        "{{ '{:>5}'.format('ab') }}|{{ 'ab' * 3 }}|{{ 2 ** 10 }}|{{ [1, 2] + [3] }}|"
        "{{ items | map(attribute='name') | join(', ') }}"
    )
    items = [{"name": "red shoes", "price": 10}, {"name": "blue hat", "price": 2.5}]
    assert render(source, items=items) == (
        "1. Red Shoes 10.00; 2. Blue Hat 2.50;    ab|ababab|1024|[1, 2, 3]|red shoes, blue hat"
    )


def test_each_render_and_part_has_a_budget_of_its_own(compile_message) -> None:
    # The generated text part repeats the HTML's loop: each part may spend the whole step budget.
    message = compile_message("<p>{% for i in range(60000) %}{% endfor %}done</p>")
    for delivery in range(3):
        assert "done" in message.render_parts({"email": "a@example.com"}, delivery).html


def test_a_loop_over_subscriber_data_fails_that_delivery_only(compile_message) -> None:
    message = compile_message("<p>{% for item in items %}{{ item }}{% endfor %}</p>")
    assert "123" in message.render_parts({"items": [1, 2, 3]}, 1).html
    with pytest.raises(RenderError, match=TOO_LONG):
        message.render({"email": "big@example.com", "items": list(range(200_000))}, 2)


def test_the_budget_names_the_part_it_was_exceeded_in(compile_message) -> None:
    with pytest.raises(TemplateError) as in_subject:
        compile_message("<p>hi</p>", subject="{{ 'x' * 10**7 }}")
    with pytest.raises(TemplateError) as in_text:
        compile_message("<p>hi</p>", text="{% for a in range(100000) %}{% for b in range(9) %}{% endfor %}{% endfor %}")
    assert (in_subject.value.part, in_text.value.part) == ("subject", "text")


def test_a_render_told_to_stop_stops_at_its_next_step() -> None:
    stop = threading.Event()
    stop.set()
    with stoppable(stop), pytest.raises(BudgetExceeded, match=TOO_LONG):
        render("{% for i in range(10) %}{{ i }}{% endfor %}")


def test_a_smaller_budget_is_held_too() -> None:
    budget = RenderBudget(steps=50, chars=100)
    with pytest.raises(BudgetExceeded, match="50 loop"):
        render("{% for i in range(10) %}{% for j in range(10) %}{% endfor %}{% endfor %}", budget)
    with pytest.raises(BudgetExceeded, match="100 characters"):
        render("{% for i in range(20) %}0123456789{% endfor %}", budget)


async def test_a_render_the_page_stops_waiting_for_is_stopped_and_frees_its_thread() -> None:
    unlimited = RenderBudget(steps=10**12, chars=10**12, seconds=3600)
    endless = compile_template("{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}",
                               html=True)

    finished = threading.Event()

    def work() -> str:
        try:
            with metering(unlimited):
                return render_template(endless, base_context())
        finally:
            finished.set()

    with pytest.raises(BudgetExceeded, match=TOO_LONG):
        await render_off_loop(work, wait_seconds=0.2)
    # Stopped, not abandoned: the thread ends although the budget would have let it run for an hour.
    assert await asyncio.to_thread(finished.wait, 30)
