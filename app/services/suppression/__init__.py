"""Suppression: the workspace blacklist, named suppression lists, and the mailable filter every send applies."""

from app.services.suppression.entries import (
    KIND_LABELS,
    KINDS,
    AddSummary,
    Entry,
    add_entries,
    add_pasted,
    classify,
    export_csv,
    hashed,
    parse_lines,
    remove_entry,
    search,
)
from app.services.suppression.lists import (
    BLACKLIST_NAME,
    SuppressionError,
    all_lists,
    blacklist,
    create_list,
    delete_list,
    get_list,
    rename_list,
)
from app.services.suppression.mailable import MAILABLE_STATUSES, mailable_sql, why_not_mailable

__all__ = [
    "BLACKLIST_NAME",
    "KINDS",
    "KIND_LABELS",
    "MAILABLE_STATUSES",
    "AddSummary",
    "Entry",
    "SuppressionError",
    "add_entries",
    "add_pasted",
    "all_lists",
    "blacklist",
    "classify",
    "create_list",
    "delete_list",
    "export_csv",
    "get_list",
    "hashed",
    "mailable_sql",
    "parse_lines",
    "remove_entry",
    "rename_list",
    "search",
    "why_not_mailable",
]
