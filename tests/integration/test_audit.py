"""A change and its audit entry are stored together or not at all."""

import pytest

from app.db.audience import MailingList
from app.db.audit import AuditEntry
from app.redis_client import get_redis
from app.services import audit, lists
from app.services.audit import Actor
from tests.factories import make_workspace

ACTOR = Actor(user_id=None, email="tester@example.com", ip="127.0.0.1")


async def test_a_change_and_its_entry_commit_together():
    workspace = await make_workspace()
    async with audit.change(get_redis(), workspace["id"], ACTOR) as change:
        created = await lists.create_list(workspace["id"], {"name": "Kept"})
        change.note("list.created", "list", created["id"])
    assert await MailingList.count().where(MailingList.id == created["id"]) == 1
    entries = await audit.recent_entries(workspace["id"])
    assert [(e["action"], e["target_id"]) for e in entries] == [("list.created", str(created["id"]))]


async def test_a_failure_after_the_change_leaves_neither():
    workspace = await make_workspace()
    with pytest.raises(RuntimeError):
        async with audit.change(get_redis(), workspace["id"], ACTOR) as change:
            await lists.create_list(workspace["id"], {"name": "Rolled back"})
            change.note("list.created", "list")
            raise RuntimeError("the next step failed")
    assert await MailingList.count().where(MailingList.workspace_id == workspace["id"]) == 0
    assert await AuditEntry.count().where(AuditEntry.workspace_id == workspace["id"]) == 0


async def test_a_rejected_form_writes_no_entry(client):
    from tests.factories import post_form, signed_in_client

    await signed_in_client(client)
    response = await post_form(client, "/mailing/lists", {"name": "   "})
    assert response.status_code == 422 and 'data-testid="error-name"' in response.text
    assert await AuditEntry.count().where(AuditEntry.action == "list.created") == 0
