"""A condition tree compiled to one WHERE over `subscribers s`, every user value a `$n` parameter.

Field names travel as parameters too (`s.fields ->> $3`); the only text put
into the SQL comes from this module. Casts are guarded so a value that is not
a number or a date makes the condition false for that row instead of failing
the whole query.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from app.services.segments.validation import Problem, SegmentError
from app.services.segments.vocabulary import is_group
from app.services.sqlparams import Params
from app.services.suppression import mailable_sql
from app.services.tenancy import checked_workspace_id

# Whatever `::numeric` accepts of these; "12", "-3.5", " 7 " but not "1e5", "NaN" or "twelve".
NUMBER_PATTERN = "'^ *[-+]?([0-9]+[.]?[0-9]*|[.][0-9]+) *$'"
TRUTHY = "('true', '1', 'yes', 'on')"
COMPARISONS = {"equals": "=", "not_equals": "IS DISTINCT FROM", "gt": ">", "lt": "<", "before": "<", "after": ">"}
CAMPAIGN_EVENTS = {"opened": ("open", True), "not_opened": ("open", False),
                   "clicked": ("click", True), "not_clicked": ("click", False)}


def _like(text: str, before: str, after: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"{before}{escaped}{after}"


def _midnight(day: str) -> datetime:
    return datetime.combine(date.fromisoformat(day), datetime.min.time(), tzinfo=UTC)


class _Compiler:
    def __init__(self, params: Params, workspace_id: int, field_kinds: Mapping[str, str]) -> None:
        self.params = params
        self.workspace = params.add(checked_workspace_id(workspace_id))
        self.field_kinds = field_kinds

    def node(self, node: dict) -> str:
        if is_group(node):
            parts = [self.node(child) for child in node.get("rules", [])]
            if not parts:
                return "TRUE"
            joiner = " OR " if node["match"] == "any" else " AND "
            return "(" + joiner.join(parts) + ")"
        compile_rule = getattr(self, f"rule_{node.get('kind')}", None)
        if compile_rule is None:
            raise SegmentError([Problem((), f"Unknown condition type “{node.get('kind')}”.")])
        return f"({compile_rule(node)})"

    def rule_field(self, rule: dict) -> str:
        op, value = rule["op"], rule.get("value")
        kind = self.field_kinds.get(rule["field"], "text")
        text = f"(s.fields ->> {self.params.add(rule['field'])})"
        if op == "is_empty":
            return f"coalesce({text}, '') = ''"
        if op == "not_empty":
            return f"coalesce({text}, '') <> ''"
        if kind == "checkbox":
            checked = f"coalesce(lower({text}) IN {TRUTHY}, false)"
            return checked if (value == "true") == (op == "equals") else f"NOT {checked}"
        if op in ("gt", "lt") or kind == "number":
            number = f"(CASE WHEN {text} ~ {NUMBER_PATTERN} THEN {text}::numeric END)"
            if op == "in_list":
                return f"{number} = ANY({self.params.add([Decimal(v) for v in value])}::numeric[])"
            return f"{number} {COMPARISONS[op]} {self.params.add(Decimal(value))}::numeric"
        if op in ("before", "after") or kind == "date":
            day = f"(CASE WHEN pg_input_is_valid({text}, 'date') THEN {text}::date END)"
            return f"{day} {COMPARISONS[op]} {self.params.add(date.fromisoformat(value))}::date"
        return self._text(text, op, value)

    def _text(self, text: str, op: str, value: Any) -> str:
        """Text conditions ignore case: "paris" finds "Paris"."""
        if op == "in_list":
            return f"lower({text}) = ANY({self.params.add([str(v).lower() for v in value])}::text[])"
        if op in ("equals", "not_equals"):
            return f"lower({text}) {COMPARISONS[op]} {self.params.add(str(value).lower())}"
        pattern = {"contains": ("%", "%"), "starts_with": ("", "%"), "ends_with": ("%", "")}[op]
        return f"{text} ILIKE {self.params.add(_like(str(value), *pattern))}"

    def rule_status(self, rule: dict) -> str:
        return f"s.status {'=' if rule['op'] == 'is' else '<>'} {self.params.add(rule['value'])}"

    def rule_tag(self, rule: dict) -> str:
        exists = (f"EXISTS (SELECT 1 FROM subscriber_tags st JOIN tags t ON t.id = st.tag_id "
                  f"WHERE st.subscriber_id = s.id AND t.workspace_id = {self.workspace} "
                  f"AND t.name = {self.params.add(str(rule['value']))})")
        return exists if rule["op"] == "has" else f"NOT {exists}"

    def rule_list(self, rule: dict) -> str:
        exists = (f"EXISTS (SELECT 1 FROM subscribers o WHERE o.workspace_id = {self.workspace} "
                  f"AND o.list_id = {self.params.add(int(rule['value']))} AND o.email = s.email)")
        return exists if rule["op"] == "in" else f"NOT {exists}"

    def rule_subscribed(self, rule: dict) -> str:
        if rule["op"] == "before":
            return f"s.created_at < {self.params.add(_midnight(rule['value']))}"
        if rule["op"] == "after":
            return f"s.created_at >= {self.params.add(_midnight(rule['value']) + timedelta(days=1))}"
        return f"s.created_at >= now() - make_interval(days => {self.params.add(int(rule['value']))})"

    def _activity(self, column: str, rule: dict) -> str:
        if rule["op"] == "never":
            return f"{column} IS NULL"
        since = f"now() - make_interval(days => {self.params.add(int(rule['value']))})"
        if rule["op"] == "within_days":
            return f"{column} >= {since}"
        return f"({column} IS NULL OR {column} < {since})"

    def rule_last_open(self, rule: dict) -> str:
        return self._activity("s.last_open_at", rule)

    def rule_last_click(self, rule: dict) -> str:
        return self._activity("s.last_click_at", rule)

    def rule_campaign(self, rule: dict) -> str:
        event, happened = CAMPAIGN_EVENTS[rule["op"]]
        exists = (f"EXISTS (SELECT 1 FROM events ev WHERE ev.workspace_id = {self.workspace} "
                  f"AND ev.campaign_id = {self.params.add(int(rule['value']))} AND ev.kind = '{event}' "
                  "AND ev.subscriber_id = s.id)")
        return exists if happened else f"NOT {exists}"

    def rule_engagement(self, rule: dict) -> str:
        bounds = [f"s.engagement_score >= {self.params.add(int(rule['min']))}" if "min" in rule else "",
                  f"s.engagement_score <= {self.params.add(int(rule['max']))}" if "max" in rule else ""]
        return " AND ".join(bound for bound in bounds if bound) or "TRUE"


def where_sql(
    params: Params,
    workspace_id: int,
    list_ids: Sequence[int],
    conditions: dict,
    field_kinds: Mapping[str, str] | None = None,
    mailable: bool = True,
) -> str:
    """The WHERE of a segment over `subscribers s`: workspace, lists, the tree, and (for sends) mailable only."""
    compiler = _Compiler(params, workspace_id, field_kinds or {})
    parts = [f"s.workspace_id = {compiler.workspace}", f"s.list_id = ANY({params.add(list(list_ids))}::int[])",
             compiler.node(conditions)]
    if mailable:
        parts.append(mailable_sql(params, workspace_id))
    return " AND ".join(parts)
