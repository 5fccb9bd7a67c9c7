"""ESP connections, warm-up plans, recipient domain groups and routing rules."""

from decimal import Decimal

from piccolo.columns import (
    JSONB,
    Array,
    Boolean,
    Date,
    ForeignKey,
    Integer,
    Numeric,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.table import Table

from app.db.accounts import Workspace


class WarmupPlan(Table, tablename="warmup_plans"):
    workspace_id = ForeignKey(references=Workspace)
    name = Varchar(length=120)
    daily_caps = Array(base_column=Integer())
    created_at = Timestamptz()


class DeliveryServer(Table, tablename="delivery_servers"):
    workspace_id = ForeignKey(references=Workspace)
    name = Varchar(length=120)
    kind = Varchar(length=16)
    status = Varchar(length=16, default="active")
    status_reason = Text(default="")
    from_email = Varchar(length=320, default="")
    from_name = Varchar(length=120, default="")
    bounce_address = Varchar(length=320, default="")
    per_second = Integer(default=0)
    hourly_quota = Integer(default=0)
    daily_quota = Integer(default=0)
    monthly_quota = Integer(default=0)
    weight = Integer(default=100)
    cost_per_thousand = Numeric(digits=(10, 4), default=Decimal(0))
    monthly_cost = Numeric(digits=(12, 2), default=Decimal(0))
    warmup_plan_id = Integer(null=True, default=None)
    warmup_day = Integer(default=0)
    warmup_override_cap = Integer(null=True, default=None)
    warmup_last_decided_on = Date(null=True, default=None)
    warmup_held_days = Integer(default=0)
    allowed_domains = Array(base_column=Text(), default=[])
    settings = JSONB(default={})
    secrets = Text(default="")
    last_check_at = Timestamptz(null=True, default=None)
    last_check_ok = Boolean(null=True, default=None)
    last_check_detail = Text(default="")
    created_at = Timestamptz()
    updated_at = Timestamptz()


class DomainGroup(Table, tablename="domain_groups"):
    workspace_id = ForeignKey(references=Workspace)
    name = Varchar(length=64)
    domains = Array(base_column=Text(), default=[])
    hourly_limit = Integer(default=0)
    position = Integer(default=0)


class RoutingRule(Table, tablename="routing_rules"):
    workspace_id = ForeignKey(references=Workspace)
    name = Varchar(length=120)
    position = Integer(default=0)
    domain_group_id = Integer(null=True, default=None)
    list_id = Integer(null=True, default=None)
    campaign_tag = Varchar(length=64, default="")
    pool = JSONB(default=[])
    enabled = Boolean(default=True)
    created_at = Timestamptz()
