"""Who may be mailed: the filter every send and segment applies, and the reasons shown for one address.

Only `confirmed` subscribers are mailable. `unconfirmed` is not, on double or
single opt-in lists alike: Ignite's own single opt-in paths (form, manual add,
import) store people as confirmed, so an unconfirmed row means a pending
double opt-in or an import that said the person has not consented; mailing
them would break the promise the list's opt-in setting makes. Keeping the rule
to one status also keeps it a plain column test, with no join to lists.
"""

from __future__ import annotations

from app.services.sqlparams import Params, fetch
from app.services.suppression.entries import KIND_LABELS, hashed
from app.services.tenancy import checked_workspace_id

MAILABLE_STATUSES = ("confirmed",)
STATUS_REASONS = {
    "unconfirmed": "has not confirmed the subscription (double opt-in pending)",
    "unsubscribed": "unsubscribed",
    "bounced": "hard-bounced",
    "complained": "complained (marked a message as spam)",
    "blacklisted": "is blacklisted",
}


def _probes(alias: str) -> dict[str, str]:
    """How each kind of entry is compared with a subscriber row; hashes are of the lower-cased address."""
    email = f"lower({alias}.email)"
    return {
        "email": email,
        "md5": f"md5({email})",
        "sha256": f"encode(sha256(convert_to({email}, 'UTF8')), 'hex')",
        "domain": f"lower({alias}.email_domain)",
    }


def mailable_sql(params: Params, workspace_id: int, alias: str = "s") -> str:
    """A condition on subscribers `alias` that drops non-mailable statuses and everything suppressed.

    One NOT EXISTS per kind, each an equality on the (workspace_id, kind, value)
    index, so PostgreSQL runs them as hash anti-joins after the segment's own
    conditions: hashes are computed only for rows that are still candidates.
    """
    if not alias.isidentifier():
        raise ValueError(f"not a table alias: {alias!r}")
    workspace = params.add(checked_workspace_id(workspace_id))
    statuses = ", ".join(f"'{status}'" for status in MAILABLE_STATUSES)
    clauses = [f"{alias}.status IN ({statuses})"]
    clauses += [
        f"NOT EXISTS (SELECT 1 FROM suppression_entries sup_{kind} WHERE sup_{kind}.workspace_id = {workspace} "
        f"AND sup_{kind}.kind = '{kind}' AND sup_{kind}.value = {probe})"
        for kind, probe in _probes(alias).items()
    ]
    return " AND ".join(clauses)


async def why_not_mailable(workspace_id: int, email: str) -> list[str]:
    """Every reason this address would be left out of a send; empty when it is mailable everywhere."""
    probes = hashed(email)
    params = Params()
    workspace = params.add(checked_workspace_id(workspace_id))
    matches = " OR ".join(f"(e.kind = '{kind}' AND e.value = {params.add(value)})" for kind, value in probes.items())
    entries = await fetch(
        "SELECT l.name, l.is_blacklist, e.kind, e.value FROM suppression_entries e "
        f"JOIN suppression_lists l ON l.id = e.suppression_list_id WHERE e.workspace_id = {workspace} "
        f"AND ({matches}) ORDER BY l.is_blacklist DESC, l.name, e.kind",
        params,
    )
    reasons = []
    for row in entries:
        where = "the blacklist" if row["is_blacklist"] else f"suppression list “{row['name']}”"
        if row["kind"] == "domain":
            reasons.append(f"Its domain {row['value']} is on {where}.")
        else:
            reasons.append(f"It is on {where} (by {KIND_LABELS[row['kind']]}).")
    params = Params()
    statuses = await fetch(
        "SELECT l.name, s.status FROM subscribers s JOIN lists l ON l.id = s.list_id "
        f"WHERE s.workspace_id = {params.add(checked_workspace_id(workspace_id))} "
        f"AND s.email = {params.add(probes['email'])} AND NOT s.status = ANY({params.add(list(MAILABLE_STATUSES))}) "
        "ORDER BY l.name",
        params,
    )
    reasons += [f"On list “{row['name']}” it {STATUS_REASONS[row['status']]}." for row in statuses]
    return reasons
