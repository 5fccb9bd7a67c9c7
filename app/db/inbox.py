"""Messages kept by the development capture transport instead of being sent."""

from piccolo.columns import BigSerial, Bytea, ForeignKey, Text, Timestamptz, Varchar
from piccolo.table import Table

from app.db.accounts import Workspace


class CapturedMessage(Table, tablename="captured_messages"):
    id = BigSerial(primary_key=True)
    workspace_id = ForeignKey(references=Workspace)
    mail_from = Varchar(length=320)
    rcpt_to = Text()
    subject = Text(default="")
    message_id = Varchar(length=255, default="")
    raw = Bytea()
    created_at = Timestamptz()
