"""Campaigns, with the content snapshot they send, and their deliveries (one row per recipient)."""

from piccolo.columns import (
    JSONB,
    Array,
    BigInt,
    BigSerial,
    Boolean,
    DoublePrecision,
    ForeignKey,
    Integer,
    SmallInt,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.table import Table

from app.db.accounts import Workspace


class Campaign(Table, tablename="campaigns"):
    workspace_id = ForeignKey(references=Workspace)
    name = Varchar(length=160)
    status = Varchar(length=16, default="draft")
    status_reason = Text(default="")
    from_name = Varchar(length=120, default="")
    from_email = Varchar(length=320, default="")
    reply_to = Varchar(length=320, default="")
    subject = Text(default="")
    preheader = Varchar(length=255, default="")
    template_id = Integer(null=True, default=None)
    routing_tag = Varchar(length=64, default="")
    list_ids = Array(base_column=Integer(), default=[])
    segment_ids = Array(base_column=Integer(), default=[])
    exclusion_segment_ids = Array(base_column=Integer(), default=[])
    scheduled_at = Timestamptz(null=True, default=None)
    timezone = Varchar(length=64, default="UTC")
    snapshot_subject = Text(default="")
    snapshot_html = Text(default="")
    snapshot_text = Text(null=True, default=None)
    snapshot_preheader = Varchar(length=255, default="")
    snapshot_version = Integer(default=0)
    snapshot_at = Timestamptz(null=True, default=None)
    materialised_through = BigInt(null=True, default=None)
    materialised_at = Timestamptz(null=True, default=None)
    recipient_count = BigInt(default=0)
    sent_count = BigInt(default=0)
    failed_count = BigInt(default=0)
    skipped_count = BigInt(default=0)
    deferred_count = BigInt(default=0)
    breakdown = JSONB(default={})
    counted_at = Timestamptz(null=True, default=None)
    tags = Array(base_column=Text(), default=[])
    utm = JSONB(default={})
    pool_server_ids = Array(base_column=Integer(), default=[])
    exclude_recent_days = SmallInt(null=True, default=None)
    send_mode = Varchar(length=12, default="now")
    # Minutes of the day in the recipient's local time; a window may wrap past midnight.
    window_start = SmallInt(null=True, default=None)
    window_end = SmallInt(null=True, default=None)
    speed_per_hour = Integer(null=True, default=None)
    ab_dimension = Varchar(length=12, default="")
    ab_test_percent = SmallInt(default=20)
    ab_metric = Varchar(length=12, default="opens")
    ab_wait_minutes = Integer(default=240)
    ab_winner = SmallInt(null=True, default=None)
    ab_decided_at = Timestamptz(null=True, default=None)
    review = JSONB(default={})
    # 'transactional': the workspace's stream of API messages (status 'stream'), hidden from campaign pages.
    kind = Varchar(length=16, default="campaign")
    created_by = Integer(null=True, default=None)
    started_at = Timestamptz(null=True, default=None)
    finished_at = Timestamptz(null=True, default=None)
    created_at = Timestamptz()
    updated_at = Timestamptz()


class CampaignVariant(Table, tablename="campaign_variants"):
    workspace_id = ForeignKey(references=Workspace)
    campaign_id = ForeignKey(references=Campaign)
    variant = SmallInt()
    subject = Text(default="")
    from_name = Varchar(length=120, default="")
    template_id = Integer(null=True, default=None)
    snapshot_subject = Text(default="")
    snapshot_html = Text(default="")
    snapshot_text = Text(null=True, default=None)
    snapshot_preheader = Varchar(length=255, default="")
    snapshot_version = Integer(default=0)
    created_at = Timestamptz()
    updated_at = Timestamptz()


class ContentLearning(Table, tablename="content_learnings"):
    workspace_id = ForeignKey(references=Workspace)
    campaign_id = ForeignKey(references=Campaign)
    variant = SmallInt()
    dimension = Varchar(length=12)
    content = Text(default="")
    metric = Varchar(length=12)
    sample_size = Integer()
    successes = Integer()
    rate = DoublePrecision()
    lift = DoublePrecision(null=True, default=None)
    p_value = DoublePrecision(null=True, default=None)
    winner = Boolean(default=False)
    created_at = Timestamptz()


class Delivery(Table, tablename="deliveries"):
    id = BigSerial(primary_key=True)
    # No foreign key in the database (see the migration): the campaign's removes a workspace's deliveries.
    workspace_id = Integer()
    campaign_id = ForeignKey(references=Campaign)
    subscriber_id = BigInt(null=True, default=None)
    email = Varchar(length=320)
    domain = Varchar(length=255, default="")
    variant = SmallInt(default=0)
    status = Varchar(length=10, default="queued")
    server_id = Integer(null=True, default=None)
    domain_group = Varchar(length=64, default="")
    attempts = SmallInt(default=0)
    last_answer = Text(default="")
    provider_message_id = Varchar(length=255, default="")
    lease_until = Timestamptz(null=True, default=None)
    next_attempt_at = Timestamptz()
    sent_at = Timestamptz(null=True, default=None)
    transactional = Boolean(default=False)
    created_at = Timestamptz()
    updated_at = Timestamptz()
