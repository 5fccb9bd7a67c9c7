"""The team's task board: columns, cards and each card's activity."""

from piccolo.columns import (
    JSONB,
    Array,
    BigSerial,
    Date,
    ForeignKey,
    Integer,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.table import Table

from app.db.accounts import Workspace


class TaskColumn(Table, tablename="task_columns"):
    workspace_id = ForeignKey(references=Workspace)
    name = Varchar(length=80)
    position = Integer(default=0)
    created_at = Timestamptz()


class TaskCard(Table, tablename="task_cards"):
    workspace_id = ForeignKey(references=Workspace)
    column_id = ForeignKey(references=TaskColumn)
    position = Integer(default=0)
    title = Varchar(length=200)
    description = Text(default="")
    assignee_id = Integer(null=True, default=None)
    due_on = Date(null=True, default=None)
    labels = Array(base_column=Varchar(length=40), default=list)
    campaign_id = Integer(null=True, default=None)
    list_id = Integer(null=True, default=None)
    flow_id = Integer(null=True, default=None)
    created_at = Timestamptz()
    updated_at = Timestamptz()


class TaskCardEvent(Table, tablename="task_card_events"):
    id = BigSerial(primary_key=True)
    workspace_id = ForeignKey(references=Workspace)
    card_id = ForeignKey(references=TaskCard)
    user_id = Integer(null=True, default=None)
    actor = Varchar(length=320, default="")
    action = Varchar(length=32)
    details = JSONB(default={})
    created_at = Timestamptz()
