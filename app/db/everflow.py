"""Everflow connections, the conversion records pulled from its reporting API, and the reconciliation list."""

from decimal import Decimal

from piccolo.columns import BigInt, BigSerial, Boolean, Integer, Numeric, Text, Timestamptz, Varchar
from piccolo.table import Table


class EverflowConnection(Table, tablename="everflow_connections"):
    workspace_id = Integer(primary_key=True)
    base_url = Varchar(length=255, default="https://api.eflow.team/v1")
    api_key = Text(default="")
    timezone_id = Integer(default=67)
    enabled = Boolean(default=False)
    pulled_until = Timestamptz(null=True, default=None)
    last_good_pull_at = Timestamptz(null=True, default=None)
    last_attempt_at = Timestamptz(null=True, default=None)
    last_result = Text(default="")
    last_error = Text(default="")
    updated_at = Timestamptz()


class EverflowConversion(Table, tablename="everflow_conversions"):
    id = BigSerial(primary_key=True)
    workspace_id = Integer()
    conversion_id = Varchar(length=64)
    transaction_id = Varchar(length=128, default="")
    event_name = Varchar(length=64, default="")
    status = Varchar(length=32, default="")
    is_scrub = Boolean(default=False)
    payout = Numeric(digits=(14, 4), default=Decimal(0))
    revenue = Numeric(digits=(14, 4), default=Decimal(0))
    sale_amount = Numeric(digits=(14, 4), default=Decimal(0))
    currency = Varchar(length=3, default="")
    offer_id = Varchar(length=64, default="")
    sub1 = Varchar(length=200, default="")
    sub2 = Varchar(length=200, default="")
    sub3 = Varchar(length=200, default="")
    sub4 = Varchar(length=200, default="")
    sub5 = Varchar(length=200, default="")
    converted_at = Timestamptz()
    pulled_at = Timestamptz()


class EverflowRecord(Table, tablename="everflow_reconciliation"):
    id = BigSerial(primary_key=True)
    workspace_id = Integer()
    kind = Varchar(length=24)
    transaction_id = Varchar(length=128)
    event_name = Varchar(length=64, default="")
    everflow_id = BigInt(null=True, default=None)
    conversion_id = BigInt(null=True, default=None)
    everflow_status = Varchar(length=32, default="")
    everflow_payout = Numeric(digits=(14, 4), null=True, default=None)
    everflow_currency = Varchar(length=3, default="")
    ignite_revenue = Numeric(digits=(14, 4), null=True, default=None)
    ignite_currency = Varchar(length=3, default="")
    converted_at = Timestamptz()
    state = Varchar(length=12, default="open")
    state_note = Text(default="")
    found_at = Timestamptz()
    updated_at = Timestamptz()
