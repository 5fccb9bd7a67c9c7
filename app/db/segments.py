"""Saved segments: a condition tree over subscribers, reused by campaigns and exports."""

from piccolo.columns import JSONB, Array, BigInt, ForeignKey, Integer, Text, Timestamptz, Varchar
from piccolo.table import Table

from app.db.accounts import Workspace


class Segment(Table, tablename="segments"):
    workspace_id = ForeignKey(references=Workspace)
    name = Varchar(length=120)
    description = Text(default="")
    list_ids = Array(base_column=Integer(), default=[])
    conditions = JSONB(default={"match": "all", "rules": []})
    cached_count = BigInt(null=True, default=None)
    counted_at = Timestamptz(null=True, default=None)
    created_at = Timestamptz()
    updated_at = Timestamptz()
