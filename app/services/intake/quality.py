"""A file's quality, 0 to 100, from what its import found and what it brought in.

From the import's own counts: the share of invalid rows and of duplicates. From the addresses it added (or
suppressed): role accounts, disposable domains, and addresses on domains that cannot receive mail (an MX
check of the file's largest domains, app/services/mx_checks.py). Each share costs points in proportion to
how much it harms a send: an address that cannot receive mail or a throw-away inbox costs a full point per
percent, a duplicate half of one (it was only skipped).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import dns.asyncresolver

from app.services.intake.lists_of_names import DISPOSABLE_DOMAINS, ROLE_ACCOUNTS
from app.services.mx_checks import dead_domains
from app.services.sqlparams import Params, fetch
from app.services.tenancy import checked_workspace_id

# DNS is slow: the domains holding most addresses are checked, which covers nearly all of a typical file.
MX_DOMAINS_CHECKED = 200
WEIGHTS = {"invalid": 1.0, "duplicates": 0.5, "role": 0.5, "disposable": 1.0, "mx_failures": 1.0}

_DOMAINS = """
SELECT email_domain AS domain, count(*) AS addresses,
       count(*) FILTER (WHERE split_part(email, '@', 1) = ANY({roles})) AS roles
FROM subscribers WHERE workspace_id = {workspace} AND import_id = {import_id}
GROUP BY email_domain
"""
_SUPPRESSED_DOMAINS = """
SELECT split_part(value, '@', 2) AS domain, count(*) AS addresses,
       count(*) FILTER (WHERE split_part(value, '@', 1) = ANY({roles})) AS roles
FROM suppression_entries
WHERE workspace_id = {workspace} AND suppression_list_id = {suppression_list} AND kind = 'email' AND reason = {reason}
GROUP BY 1
"""


@dataclass(frozen=True)
class Quality:
    rows: int
    invalid: int
    duplicates: int
    assessed: int
    role: int
    disposable: int
    mx_failures: int

    def share(self, name: str) -> float:
        whole = self.rows if name in ("invalid", "duplicates") else self.assessed
        return getattr(self, name) / whole if whole else 0.0

    @property
    def score(self) -> int | None:
        """None for a file without rows: there is nothing to judge."""
        if not self.rows:
            return None
        lost = sum(weight * self.share(name) for name, weight in WEIGHTS.items())
        return max(0, min(100, round(100 * (1 - lost))))

    def as_json(self) -> dict[str, int]:
        return asdict(self)


async def _domains(import_row: dict) -> list[dict]:
    params = Params()
    workspace = params.add(checked_workspace_id(import_row["workspace_id"]))
    roles = params.add(sorted(ROLE_ACCOUNTS))
    if import_row["mode"] == "suppress":
        sql = _SUPPRESSED_DOMAINS.format(workspace=workspace, roles=roles,
                                         suppression_list=params.add(import_row["suppression_list_id"]),
                                         reason=params.add(f"import #{import_row['id']}"))
    else:
        sql = _DOMAINS.format(workspace=workspace, roles=roles, import_id=params.add(import_row["id"]))
    return await fetch(sql, params)


async def measure(import_row: dict, resolver: dns.asyncresolver.Resolver) -> Quality:
    """The quality of the file a finished import read."""
    domains = await _domains(import_row)
    largest = sorted(domains, key=lambda row: row["addresses"], reverse=True)[:MX_DOMAINS_CHECKED]
    dead = set(await dead_domains([row["domain"] for row in largest if row["domain"]], resolver))
    return Quality(
        rows=import_row["rows_seen"], invalid=import_row["invalid"], duplicates=import_row["skipped_duplicate"],
        assessed=sum(row["addresses"] for row in domains), role=sum(row["roles"] for row in domains),
        disposable=sum(row["addresses"] for row in domains if row["domain"] in DISPOSABLE_DOMAINS),
        mx_failures=sum(row["addresses"] for row in domains if row["domain"] in dead),
    )
