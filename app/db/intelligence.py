"""What the workspace learns from its history: churn models and their scores, engagement score snapshots.

`engagement_snapshots` has a composite key and is reached with SQL in the service
(app/services/analytics/intelligence/scores.py) rather than through a Piccolo class.
"""

from piccolo.columns import (
    JSONB,
    BigInt,
    DoublePrecision,
    ForeignKey,
    Integer,
    Real,
    Serial,
    SmallInt,
    Text,
    Timestamptz,
)
from piccolo.table import Table

from app.db.accounts import Workspace


class ChurnModel(Table, tablename="churn_models"):
    id = Serial(primary_key=True)
    workspace_id = ForeignKey(references=Workspace)
    trained_at = Timestamptz()
    horizon_days = SmallInt()
    trained_on = Integer(default=0)
    held_out = Integer(default=0)
    churned = Integer(default=0)
    auc = DoublePrecision(null=True, default=None)
    features = JSONB(default=[])
    intercept = DoublePrecision(default=0.0)
    note = Text(default="")


class ChurnScore(Table, tablename="churn_scores"):
    subscriber_id = BigInt(primary_key=True)
    workspace_id = ForeignKey(references=Workspace)
    model_id = ForeignKey(references=ChurnModel)
    risk = Real()
    scored_at = Timestamptz()
