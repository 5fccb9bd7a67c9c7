"""Scheduled S3 intake: sources, the rules that classify their files, and each file taken in."""

from piccolo.columns import (
    JSONB,
    BigInt,
    BigSerial,
    Boolean,
    ForeignKey,
    Integer,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.table import Table

from app.db.accounts import Workspace
from app.db.audience import MailingList
from app.db.imports import Import
from app.db.suppression import SuppressionList


class IntakeSource(Table, tablename="intake_sources"):
    workspace_id = ForeignKey(references=Workspace)
    name = Varchar(length=120)
    bucket = Varchar(length=255)
    prefix = Varchar(length=1024, default="")
    region = Varchar(length=64, default="")
    endpoint_url = Varchar(length=255, default="")
    access_key_id = Varchar(length=255, default="")
    secret = Text(default="")
    poll_minutes = Integer(default=15)
    quiet_hours = Integer(default=24)
    enabled = Boolean(default=True)
    last_polled_at = Timestamptz(null=True, default=None)
    last_success_at = Timestamptz(null=True, default=None)
    last_file_at = Timestamptz(null=True, default=None)
    last_error = Text(default="")
    alert = Varchar(length=16, default="")
    created_at = Timestamptz()
    updated_at = Timestamptz()


class IntakeRule(Table, tablename="intake_rules"):
    workspace_id = ForeignKey(references=Workspace)
    source_id = ForeignKey(references=IntakeSource)
    position = Integer(default=0)
    match = Varchar(length=8, default="name")
    pattern = Varchar(length=500)
    kind = Varchar(length=16, default="mailable")
    list_id = ForeignKey(references=MailingList)
    suppression_list_id = ForeignKey(references=SuppressionList, null=True, default=None)
    columns = JSONB(default={})
    created_at = Timestamptz()


class IntakeFile(Table, tablename="intake_files"):
    id = BigSerial(primary_key=True)
    workspace_id = ForeignKey(references=Workspace)
    source_id = ForeignKey(references=IntakeSource)
    rule_id = ForeignKey(references=IntakeRule, null=True, default=None)
    import_id = ForeignKey(references=Import, null=True, default=None)
    key = Varchar(length=1024)
    etag = Varchar(length=128, default="")
    size = BigInt(default=0)
    kind = Varchar(length=16, default="")
    status = Varchar(length=16, default="importing")
    moved_to = Varchar(length=1024, default="")
    rows = BigInt(default=0)
    rejects = BigInt(default=0)
    duration_ms = BigInt(default=0)
    score = Integer(null=True, default=None)
    quality = JSONB(default={})
    error = Text(default="")
    seen_at = Timestamptz()
    finished_at = Timestamptz(null=True, default=None)
