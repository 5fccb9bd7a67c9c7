"""What sending and data cost: servers' fixed monthly cost, lists' and imports' data cost, other costs.

The server and import columns live on their own tables (`DeliveryServer.monthly_cost`, `Import.data_cost`).
"""

from decimal import Decimal

from piccolo.columns import Date, Integer, Numeric, Serial, Timestamptz, Varchar
from piccolo.table import Table


class ListCost(Table, tablename="list_costs"):
    list_id = Integer(primary_key=True)
    workspace_id = Integer()
    monthly_cost = Numeric(digits=(12, 2), default=Decimal(0))
    updated_at = Timestamptz()


class CostExtra(Table, tablename="cost_extras"):
    id = Serial(primary_key=True)
    workspace_id = Integer()
    name = Varchar(length=120)
    amount = Numeric(digits=(12, 2))
    # monthly | once
    recurrence = Varchar(length=8)
    on_date = Date()
    created_at = Timestamptz()
