"""Leads posted by sponsors and lead vendors: their source, sub-ids and consent record."""

from piccolo.columns import JSONB, BigInt, BigSerial, ForeignKey, Integer, Timestamptz, Varchar
from piccolo.table import Table

from app.db.accounts import Workspace
from app.db.audience import MailingList


class Lead(Table, tablename="leads"):
    id = BigSerial(primary_key=True)
    workspace_id = ForeignKey(references=Workspace)
    list_id = ForeignKey(references=MailingList)
    subscriber_id = BigInt()
    # The sponsor or vendor that sent the lead, as it names itself.
    source = Varchar(length=120)
    sub1 = Varchar(length=255, default="")
    sub2 = Varchar(length=255, default="")
    sub3 = Varchar(length=255, default="")
    sub4 = Varchar(length=255, default="")
    sub5 = Varchar(length=255, default="")
    # {"ip", "timestamp", "page_url", "text"}: the proof that the person agreed, as the vendor recorded it.
    consent = JSONB()
    api_key_id = Integer(null=True, default=None)
    created_at = Timestamptz()
