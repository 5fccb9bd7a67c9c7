"""Who may be mailed: the filter every send and segment applies, and the reasons shown for one address.

Only `confirmed` subscribers are mailable. `unconfirmed` is not, on double or
single opt-in lists alike: Ignite's own single opt-in paths (form, manual add,
import) store people as confirmed, so an unconfirmed row means a pending
double opt-in or an import that said the person has not consented; mailing
them would break the promise the list's opt-in setting makes. Keeping the rule
to one status also keeps it a plain column test, with no join to lists.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.services.sqlparams import Params, fetch

# The module, not its names: entries imports the subscribers service, which imports this module while
# entries is still loading.
from app.services.suppression import entries
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


@dataclass(frozen=True)
class Suppression:
    """One entry of a suppression list (or of the blacklist) that matches an address."""

    list_name: str
    is_blacklist: bool
    kind: str
    value: str

    @property
    def rule(self) -> str:
        return f"domain {self.value}" if self.kind == "domain" else entries.KIND_LABELS[self.kind]

    @property
    def label(self) -> str:
        """How tables and the profile say it: `blacklisted (rule: domain example.com)`."""
        where = "blacklisted" if self.is_blacklist else f"suppressed by “{self.list_name}”"
        return f"{where} (rule: {self.rule})"

    @property
    def sentence(self) -> str:
        where = "the blacklist" if self.is_blacklist else f"suppression list “{self.list_name}”"
        if self.kind == "domain":
            return f"Its domain {self.value} is on {where}."
        return f"It is on {where} (by {entries.KIND_LABELS[self.kind]})."


async def suppressions_of(workspace_id: int, emails: list[str]) -> dict[str, list[Suppression]]:
    """The entries that keep each address from being mailed (blacklist first), in one query for all of them;
    addresses nothing matches are left out."""
    probes = [(address, kind, value) for address in {email.strip().lower() for email in emails}
              for kind, value in entries.hashed(address).items()]
    if not probes:
        return {}
    params = Params()
    workspace = params.add(checked_workspace_id(workspace_id))
    addresses, kinds, values = (params.add(list(column)) for column in zip(*probes, strict=True))
    rows = await fetch(
        f"SELECT p.address, l.name, l.is_blacklist, e.kind, e.value FROM unnest({addresses}::text[], "
        f"{kinds}::text[], {values}::text[]) AS p(address, kind, value) "
        f"JOIN suppression_entries e ON e.workspace_id = {workspace} AND e.kind = p.kind AND e.value = p.value "
        "JOIN suppression_lists l ON l.id = e.suppression_list_id ORDER BY l.is_blacklist DESC, l.name, e.kind",
        params,
    )
    found: dict[str, list[Suppression]] = {}
    for row in rows:
        found.setdefault(row["address"], []).append(
            Suppression(row["name"], row["is_blacklist"], row["kind"], row["value"]))
    return found


async def blacklisted_ids_sql(params: Params, workspace_id: int, list_id: int | None = None,
                              other_statuses_only: bool = False) -> str:
    """A query of the ids of subscribers (of the workspace, or of one list) an entry of the workspace's blacklist
    matches; "" when the blacklist is empty.

    One branch per kind of entry the blacklist holds, so each is planned on its own: addresses and domains are
    looked up from the entries through the subscribers' indexes; hashes need every address hashed, so their
    branches exist only when the blacklist holds hashes.
    """
    present = await _blacklist_kinds(workspace_id)
    if not present:
        return ""
    workspace = params.add(checked_workspace_id(workspace_id))
    narrowed = f" AND s.list_id = {params.add(list_id)}" if list_id else ""
    if other_statuses_only:
        narrowed += " AND s.status <> 'blacklisted'"
    blacklist = f"(SELECT b.id FROM suppression_lists b WHERE b.workspace_id = {workspace} AND b.is_blacklist)"
    probes = {**_probes("s"), "email": "s.email", "domain": '(s.email_domain COLLATE "C")'}
    return " UNION ".join(
        f"SELECT s.id FROM subscribers s WHERE s.workspace_id = {workspace}{narrowed} AND {probes[kind]} IN ("
        f"SELECT e.value FROM suppression_entries e WHERE e.workspace_id = {workspace} AND e.kind = '{kind}' "
        f"AND e.suppression_list_id = {blacklist})"
        for kind in entries.KINDS if kind in present
    )


async def _blacklist_kinds(workspace_id: int) -> set[str]:
    params = Params()
    workspace = params.add(checked_workspace_id(workspace_id))
    rows = await fetch(
        "SELECT k.kind FROM unnest(ARRAY['email', 'md5', 'sha256', 'domain']) AS k(kind) WHERE EXISTS ("
        "SELECT 1 FROM suppression_entries e JOIN suppression_lists l ON l.id = e.suppression_list_id "
        f"WHERE e.workspace_id = {workspace} AND e.kind = k.kind AND l.is_blacklist)",
        params,
    )
    return {row["kind"] for row in rows}


async def blacklisted_by_rule(workspace_id: int, list_id: int | None = None) -> int:
    """Subscribers (of one list, or of the workspace) the blacklist matches whose status does not already say
    so: the list counters count the status, this adds the rest."""
    params = Params()
    matched = await blacklisted_ids_sql(params, workspace_id, list_id, other_statuses_only=True)
    if not matched:
        return 0
    rows = await fetch(f"SELECT count(*) AS n FROM ({matched}) matched", params)
    return int(rows[0]["n"])


async def why_not_mailable(workspace_id: int, email: str) -> list[str]:
    """Every reason this address would be left out of a send; empty when it is mailable everywhere."""
    address = email.strip().lower()
    found = await suppressions_of(workspace_id, [address])
    reasons = [entry.sentence for entry in found.get(address, [])]
    params = Params()
    statuses = await fetch(
        "SELECT l.name, s.status FROM subscribers s JOIN lists l ON l.id = s.list_id "
        f"WHERE s.workspace_id = {params.add(checked_workspace_id(workspace_id))} "
        f"AND s.email = {params.add(address)} AND NOT s.status = ANY({params.add(list(MAILABLE_STATUSES))}) "
        "ORDER BY l.name",
        params,
    )
    reasons += [f"On list “{row['name']}” it {STATUS_REASONS[row['status']]}." for row in statuses]
    return reasons


def not_mailable_labels(status: str, found: list[Suppression]) -> list[str]:
    """What a profile says after "not mailable:": each entry that matches, then a status that is not mailable."""
    return [entry.label for entry in found] + ([status] if status not in MAILABLE_STATUSES else [])
