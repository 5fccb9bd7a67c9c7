"""The workspace blacklist and named suppression lists (plain, hashed or by domain)."""

from piccolo.columns import BigInt, BigSerial, Boolean, ForeignKey, Text, Timestamptz, Varchar
from piccolo.table import Table

from app.db.accounts import Workspace


class SuppressionList(Table, tablename="suppression_lists"):
    workspace_id = ForeignKey(references=Workspace)
    name = Varchar(length=120)
    is_blacklist = Boolean(default=False)
    description = Text(default="")
    entry_count = BigInt(default=0)
    created_at = Timestamptz()


class SuppressionEntry(Table, tablename="suppression_entries"):
    id = BigSerial(primary_key=True)
    workspace_id = ForeignKey(references=Workspace)
    suppression_list_id = ForeignKey(references=SuppressionList)
    kind = Varchar(length=8)
    value = Varchar(length=320)
    reason = Varchar(length=200, default="")
    created_at = Timestamptz()
