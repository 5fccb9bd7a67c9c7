"""The request and answer bodies of the audience API, typed so the OpenAPI schema describes them exactly,
and the conversions of service rows into them.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

from msgspec import UNSET, Meta, Struct, UnsetType

from app.services import custom_fields, imports
from app.services.subscribers.bulk import MAX_ROWS, RowResult

# PostgreSQL text cannot hold NUL: such input is refused as malformed, never sent to the database.
NO_NUL = r"^[^\x00]*$"
Text = Annotated[str, Meta(max_length=2000, pattern=NO_NUL)]
Word = Annotated[str, Meta(max_length=64, pattern=NO_NUL)]
Tag = Annotated[str, Meta(min_length=1, max_length=64, pattern=NO_NUL)]
Email = Annotated[str, Meta(max_length=320, pattern=NO_NUL)]


class ListCounts(Struct):
    total: int
    confirmed: int
    unconfirmed: int
    unsubscribed: int
    bounced: int
    complained: int
    blacklisted: int


class ListOut(Struct):
    id: int
    name: str
    display_name: str
    description: str
    from_name: str
    from_email: str
    reply_to: str
    company_name: str
    company_address: str
    opt_in: str
    opt_out: str
    welcome_email: bool
    require_approval: bool
    archived: bool
    created_at: datetime | None
    updated_at: datetime | None
    counts: ListCounts


class ListIn(Struct):
    name: Text
    display_name: Text = ""
    description: Text = ""
    from_name: Text = ""
    from_email: Text = ""
    reply_to: Text = ""
    company_name: Text = ""
    company_address: Text = ""
    opt_in: Annotated[Word, Meta(description="single or double")] = "single"
    opt_out: Annotated[Word, Meta(description="single or double")] = "single"
    welcome_email: bool = False
    require_approval: bool = False


class ListPatch(Struct):
    name: Text | UnsetType = UNSET
    display_name: Text | UnsetType = UNSET
    description: Text | UnsetType = UNSET
    from_name: Text | UnsetType = UNSET
    from_email: Text | UnsetType = UNSET
    reply_to: Text | UnsetType = UNSET
    company_name: Text | UnsetType = UNSET
    company_address: Text | UnsetType = UNSET
    opt_in: Word | UnsetType = UNSET
    opt_out: Word | UnsetType = UNSET
    welcome_email: bool | UnsetType = UNSET
    require_approval: bool | UnsetType = UNSET
    archived: bool | UnsetType = UNSET


class FieldOut(Struct):
    id: int
    list_id: int
    label: str
    tag: str
    kind: str
    required: bool
    visible: bool
    default_value: str
    options: list[str]
    position: int


class FieldIn(Struct):
    label: Text
    tag: Annotated[Word, Meta(description="merge tag; made from the label when empty")] = ""
    kind: Annotated[Word, Meta(description=", ".join(custom_fields.KINDS))] = "text"
    required: bool = False
    visible: bool = True
    default_value: Text = ""
    options: list[Text] = []


class FieldPatch(Struct):
    label: Text | UnsetType = UNSET
    kind: Word | UnsetType = UNSET
    required: bool | UnsetType = UNSET
    visible: bool | UnsetType = UNSET
    default_value: Text | UnsetType = UNSET
    options: list[Text] | UnsetType = UNSET


class SubscriberOut(Struct):
    id: int
    list_id: int
    email: str
    status: str
    fields: dict[str, Any]
    source: str
    timezone: str
    engagement_score: int
    created_at: datetime | None
    updated_at: datetime | None
    confirmed_at: datetime | None
    unsubscribed_at: datetime | None
    last_open_at: datetime | None
    last_click_at: datetime | None
    tags: list[str] | None = None


class SubscriberIn(Struct):
    list_id: int
    email: Email
    fields: dict[str, Any] = {}
    status: Annotated[Word, Meta(description="for a new subscriber; an existing one keeps its status")] = "confirmed"
    tags: list[Tag] = []


class SubscriberPatch(Struct):
    email: Email | UnsetType = UNSET
    fields: Annotated[dict[str, Any], Meta(description="merged into the stored values; null removes one")] \
        | UnsetType = UNSET
    status: Word | UnsetType = UNSET
    add_tags: list[Tag] = []
    remove_tags: list[Tag] = []


class BulkRow(Struct):
    email: Email
    fields: dict[str, Any] = {}


class BulkIn(Struct):
    list_id: int
    subscribers: Annotated[list[BulkRow], Meta(max_length=MAX_ROWS)]
    status: Annotated[Word, Meta(description="for new subscribers; existing ones keep theirs")] = "confirmed"


class RowError(Struct):
    code: str
    message: str


class BulkResult(Struct):
    index: int
    email: str
    id: int | None = None
    outcome: Annotated[str, Meta(description="created, updated or unchanged")] | None = None
    error: RowError | None = None


class BulkOut(Struct):
    created: int
    updated: int
    unchanged: int
    refused: int
    results: list[BulkResult]


class PersonIn(Struct):
    email: Email


class PersonExport(Struct):
    email: str
    subscriptions: list[dict[str, Any]]
    status_history: list[dict[str, Any]]
    tags: list[dict[str, Any]]
    events: list[dict[str, Any]]
    leads: list[dict[str, Any]]
    transactional_messages: list[dict[str, Any]] = []


class Erased(Struct):
    erased: int


class ImportOut(Struct):
    id: int
    list_id: int | None
    source: str
    filename: str
    mode: str
    status: str
    error: str
    percent: int
    total_bytes: int
    processed_bytes: int
    rows_seen: int
    inserted: int
    updated: int
    skipped_duplicate: int
    invalid: int
    suppressed: int
    created_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None


ColumnChoice = Annotated[Text, Meta(description='"email", "field:<tag>" or "" to skip the column')]


class S3ImportIn(Struct):
    location: Annotated[Text, Meta(description="s3://bucket/prefix/ or s3://bucket/key.csv")]
    region: Text = ""
    endpoint_url: Text = ""
    access_key_id: Text = ""
    secret_access_key: Text = ""
    mode: Annotated[Word, Meta(description=", ".join(imports.MODES))] = "add"
    status: Annotated[Word, Meta(description="confirmed or unconfirmed, for new subscribers")] = "confirmed"
    enrol_flows: Annotated[bool, Meta(description="start the list's automations for the confirmed subscribers "
                                                  "added (off: the import enrols no one)")] = False
    has_header: bool | None = None
    encoding: Text = ""
    delimiter: Text = ""
    columns: Annotated[dict[str, ColumnChoice], Meta(description="column number (from 0) to its target; "
                                                                 "the suggested mapping when absent")] | None = None
    suppression_list_id: int | None = None


def list_out(row: dict, counts: dict[str, int]) -> ListOut:
    return ListOut(**{name: row[name] for name in ListOut.__struct_fields__ if name in row and name != "counts"},
                   archived=row["archived_at"] is not None,
                   counts=ListCounts(**{name: int(counts.get(name, 0)) for name in ListCounts.__struct_fields__}))


def field_out(row: dict) -> FieldOut:
    # A row the service just wrote holds its options as JSON text; one it read holds them decoded.
    options = json.loads(row["options"]) if isinstance(row["options"], str) else row["options"]
    return FieldOut(**{name: row[name] for name in FieldOut.__struct_fields__ if name != "options"}, options=options)


def subscriber_out(row: dict, tags: list[str] | None = None) -> SubscriberOut:
    return SubscriberOut(**{name: row[name] for name in SubscriberOut.__struct_fields__ if name != "tags"},
                         tags=tags)


def import_out(row: dict) -> ImportOut:
    values = {**row, **imports.snapshot(row)}
    return ImportOut(**{name: values[name] for name in ImportOut.__struct_fields__})


def bulk_result(result: RowResult) -> BulkResult:
    if result.code:
        return BulkResult(result.index, result.email, error=RowError(result.code, result.message))
    return BulkResult(result.index, result.email, id=result.id, outcome=result.outcome)
