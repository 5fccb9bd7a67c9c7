"""The workspace blacklist and named suppression lists: create, rename, delete."""

from __future__ import annotations

from app.db.suppression import SuppressionList
from app.services.accounts import now
from app.services.forms import FormError
from app.services.tenancy import checked_workspace_id, fetch_owned, owned_by

BLACKLIST_NAME = "Blacklist"


class SuppressionError(FormError):
    """Values that cannot be saved, by form field name."""


async def blacklist(workspace_id: int) -> dict:
    """The workspace's blacklist, created the first time anyone needs it."""
    await SuppressionList.raw(
        "INSERT INTO suppression_lists (workspace_id, name, is_blacklist, description) "
        "VALUES ({}, {}, true, {}) ON CONFLICT DO NOTHING",
        checked_workspace_id(workspace_id), BLACKLIST_NAME, "Never mailed, from any list, by any campaign.",
    )
    return await SuppressionList.select().where(
        owned_by(SuppressionList, workspace_id), SuppressionList.is_blacklist.eq(True)
    ).first()


# Blacklists are made once and never deleted (only their workspace is): their ids are remembered.
_blacklist_ids: dict[int, int] = {}


async def blacklist_id(workspace_id: int) -> int:
    """The id of the workspace's blacklist, for paths that add to it many times a second (bounces)."""
    found = _blacklist_ids.get(workspace_id)
    if found is None:
        found = _blacklist_ids[workspace_id] = (await blacklist(workspace_id))["id"]
    return found


async def all_lists(workspace_id: int) -> list[dict]:
    """Every suppression list of the workspace, the blacklist first, then by name."""
    await blacklist(workspace_id)
    return await SuppressionList.select().where(owned_by(SuppressionList, workspace_id)).order_by(
        SuppressionList.is_blacklist, ascending=False
    ).order_by(SuppressionList.name)


async def get_list(workspace_id: int, list_id: object) -> dict | None:
    return await fetch_owned(SuppressionList, workspace_id, list_id)


def _cleaned_name(name: str) -> str:
    name = name.strip()
    if not name:
        raise SuppressionError({"name": "Give the suppression list a name."})
    if len(name) > 120:
        raise SuppressionError({"name": "Use at most 120 characters."})
    if name.casefold() == BLACKLIST_NAME.casefold():
        raise SuppressionError({"name": "“Blacklist” is the workspace blacklist's name; choose another."})
    return name


async def _check_name_free(workspace_id: int, name: str, except_id: int | None = None) -> None:
    query = SuppressionList.exists().where(owned_by(SuppressionList, workspace_id), SuppressionList.name == name)
    if except_id is not None:
        query = query.where(SuppressionList.id != except_id)
    if await query:
        raise SuppressionError({"name": "Another suppression list already has this name."})


async def create_list(workspace_id: int, name: str, description: str = "") -> dict:
    name = _cleaned_name(name)
    await _check_name_free(workspace_id, name)
    rows = await SuppressionList.insert(
        SuppressionList(workspace_id=checked_workspace_id(workspace_id), name=name,
                        description=description.strip(), created_at=now())
    ).returning(*SuppressionList.all_columns())
    return rows[0]


async def rename_list(workspace_id: int, list_id: int, name: str, description: str = "") -> dict:
    name = _cleaned_name(name)
    await _check_name_free(workspace_id, name, except_id=list_id)
    rows = await SuppressionList.update(
        {SuppressionList.name: name, SuppressionList.description: description.strip()}
    ).where(owned_by(SuppressionList, workspace_id), SuppressionList.id == list_id).returning(
        *SuppressionList.all_columns()
    )
    if not rows:
        raise LookupError("suppression list")
    return rows[0]


async def delete_list(workspace_id: int, list_id: int) -> dict:
    """Deletes a named list and its entries; the blacklist stays, it can only be emptied."""
    found = await get_list(workspace_id, list_id)
    if found is None:
        raise LookupError("suppression list")
    if found["is_blacklist"]:
        raise SuppressionError({"__all__": "The blacklist cannot be deleted; remove its entries instead."})
    await SuppressionList.delete().where(owned_by(SuppressionList, workspace_id), SuppressionList.id == list_id)
    return found
