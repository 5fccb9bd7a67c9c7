"""Who may do what: one table from an action to the least role that may do it.

A route names its action with `opt={"action": ...}`; one that names none is a read when its method is
safe (GET/HEAD/OPTIONS) and a change otherwise. The `signed_in` guard holds every request to this table.
"""

from __future__ import annotations

READ = "read"
CHANGE = "change"

MINIMUM_ROLE: dict[str, str] = {
    # Every page and every table of the workspace.
    READ: "analyst",
    # Lists, subscribers, imports, segments, suppression, templates: the marketer's daily work.
    CHANGE: "marketer",
    # About oneself or without effect on the workspace: switching workspace, signing out everywhere,
    # counting a segment that is being drafted.
    "self": "analyst",
    # Addresses leave the platform: list and segment exports.
    "export": "marketer",
    # Credentials, sending identity and who gets which mail.
    "delivery.manage": "admin",
    "domains.manage": "admin",
    "routing.manage": "admin",
    # Mail leaves the platform: launching, scheduling, pausing, resuming and cancelling campaigns.
    "campaigns.send": "marketer",
    # The workspace kill switch: stopping every send, and starting again.
    "sending.stop": "admin",
    # What counts as a person and what brings revenue back: robot rules, the postback key, offer sub-ids.
    "tracking.manage": "admin",
    # Keys to the JSON API, and where the workspace's events are posted: each reaches all of its data.
    "api_keys.manage": "admin",
    "webhooks.manage": "admin",
    # Members, roles and invitations.
    "team.manage": "admin",
    # Who did what, with their addresses.
    "audit.read": "owner",
}


def action_of(opt: dict, method: str) -> str:
    return opt.get("action") or (READ if method in {"GET", "HEAD", "OPTIONS"} else CHANGE)


def minimum_role(opt: dict, method: str) -> str:
    return MINIMUM_ROLE[action_of(opt, method)]
