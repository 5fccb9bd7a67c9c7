"""Transactional messages sent through the API, one row per recipient beside its delivery."""

from piccolo.columns import JSONB, UUID, Array, BigInt, BigSerial, Boolean, Bytea, Integer, Text, Timestamptz, Varchar
from piccolo.table import Table


class TransactionalContent(Table, tablename="transactional_contents"):
    """What an API call gave to send: shared by every message with the same content (see `fingerprint`)."""

    id = BigSerial(primary_key=True)
    workspace_id = Integer()
    template_id = Integer(null=True, default=None)
    subject = Text(default="")
    preheader = Varchar(length=255, default="")
    html = Text(default="")
    text_part = Text(null=True, default=None)
    from_email = Varchar(length=320)
    from_name = Varchar(length=120, default="")
    reply_to = Varchar(length=320, default="")
    headers = JSONB(default={})
    attachment_bytes = Integer(default=0)
    # sha256 of all of the above but the attachments, unique per workspace; NULL for a content with attachments.
    fingerprint = Bytea(null=True, default=None)
    created_at = Timestamptz()


class TransactionalAttachment(Table, tablename="transactional_attachments"):
    id = BigSerial(primary_key=True)
    workspace_id = Integer()
    content_id = BigInt()
    filename = Varchar(length=255)
    content_type = Varchar(length=255)
    body = Bytea()


class TransactionalMessage(Table, tablename="transactional_messages"):
    """One recipient's message; its id is its delivery's."""

    id = BigInt(primary_key=True)
    workspace_id = Integer()
    content_id = BigInt()
    api_key_id = Integer(null=True, default=None)
    batch_id = UUID(null=True, default=None)
    email = Varchar(length=320)
    data = JSONB(default={})
    tags = Array(base_column=Text(), default=[])
    metadata = JSONB(default={})
    scheduled_at = Timestamptz(null=True, default=None)
    sandbox = Boolean(default=False)
    deferrals = JSONB(default=[])
    created_at = Timestamptz()

