"""The words of the condition tree: rule kinds, their operators, and the labels the builder shows.

A tree is `{"match": "all" | "any", "rules": [rule | group, ...]}`; a rule is
`{"kind": ..., "op": ..., "value": ...}`, with "field" too for custom fields, and
"min" and/or "max" instead of "value" for the engagement score.
"""

from __future__ import annotations

MATCHES = {"all": "all of", "any": "any of"}
# The root is depth 0; groups may sit inside the root and inside those groups.
MAX_GROUP_DEPTH = 2
MAX_RULES = 200
MAX_VALUES = 1000

RULE_KINDS = {
    "field": "Custom field",
    "status": "Status",
    "tag": "Tag",
    "list": "Also on list",
    "subscribed": "Date subscribed",
    "last_open": "Last open",
    "last_click": "Last click",
    "campaign": "Campaign",
    "engagement": "Engagement score",
}

FIELD_OPS = {
    "equals": "is",
    "not_equals": "is not",
    "contains": "contains",
    "starts_with": "starts with",
    "ends_with": "ends with",
    "gt": "is greater than",
    "lt": "is less than",
    "before": "is before",
    "after": "is after",
    "is_empty": "is empty",
    "not_empty": "is not empty",
    "in_list": "is one of",
}
NO_VALUE_OPS = frozenset({"is_empty", "not_empty", "never"})
NUMBER_OPS = frozenset({"gt", "lt"})
DATE_OPS = frozenset({"before", "after"})
TEXT_FIELD_OPS = tuple(FIELD_OPS)
# Which operators make sense for each custom field type; text-like fields take them all,
# comparing numerically or as dates where the operator says so.
OPS_BY_FIELD_KIND = {
    "text": TEXT_FIELD_OPS,
    "textarea": TEXT_FIELD_OPS,
    "phone": TEXT_FIELD_OPS,
    "url": TEXT_FIELD_OPS,
    "dropdown": TEXT_FIELD_OPS,
    "number": ("equals", "not_equals", "gt", "lt", "is_empty", "not_empty", "in_list"),
    "date": ("equals", "not_equals", "before", "after", "is_empty", "not_empty"),
    "checkbox": ("equals", "not_equals"),
}

_DAYS_OPS = {"within_days": "within the last … days", "not_within_days": "not within the last … days",
             "never": "never"}
OPS = {
    "field": FIELD_OPS,
    "status": {"is": "is", "is_not": "is not"},
    "tag": {"has": "has", "not_has": "does not have"},
    "list": {"in": "is also on", "not_in": "is not on"},
    "subscribed": {"within_days": "within the last … days", "before": "before", "after": "after"},
    "last_open": _DAYS_OPS,
    "last_click": _DAYS_OPS,
    "campaign": {"opened": "opened", "not_opened": "did not open", "clicked": "clicked",
                 "not_clicked": "did not click"},
    "engagement": {"between": "between"},
}

def ops_for(rule: dict, field_kinds: dict[str, str]) -> dict[str, str]:
    """The operators the builder offers for this rule, given the fields of the chosen lists."""
    kind = rule.get("kind", "")
    if kind != "field":
        return OPS.get(kind, {})
    allowed = OPS_BY_FIELD_KIND.get(field_kinds.get(str(rule.get("field", "")), "text"), TEXT_FIELD_OPS)
    return {op: FIELD_OPS[op] for op in allowed}


def is_group(node: object) -> bool:
    return isinstance(node, dict) and "match" in node
