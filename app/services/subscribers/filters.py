"""What the subscriber table is narrowed to, as one SQL condition; also what bulk actions act on.

The search box understands three things:
- `field=value` (`first_name=jose`): a custom field's value, whatever its case, through an index on the
  lower-cased fields;
- `@domain`: addresses at that domain (`@example5.com`), or with no dot typed, at every domain it starts
  (`@gmail`: gmail.com, gmail.co.uk), through an index on the domain;
- anything else: that text anywhere in the address or the name fields, without case or accents (`Zoë`,
  `zoe`, `example0.com`), through a trigram index; trigrams need three characters, so one or two find the
  addresses and names that start with them (`jo`: jo@…, Joanna).
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date

from app.services.custom_fields import tag_from_label
from app.services.lists import STATUSES
from app.services.sqlparams import Params

# The module, not its names: the suppression service imports this package while loading (see __init__).
from app.services.suppression import mailable
from app.services.tenancy import checked_workspace_id

ENGAGEMENT = {
    "engaged": "s.last_open_at > now() - interval '30 days'",
    "inactive": "(s.last_open_at IS NULL OR s.last_open_at < now() - interval '90 days')",
    "never": "s.last_open_at IS NULL AND s.last_click_at IS NULL",
}
SHORTEST_ANYWHERE = 3
JSON_NUMBER = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?")


@dataclass
class SubscriberFilter:
    """What the subscriber table is narrowed to; also the target of bulk actions."""

    list_id: int | None = None
    query: str = ""
    status: str = ""
    tag_id: int | None = None
    added_from: date | None = None
    added_to: date | None = None
    engagement: str = ""
    ids: list[int] = field(default_factory=list)

    def counted_by_lists(self) -> bool:
        """Whether the list counters know how many match: nothing narrows it but a list and a status."""
        return not (self.query.strip() or self.tag_id or self.added_from or self.added_to or self.ids
                    or self.engagement in ENGAGEMENT)

    def as_params(self) -> dict[str, str]:
        """The filter as the query parameters that choose it (the table's form, the bulk form's hidden fields)."""
        values = {"list_id": self.list_id, "q": self.query, "status": self.status, "tag_id": self.tag_id,
                  "engagement": self.engagement, "added_from": self.added_from, "added_to": self.added_to}
        return {key: str(value) for key, value in values.items() if value}


def _escaped_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _field_sql(params: Params, key: str, value: str) -> str:
    """`key=value` on the lower-cased fields; a number or true/false also matches the JSON value it spells."""
    tag = tag_from_label(key)
    candidates = [json.dumps({tag: value})]
    if JSON_NUMBER.fullmatch(value) or value.lower() in ("true", "false"):
        candidates.append(f"{{{json.dumps(tag)}: {value.lower()}}}")
    tests = [f"subscriber_folded_fields(s.fields) @> subscriber_folded_fields({params.add(c)}::jsonb)"
             for c in candidates]
    return f"({' OR '.join(tests)})"


def _domain_sql(params: Params, domain: str) -> str:
    """`example5.com` exactly, or with no dot typed (`gmail`), every domain it starts (`gmail.com`, `gmail.co.uk`);
    both in "C" order, the order of the (workspace, domain, id) index."""
    if "." in domain:
        return f'(s.email_domain COLLATE "C") = {params.add(domain)}'
    return f'(s.email_domain COLLATE "C") LIKE {params.add(_escaped_like(domain) + ".%")}'


def _anywhere_sql(params: Params, text: str) -> str:
    return f"s.search_text LIKE subscriber_search_pattern({params.add(text)})"


def _word_start_sql(params: Params, text: str) -> str:
    """The address or a name line starts with `text`: anchored, so the trigram index still helps with one or
    two characters (padded trigrams such as "  j" and " jo")."""
    starting = f"substr(subscriber_search_pattern({params.add(text)}), 2)"
    return f"(s.search_text LIKE {starting} OR s.search_text LIKE E'%\\n' || {starting})"


def query_sql(params: Params, query: str) -> list[str]:
    """The conditions the search box asks for (see the module docstring); none for an empty box."""
    text = unicodedata.normalize("NFC", query.strip())
    key, equals, value = text.partition("=")
    if equals and key.strip():
        return [_field_sql(params, key, value.strip())]
    if text.startswith("@") and len(text) > 1:
        return [_domain_sql(params, text[1:].lower())]
    if len(text) >= SHORTEST_ANYWHERE:
        return [_anywhere_sql(params, text)]
    if text:
        return [_word_start_sql(params, text)]
    return []


async def filter_sql(params: Params, workspace_id: int, chosen: SubscriberFilter) -> str:
    """One condition on subscribers `s`; every value the person typed travels in `params`."""
    parts = [f"s.workspace_id = {params.add(checked_workspace_id(workspace_id))}"]
    if chosen.list_id:
        parts.append(f"s.list_id = {params.add(chosen.list_id)}")
    if chosen.ids:
        parts.append(f"s.id = ANY({params.add([int(i) for i in chosen.ids])}::bigint[])")
    parts += query_sql(params, chosen.query)
    if chosen.status == "blacklisted":
        # As the list page counts them: the status, or an entry of the blacklist that matches the address.
        matched = await mailable.blacklisted_ids_sql(params, workspace_id)
        parts.append(f"(s.status = 'blacklisted' OR s.id IN ({matched}))" if matched else "s.status = 'blacklisted'")
    elif chosen.status in STATUSES:
        parts.append(f"s.status = {params.add(chosen.status)}")
    if chosen.tag_id:
        parts.append(f"EXISTS (SELECT 1 FROM subscriber_tags t WHERE t.subscriber_id = s.id "
                     f"AND t.tag_id = {params.add(chosen.tag_id)})")
    if chosen.added_from:
        parts.append(f"s.created_at >= {params.add(chosen.added_from)}::date")
    if chosen.added_to:
        parts.append(f"s.created_at < {params.add(chosen.added_to)}::date + 1")
    if chosen.engagement in ENGAGEMENT:
        parts.append(ENGAGEMENT[chosen.engagement])
    return " AND ".join(parts)
