"""The date range an Analytics page reads: `?since=YYYY-MM-DD&until=YYYY-MM-DD`, both days included, UTC.

One parser for every page, so a bad date reads the same everywhere: a message next to the field that holds
it (a `FormError` keyed `since` or `until`), never a 500 or a silently different range.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from app.services.forms import FormError

# A year and a day: long enough for any year-over-year view, short enough that no page reads without bound.
LONGEST_DAYS = 366
DEFAULT_DAYS = 7


@dataclass(frozen=True)
class Period:
    """The days from `since` to `until`, both included, in UTC."""

    since: date
    until: date

    @property
    def days(self) -> int:
        return (self.until - self.since).days + 1

    @property
    def start(self) -> datetime:
        """The first moment of the period."""
        return datetime.combine(self.since, time(), UTC)

    @property
    def end(self) -> datetime:
        """The first moment after the period (the range is [start, end))."""
        return datetime.combine(self.until + timedelta(days=1), time(), UTC)

    def dates(self) -> list[date]:
        return [self.since + timedelta(days=n) for n in range(self.days)]

    def query(self) -> str:
        """The period as query parameters, for links that keep it."""
        return f"since={self.since.isoformat()}&until={self.until.isoformat()}"


def last_days(days: int, today: date | None = None) -> Period:
    """The `days` days that end today (UTC)."""
    until = today or datetime.now(UTC).date()
    return Period(until - timedelta(days=days - 1), until)


def _date(query: Mapping[str, str], field: str) -> date | None:
    text = str(query.get(field) or "").strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise FormError({field: "Enter a date as YYYY-MM-DD, e.g. 2026-12-01."}) from None


def period_from(query: Mapping[str, str], default_days: int = DEFAULT_DAYS, today: date | None = None) -> Period:
    """The period a page's query asks for; the last `default_days` days for what it leaves out.

    Raises FormError keyed by the field at fault: a date that is not YYYY-MM-DD, an end before the start,
    or a range longer than a year.
    """
    since, until = _date(query, "since"), _date(query, "until")
    fallback = last_days(default_days, today)
    if since is None and until is None:
        return fallback
    if until is None:
        until = max(since, fallback.until) if since else fallback.until
    if since is None:
        since = until - timedelta(days=default_days - 1)
    if until < since:
        raise FormError({"until": "The end date comes before the start date."})
    if (until - since).days + 1 > LONGEST_DAYS:
        raise FormError({"until": f"Choose at most {LONGEST_DAYS} days."})
    return Period(since, until)
