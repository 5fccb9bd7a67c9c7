"""Outbound webhook endpoints per workspace and each delivery of an event to one of them."""

from piccolo.columns import (
    JSONB,
    UUID,
    Array,
    BigSerial,
    Boolean,
    ForeignKey,
    Integer,
    Serial,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.table import Table

from app.db.accounts import Workspace


class WebhookEndpoint(Table, tablename="webhook_endpoints"):
    id = Serial(primary_key=True)
    workspace_id = ForeignKey(references=Workspace)
    url = Text()
    description = Varchar(length=200, default="")
    events = Array(base_column=Text())
    secret = Text()
    enabled = Boolean(default=True)
    failures = Integer(default=0)
    disabled_at = Timestamptz(null=True, default=None)
    disabled_reason = Text(default="")
    created_at = Timestamptz()
    updated_at = Timestamptz()


class WebhookSettings(Table, tablename="webhook_settings"):
    id = Serial(primary_key=True)
    workspace_id = ForeignKey(references=Workspace, unique=True)
    allow_private_targets = Boolean(default=False)
    updated_at = Timestamptz()


class WebhookDelivery(Table, tablename="webhook_deliveries"):
    id = BigSerial(primary_key=True)
    workspace_id = ForeignKey(references=Workspace)
    endpoint_id = ForeignKey(references=WebhookEndpoint)
    event_id = UUID()
    kind = Varchar(length=40)
    payload = JSONB()
    status = Varchar(length=12, default="pending")
    attempts = Integer(default=0)
    next_attempt_at = Timestamptz(null=True, default=None)
    leased_until = Timestamptz(null=True, default=None)
    last_attempt_at = Timestamptz(null=True, default=None)
    last_status_code = Integer(null=True, default=None)
    last_error = Text(default="")
    response_excerpt = Text(default="")
    delivered_at = Timestamptz(null=True, default=None)
    created_at = Timestamptz()
