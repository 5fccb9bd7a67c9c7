"""The Analytics portal's rollups per hour and day, and conversions per day by campaign, server, list and offer.

The database keys each table by all its dimension columns (see migrations/m2026_12_06_0100_rollups.py);
Piccolo needs one primary key column, so `workspace_id` stands in for it. Read these tables with `select()`;
they are written only by the set-based statements in `app/services/sql/rollups.sql` and the writers that
embed them, never row by row through `save()`.
"""

from decimal import Decimal

from piccolo.columns import BigInt, Date, Integer, Numeric, Timestamptz, Varchar
from piccolo.table import Table


class PerformanceHour(Table, tablename="performance_hours"):
    workspace_id = Integer(primary_key=True)
    hour = Timestamptz()
    server_id = Integer(default=0)
    domain_group = Varchar(length=64, default="")
    campaign_id = Integer(default=0)
    sent = BigInt(default=0)
    failed = BigInt(default=0)
    deferred = BigInt(default=0)
    hard = BigInt(default=0)
    soft = BigInt(default=0)
    block = BigInt(default=0)
    complaints = BigInt(default=0)
    human_opens = BigInt(default=0)
    unique_opens = BigInt(default=0)
    machine_opens = BigInt(default=0)
    human_clicks = BigInt(default=0)
    unique_clicks = BigInt(default=0)
    bot_clicks = BigInt(default=0)
    unsubscribes = BigInt(default=0)
    conversions = BigInt(default=0)
    revenue = Numeric(digits=(16, 4), default=Decimal(0))


class PerformanceDay(Table, tablename="performance_days"):
    workspace_id = Integer(primary_key=True)
    day = Date()
    server_id = Integer(default=0)
    domain_group = Varchar(length=64, default="")
    campaign_id = Integer(default=0)
    sent = BigInt(default=0)
    failed = BigInt(default=0)
    deferred = BigInt(default=0)
    hard = BigInt(default=0)
    soft = BigInt(default=0)
    block = BigInt(default=0)
    complaints = BigInt(default=0)
    human_opens = BigInt(default=0)
    unique_opens = BigInt(default=0)
    machine_opens = BigInt(default=0)
    human_clicks = BigInt(default=0)
    unique_clicks = BigInt(default=0)
    bot_clicks = BigInt(default=0)
    unsubscribes = BigInt(default=0)
    conversions = BigInt(default=0)
    revenue = Numeric(digits=(16, 4), default=Decimal(0))


class ConversionDay(Table, tablename="conversion_days"):
    workspace_id = Integer(primary_key=True)
    day = Date()
    campaign_id = Integer(default=0)
    server_id = Integer(default=0)
    list_id = Integer(default=0)
    offer_id = Varchar(length=64, default="")
    conversions = BigInt(default=0)
    revenue = Numeric(digits=(16, 4), default=Decimal(0))
