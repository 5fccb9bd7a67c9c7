"""Helpers of the segment tests: a small audience whose every subscriber is there to be matched, or not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.services import segments
from app.services.custom_fields import add_field
from app.services.sqlparams import fetch
from tests.factories import make_list, make_subscriber, make_workspace

NOW = datetime.now(UTC)
# Values as they arrive in real data: typed by the form, or as text, blank or broken from imports.
PEOPLE = {
    "ann@example.com": {"city": "Paris", "age": 30, "joined": "2024-01-10", "vip": True, "plan": "pro"},
    "bob@example.com": {"city": "Berlin", "age": 45, "joined": "2023-05-01", "vip": False, "plan": "free"},
    "cat@example.com": {"city": "", "age": "unknown", "joined": "not a date"},
    "dan@example.com": {},
    "eve@example.com": {"city": "Parisville", "age": "52", "joined": "2025-02-30"},
}


def definition(audience: dict, *rules: dict, match: str = "all", list_ids: list | None = None) -> dict:
    return {"list_ids": [audience["list"]["id"]] if list_ids is None else list_ids,
            "conditions": {"match": match, "rules": list(rules)}}


async def make_audience(workspace: dict | None = None) -> dict:
    workspace = workspace or await make_workspace()
    mailing_list = await make_list(workspace, "Main")
    for label, kind, options in [("City", "text", ""), ("Age", "number", ""), ("Joined", "date", ""),
                                 ("VIP", "checkbox", ""), ("Plan", "dropdown", "free,pro")]:
        await add_field(workspace["id"], mailing_list["id"], {"label": label, "kind": kind, "options": options})
    people = {email: await make_subscriber(mailing_list, email, fields) for email, fields in PEOPLE.items()}
    return {"workspace": workspace, "list": mailing_list, "people": people}


async def matching(workspace_id: int, definition: dict, mailable: bool = True) -> set[str]:
    """The addresses the segment selects, checked against its count when mailable."""
    query, params = await segments.matching_ids_query(workspace_id, definition, mailable=mailable)
    rows = await fetch(f"SELECT email FROM subscribers WHERE id IN ({query})", params)
    found = {row["email"] for row in rows}
    if mailable:
        assert await segments.count(workspace_id, definition) == len(found)
    return found


def days_ago(days: int) -> datetime:
    return NOW - timedelta(days=days)
