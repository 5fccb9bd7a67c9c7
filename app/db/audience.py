"""Lists, their custom fields and counters, subscribers, tags and status history.

`subscriber_tags`, `list_daily_stats` and `events` have composite keys and are
reached with SQL in the services rather than through Piccolo classes.
"""

from piccolo.columns import (
    JSONB,
    BigInt,
    BigSerial,
    Boolean,
    ForeignKey,
    Integer,
    SmallInt,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.table import Table

from app.db.accounts import Workspace


class MailingList(Table, tablename="lists"):
    workspace_id = ForeignKey(references=Workspace)
    name = Varchar(length=120)
    display_name = Varchar(length=120, default="")
    description = Text(default="")
    from_name = Varchar(length=120, default="")
    from_email = Varchar(length=320, default="")
    reply_to = Varchar(length=320, default="")
    company_name = Varchar(length=200, default="")
    company_address = Text(default="")
    opt_in = Varchar(length=8, default="single")
    opt_out = Varchar(length=8, default="single")
    welcome_email = Boolean(default=False)
    require_approval = Boolean(default=False)
    archived_at = Timestamptz(null=True, default=None)
    created_at = Timestamptz()
    updated_at = Timestamptz()


class ListCounter(Table, tablename="list_counters"):
    list_id = Integer(primary_key=True)
    workspace_id = ForeignKey(references=Workspace)
    total = BigInt(default=0)
    unconfirmed = BigInt(default=0)
    confirmed = BigInt(default=0)
    unsubscribed = BigInt(default=0)
    bounced = BigInt(default=0)
    complained = BigInt(default=0)
    blacklisted = BigInt(default=0)


class ListField(Table, tablename="list_fields"):
    workspace_id = ForeignKey(references=Workspace)
    list_id = ForeignKey(references=MailingList)
    label = Varchar(length=120)
    tag = Varchar(length=64)
    kind = Varchar(length=16)
    required = Boolean(default=False)
    default_value = Text(default="")
    options = JSONB(default=[])
    visible = Boolean(default=True)
    position = Integer(default=0)
    created_at = Timestamptz()


class Subscriber(Table, tablename="subscribers"):
    id = BigSerial(primary_key=True)
    workspace_id = ForeignKey(references=Workspace)
    list_id = ForeignKey(references=MailingList)
    email = Varchar(length=320)
    email_domain = Varchar(length=255, default="")
    status = Varchar(length=16, default="confirmed")
    fields = JSONB(default={})
    source = Varchar(length=32, default="manual")
    ip = Varchar(length=64, default="")
    engagement_score = SmallInt(default=0)
    # When the score was last worked out: it halves every 30 days from then (services/tracking/engagement.py).
    engagement_scored_at = Timestamptz(null=True, default=None)
    last_open_at = Timestamptz(null=True, default=None)
    last_click_at = Timestamptz(null=True, default=None)
    timezone = Varchar(length=64, default="")
    confirmed_at = Timestamptz(null=True, default=None)
    unsubscribed_at = Timestamptz(null=True, default=None)
    import_id = Integer(null=True, default=None)
    created_at = Timestamptz()
    updated_at = Timestamptz()


class Tag(Table, tablename="tags"):
    workspace_id = ForeignKey(references=Workspace)
    name = Varchar(length=64)


class SubscriberStatusChange(Table, tablename="subscriber_status_changes"):
    id = BigSerial(primary_key=True)
    workspace_id = ForeignKey(references=Workspace)
    subscriber_id = BigInt()
    from_status = Varchar(length=16, default="")
    to_status = Varchar(length=16)
    source = Varchar(length=64, default="")
    created_at = Timestamptz()
