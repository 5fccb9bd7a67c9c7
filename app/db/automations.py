"""Automations: flows, their published versions, who is enrolled where, what is due, and each step run.

`flow_step_stats` (keyed by flow, version and step) is kept by the engine's upserts only and has no class, nor has
`flow_segment_members` (keyed by flow and subscriber: who a segment flow saw in its segment at its last check).
"""

from piccolo.columns import JSONB, BigInt, BigSerial, ForeignKey, Integer, SmallInt, Text, Timestamptz, Varchar
from piccolo.table import Table

from app.db.accounts import Workspace


class Flow(Table, tablename="flows"):
    workspace_id = ForeignKey(references=Workspace)
    name = Varchar(length=120)
    # draft | active | paused | archived
    status = Varchar(length=10, default="draft")
    trigger = JSONB(default={"kind": "manual"})
    settings = JSONB(default={})
    # The published version new enrolments enter; 0 until the flow is first activated.
    version = Integer(default=0)
    draft_steps = JSONB(default=[])
    created_at = Timestamptz()
    updated_at = Timestamptz()


class FlowVersion(Table, tablename="flow_versions"):
    workspace_id = ForeignKey(references=Workspace)
    flow_id = ForeignKey(references=Flow)
    version = Integer()
    steps = JSONB()
    trigger = JSONB()
    settings = JSONB()
    created_at = Timestamptz()


class FlowEnrolment(Table, tablename="flow_enrolments"):
    id = BigSerial(primary_key=True)
    workspace_id = ForeignKey(references=Workspace)
    flow_id = ForeignKey(references=Flow)
    version = Integer()
    subscriber_id = BigInt()
    # active | completed | exited
    status = Varchar(length=10, default="active")
    exit_reason = Varchar(length=64, default="")
    entered_at = Timestamptz()
    finished_at = Timestamptz(null=True, default=None)
    # When the flow's goal event happened for this enrolment.
    converted_at = Timestamptz(null=True, default=None)
    trigger_ref = Varchar(length=200, default="")


class FlowStepDue(Table, tablename="flow_steps_due"):
    # Due rows and runs reference only their enrolment (see the migration): workspace and flow are plain ids.
    enrolment_id = BigInt(primary_key=True)
    workspace_id = Integer()
    flow_id = Integer()
    version = Integer()
    subscriber_id = BigInt()
    step_id = Varchar(length=32)
    visit = SmallInt(default=0)
    due_at = Timestamptz()
    lease_until = Timestamptz(null=True, default=None)
    waiting_event = Varchar(length=64, null=True, default=None)
    timeout_at = Timestamptz(null=True, default=None)


class FlowStepRun(Table, tablename="flow_step_runs"):
    id = BigSerial(primary_key=True)
    workspace_id = Integer()
    enrolment_id = BigInt()
    flow_id = Integer()
    version = Integer()
    step_id = Varchar(length=32)
    visit = SmallInt(default=0)
    # done | yes | no | sent | skipped | event | timeout | exited
    outcome = Varchar(length=10)
    delivery_id = BigInt(null=True, default=None)
    detail = Text(default="")
    ran_at = Timestamptz()


class FlowCounter(Table, tablename="flow_counters"):
    flow_id = Integer(primary_key=True)
    workspace_id = ForeignKey(references=Workspace)
    enrolled = BigInt(default=0)
    active = BigInt(default=0)
    completed = BigInt(default=0)
    exited = BigInt(default=0)
    converted = BigInt(default=0)


class SubscriberEvent(Table, tablename="subscriber_events"):
    """A custom event posted through the API about a subscriber (`viewed_offer`), with its properties."""

    id = BigSerial(primary_key=True)
    workspace_id = ForeignKey(references=Workspace)
    subscriber_id = BigInt()
    name = Varchar(length=64)
    properties = JSONB(default={})
    occurred_at = Timestamptz()
    created_at = Timestamptz()
