"""The template library and sending domains."""

from piccolo.columns import JSONB, ForeignKey, Integer, Text, Timestamptz, Varchar
from piccolo.table import Table

from app.db.accounts import Workspace


class EmailTemplate(Table, tablename="email_templates"):
    workspace_id = ForeignKey(references=Workspace)
    name = Varchar(length=160)
    category = Varchar(length=64, default="")
    subject = Text(default="")
    preheader = Varchar(length=255, default="")
    html = Text(default="")
    text_part = Text(null=True, default=None)
    version = Integer(default=1)
    removed_on_save = JSONB(default=[])
    archived_at = Timestamptz(null=True, default=None)
    created_by = Integer(null=True, default=None)
    created_at = Timestamptz()
    updated_at = Timestamptz()


class SendingDomain(Table, tablename="sending_domains"):
    workspace_id = ForeignKey(references=Workspace)
    domain = Varchar(length=253)
    dkim_selector = Varchar(length=63, default="ignite")
    dkim_private_key = Text(default="")
    dkim_public_record = Text(default="")
    return_path_domain = Varchar(length=253, default="")
    spf_include = Varchar(length=253, default="")
    dns_status = JSONB(default={})
    checked_at = Timestamptz(null=True, default=None)
    created_at = Timestamptz()
