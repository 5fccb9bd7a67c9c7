"""The workspace blacklist and named suppression lists."""

import pytest

from app.db.suppression import SuppressionEntry, SuppressionList
from app.services import suppression
from app.services.suppression import SuppressionError
from tests.factories import make_workspace


async def test_the_blacklist_is_created_once_on_demand_and_listed_first():
    workspace = await make_workspace()
    await suppression.create_list(workspace["id"], "Aardvark offer")
    first = await suppression.blacklist(workspace["id"])
    again = await suppression.blacklist(workspace["id"])
    assert first["id"] == again["id"] and first["is_blacklist"]
    names = [row["name"] for row in await suppression.all_lists(workspace["id"])]
    assert names == ["Blacklist", "Aardvark offer"]


async def test_names_are_required_unique_and_the_blacklists_is_reserved():
    workspace = await make_workspace()
    await suppression.create_list(workspace["id"], "Offer 1")
    for name, message in (("", "Give the suppression list a name"), ("Offer 1", "already has this name"),
                          ("blacklist", "workspace blacklist")):
        with pytest.raises(SuppressionError, match=message):
            await suppression.create_list(workspace["id"], name)
    other = await make_workspace()
    assert (await suppression.create_list(other["id"], "Offer 1"))["name"] == "Offer 1"


async def test_rename_and_delete_a_named_list_with_its_entries():
    workspace = await make_workspace()
    offer = await suppression.create_list(workspace["id"], "Offer 1")
    await suppression.add_pasted(workspace["id"], offer["id"], "a@example.com\nb@example.com")
    renamed = await suppression.rename_list(workspace["id"], offer["id"], "Offer 2", "new file")
    assert (renamed["name"], renamed["description"]) == ("Offer 2", "new file")
    deleted = await suppression.delete_list(workspace["id"], offer["id"])
    assert deleted["entry_count"] == 2
    assert await SuppressionEntry.count() == 0 and await SuppressionList.count() == 0


async def test_the_blacklist_cannot_be_deleted_and_foreign_lists_are_not_found():
    workspace = await make_workspace()
    blacklist = await suppression.blacklist(workspace["id"])
    with pytest.raises(SuppressionError, match="cannot be deleted"):
        await suppression.delete_list(workspace["id"], blacklist["id"])
    intruder = await make_workspace()
    for action in (suppression.delete_list(intruder["id"], blacklist["id"]),
                   suppression.rename_list(intruder["id"], blacklist["id"], "Mine")):
        with pytest.raises(LookupError):
            await action
