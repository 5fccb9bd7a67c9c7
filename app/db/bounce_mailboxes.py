"""Bounce and feedback-loop mailboxes polled over IMAP or POP3."""

from piccolo.columns import Boolean, ForeignKey, Integer, Text, Timestamptz, Varchar
from piccolo.table import Table

from app.db.accounts import Workspace


class BounceMailbox(Table, tablename="bounce_mailboxes"):
    workspace_id = ForeignKey(references=Workspace)
    name = Varchar(length=120)
    kind = Varchar(length=8, default="bounce")
    protocol = Varchar(length=8, default="imap")
    host = Varchar(length=255)
    port = Integer()
    security = Varchar(length=16, default="ssl")
    username = Varchar(length=320)
    password = Text(default="")
    folder = Varchar(length=255, default="INBOX")
    after = Varchar(length=8, default="delete")
    move_to = Varchar(length=255, default="")
    poll_seconds = Integer(default=300)
    enabled = Boolean(default=True)
    last_polled_at = Timestamptz(null=True, default=None)
    last_result = Text(default="")
    last_error = Text(default="")
    created_at = Timestamptz()
    updated_at = Timestamptz()
