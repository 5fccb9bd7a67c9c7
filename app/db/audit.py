"""The audit log: who did what, when, from where, in which workspace."""

from piccolo.columns import JSONB, BigSerial, ForeignKey, Integer, Timestamptz, Varchar
from piccolo.table import Table

from app.db.accounts import Workspace


class AuditEntry(Table, tablename="audit_log"):
    id = BigSerial(primary_key=True)
    workspace_id = ForeignKey(references=Workspace)
    user_id = Integer(null=True, default=None)
    actor = Varchar(length=320, default="")
    action = Varchar(length=64)
    target_type = Varchar(length=64, default="")
    target_id = Varchar(length=64, default="")
    ip = Varchar(length=64, default="")
    details = JSONB(default={})
    created_at = Timestamptz()
