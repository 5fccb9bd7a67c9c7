"""Segments: a condition tree over subscribers, validated per rule, compiled to one parameterised query."""

from app.services.segments.compiler import where_sql
from app.services.segments.form import (
    apply_action,
    definition_from_form,
    dom_id,
    fitted,
    node_keys,
)
from app.services.segments.store import (
    PREVIEW_SIZE,
    Live,
    count,
    delete_segment,
    get_segment,
    list_segments,
    live,
    matching_ids_query,
    preview,
    recount,
    save_segment,
    segments_page,
)
from app.services.segments.validation import (
    Context,
    Problem,
    SegmentError,
    checked,
    chosen_list_ids,
    load_context,
)
from app.services.segments.vocabulary import (
    MATCHES,
    MAX_GROUP_DEPTH,
    NO_VALUE_OPS,
    RULE_KINDS,
    ops_for,
)

__all__ = [
    "MATCHES",
    "MAX_GROUP_DEPTH",
    "NO_VALUE_OPS",
    "PREVIEW_SIZE",
    "RULE_KINDS",
    "Context",
    "Live",
    "Problem",
    "SegmentError",
    "apply_action",
    "checked",
    "chosen_list_ids",
    "count",
    "definition_from_form",
    "delete_segment",
    "dom_id",
    "fitted",
    "get_segment",
    "list_segments",
    "live",
    "load_context",
    "matching_ids_query",
    "node_keys",
    "ops_for",
    "preview",
    "recount",
    "save_segment",
    "segments_page",
    "where_sql",
]
