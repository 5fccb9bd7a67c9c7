"""The default domain groups are created once, however many workers ask for them first at the same moment."""

from __future__ import annotations

import asyncio

from app.services.routing import DEFAULT_GROUPS, domain_groups
from tests.factories import make_workspace


async def test_callers_asking_at_once_all_get_the_default_groups_and_none_fails():
    workspace = await make_workspace()
    answers = await asyncio.gather(*(domain_groups(workspace["id"]) for _ in range(8)))
    names = [name for name, _, _ in DEFAULT_GROUPS]
    assert all([group["name"] for group in answer] == names for answer in answers)
    assert [group["name"] for group in await domain_groups(workspace["id"])] == names
