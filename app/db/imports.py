"""Audience imports (CSV/XLSX upload or S3) and the rows they rejected."""

from decimal import Decimal

from piccolo.columns import JSONB, BigInt, BigSerial, ForeignKey, Integer, Numeric, Text, Timestamptz, Varchar
from piccolo.table import Table

from app.db.accounts import Workspace


class Import(Table, tablename="imports"):
    workspace_id = ForeignKey(references=Workspace)
    list_id = Integer(null=True, default=None)
    suppression_list_id = Integer(null=True, default=None)
    source = Varchar(length=8, default="upload")
    location = Text(default="")
    filename = Varchar(length=255, default="")
    mode = Varchar(length=16, default="add")
    mapping = JSONB(default={})
    options = JSONB(default={})
    status = Varchar(length=16, default="pending")
    total_bytes = BigInt(default=0)
    processed_bytes = BigInt(default=0)
    rows_seen = BigInt(default=0)
    inserted = BigInt(default=0)
    updated = BigInt(default=0)
    skipped_duplicate = BigInt(default=0)
    invalid = BigInt(default=0)
    suppressed = BigInt(default=0)
    error = Text(default="")
    data_cost = Numeric(digits=(12, 2), default=Decimal(0))
    created_by = Integer(null=True, default=None)
    created_at = Timestamptz()
    started_at = Timestamptz(null=True, default=None)
    finished_at = Timestamptz(null=True, default=None)


class ImportReject(Table, tablename="import_rejects"):
    id = BigSerial(primary_key=True)
    workspace_id = ForeignKey(references=Workspace)
    import_id = ForeignKey(references=Import)
    row_number = BigInt()
    email = Text(default="")
    reason = Varchar(length=200)
    raw = Text(default="")
