"""Each workspace's offer and postback settings, and the conversions its postbacks recorded."""

from decimal import Decimal

from piccolo.columns import JSONB, Array, BigInt, BigSerial, Integer, Numeric, Text, Timestamptz, Varchar
from piccolo.table import Table


class TrackingSettings(Table, tablename="tracking_settings"):
    workspace_id = Integer(primary_key=True)
    campaign_param = Varchar(length=40, default="sub1")
    subscriber_param = Varchar(length=40, default="sub2")
    delivery_param = Varchar(length=40, default="sub3")
    offer_domains = Array(base_column=Text(), default=list)
    currency = Varchar(length=3, default="USD")
    postback_secret_hash = Varchar(length=64, null=True, default=None, unique=True)
    postback_secret_hint = Varchar(length=4, default="")
    postback_secret_at = Timestamptz(null=True, default=None)
    updated_at = Timestamptz()


class Conversion(Table, tablename="conversions"):
    id = BigSerial(primary_key=True)
    workspace_id = Integer()
    transaction_id = Varchar(length=128)
    event_name = Varchar(length=64, default="")
    delivery_id = BigInt()
    campaign_id = Integer(null=True, default=None)
    subscriber_id = BigInt(null=True, default=None)
    server_id = Integer(null=True, default=None)
    offer_id = Varchar(length=64, default="")
    revenue = Numeric(digits=(14, 4), default=Decimal(0))
    currency = Varchar(length=3)
    sub_ids = JSONB(default={})
    ip = Varchar(length=64, default="")
    created_at = Timestamptz()
