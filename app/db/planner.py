"""Volume plans: saved scenarios, their inputs and the day-by-day plan each produced."""

from piccolo.columns import JSONB, BigInt, Date, ForeignKey, Integer, Numeric, Text, Timestamptz, Varchar
from piccolo.table import Table

from app.db.accounts import Workspace


class VolumeScenario(Table, tablename="volume_scenarios"):
    workspace_id = ForeignKey(references=Workspace)
    name = Varchar(length=120)
    target = BigInt()
    days = Integer()
    start_on = Date()
    # What the person chose: servers left out, warm-up plans to assign.
    choices = JSONB(default={})
    # The inputs as read from the workspace when the scenario ran.
    inputs = JSONB(default={})
    # One entry per day: date, total, cost, revenue, delivered and the cells [server id, group, count].
    plan = JSONB(default=[])
    days_to_target = Integer(null=True, default=None)
    sent = BigInt(default=0)
    final_daily = BigInt(default=0)
    cost = Numeric(digits=(16, 2))
    revenue = Numeric(digits=(16, 2))
    shortfall = Text(default="")
    created_by = Varchar(length=320, default="")
    created_at = Timestamptz()
    applied_at = Timestamptz(null=True, default=None)
    applied_by = Varchar(length=320, default="")
