"""Every dependency has an upper bound on its major version, so no new major release arrives unreviewed."""

import tomllib
from pathlib import Path

from packaging.requirements import Requirement

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def _requirements() -> list[Requirement]:
    project = tomllib.loads(PYPROJECT.read_text())["project"]
    extras = [dep for group in project.get("optional-dependencies", {}).values() for dep in group]
    return [Requirement(dep) for dep in [*project["dependencies"], *extras]]


def test_every_dependency_is_capped_below_its_next_major_version():
    uncapped = [str(req) for req in _requirements()
                if not any(spec.operator in ("<", "<=", "==", "~=") for spec in req.specifier)]
    assert uncapped == []
