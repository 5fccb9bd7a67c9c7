from __future__ import annotations

import subprocess
import sys
from collections import Counter
from typing import Any

import pytest

from app.services.rendering import compile_spintax, compile_template, spin_seed
from app.services.rendering.merge import base_context, render_template
from app.services.rendering.spintax import choices


def spin(source: str, seed: int = 0, **context: Any) -> str:
    jinja_source, groups = compile_spintax(source)
    template = compile_template(jinja_source, html=False)
    return render_template(template, {**base_context(), **context, "_spin": choices(seed, groups)})


def test_picks_one_of_the_alternatives() -> None:
    assert spin("{Hi|Hello|Hey} there") in {"Hi there", "Hello there", "Hey there"}


def test_nested_groups_reach_every_leaf() -> None:
    outputs = {spin("{a|{b|c} d}!", seed) for seed in range(200)}
    assert outputs == {"a!", "b d!", "c d!"}


@pytest.mark.parametrize(
    "source",
    ["{Hi|Hello", "Hi|Hello}", "{word}", "{}", "}{", "a | b", "{ {a}", "x}|{y"],
)
def test_unbalanced_or_single_option_braces_stay_literal(source: str) -> None:
    assert spin(source) == source


def test_unclosed_outer_group_keeps_its_closed_inner_group() -> None:
    assert spin("{x|{a|b}", 3) in {"{x|a", "{x|b"}


def test_jinja_pipes_and_braces_are_not_spintax() -> None:
    source = "{{ name | upper }} {% if flag %}{yes|yep}{% endif %}{# a|b #}"
    assert spin(source, 1, name="ada", flag=True) in {"ADA yes", "ADA yep"}


def test_raw_blocks_are_left_alone() -> None:
    assert spin("{% raw %}{a|b}{% endraw %}") == "{a|b}"


def test_alternatives_may_hold_merge_tags() -> None:
    outputs = {spin("{Hi {{ name }}|Hello {{ name }}}", seed, name="Ada") for seed in range(50)}
    assert outputs == {"Hi Ada", "Hello Ada"}


def test_same_seed_gives_the_same_variant_every_time() -> None:
    source = "{a|b|c|d|e|f|g|h} {1|2|3|4|5|6|7|8}"
    seed = spin_seed("campaign-1", "subscriber-9")
    assert len({spin(source, seed) for _ in range(20)}) == 1


def test_seed_depends_on_subscriber_and_campaign() -> None:
    assert spin_seed(1, 2) == spin_seed(1, 2)
    assert spin_seed(1, 2) != spin_seed(1, 3)
    assert spin_seed(1, 2) != spin_seed(2, 2)


def test_seed_is_stable_across_processes() -> None:
    code = "from app.services.rendering import spin_seed; print(spin_seed(42, 'sub-7'))"
    results = {
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True,
            env={"PYTHONHASHSEED": hash_seed, "PATH": ""},
        ).stdout.strip()
        for hash_seed in ("1", "2")
    }
    assert results == {str(spin_seed(42, "sub-7"))}


def test_choices_spread_evenly_across_subscribers() -> None:
    counts = Counter(spin("{Hi|Hello|Hey}", spin_seed(5, subscriber)) for subscriber in range(3000))
    assert set(counts) == {"Hi", "Hello", "Hey"}
    assert all(750 <= count <= 1250 for count in counts.values()), counts


def test_separate_groups_are_chosen_independently() -> None:
    pairs = Counter(spin("{a|b}{a|b }", spin_seed(5, subscriber)) for subscriber in range(2000))
    assert len(pairs) == 4


def test_the_same_group_in_two_parts_picks_the_same_variant() -> None:
    for subscriber in range(50):
        seed = spin_seed(5, subscriber)
        subject = spin("{Hi|Hello|Hey}, news", seed)
        body = spin("<p>{Hi|Hello|Hey}</p> and more", seed)
        assert subject.split(",")[0] in body
