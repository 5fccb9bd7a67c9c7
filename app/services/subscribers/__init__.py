"""Subscribers: one person by hand (`records`), finding them at millions of rows (`filters`, `search`), and
changing many at once (`targets`).

`records` comes first: the suppression service imports `SubscriberError` and `normalized_email` from here
while this package is still loading, when `filters` brings the suppression service in.
"""

from app.services.subscribers.records import (
    SubscriberError,
    add_subscriber,
    address_on_file,
    checked_status,
    ensure_tag,
    get_subscriber,
    memberships,
    normalized_email,
    status_history,
    subscriber_of,
    tags_by_subscriber,
    tags_of,
    update_subscriber,
    workspace_tags,
)

# isort: split
from app.services.subscribers.filters import ENGAGEMENT, SubscriberFilter, filter_sql
from app.services.subscribers.search import (
    COUNT_CAP,
    PAGE_SIZE,
    TablePage,
    Total,
    field_columns,
    search,
    table_page,
    total,
)
from app.services.subscribers.targets import change_status, choose_targets, set_status

__all__ = [
    "COUNT_CAP",
    "ENGAGEMENT",
    "PAGE_SIZE",
    "SubscriberError",
    "SubscriberFilter",
    "TablePage",
    "Total",
    "add_subscriber",
    "address_on_file",
    "change_status",
    "checked_status",
    "choose_targets",
    "ensure_tag",
    "field_columns",
    "filter_sql",
    "get_subscriber",
    "memberships",
    "normalized_email",
    "search",
    "set_status",
    "status_history",
    "subscriber_of",
    "table_page",
    "tags_by_subscriber",
    "tags_of",
    "total",
    "update_subscriber",
    "workspace_tags",
]
