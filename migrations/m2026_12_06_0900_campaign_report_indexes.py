"""Indexes the campaign report reads through on a large workspace.

The send log pages a campaign's deliveries newest first: without `(campaign_id, id)` it walked the primary key
backwards past every newer campaign's rows (2.4 million for a campaign two dozen sends back). The click map
counts a campaign's human and robot clicks per link: the partial index holds only clicks, in the order the map
groups them, so it is read without the events themselves.
"""

from app.db.migrating import sql_migration

ID = "2026-12-06T09:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "campaign report indexes"

SQL = """
CREATE INDEX IF NOT EXISTS deliveries_campaign_log_idx ON deliveries (campaign_id, id);
CREATE INDEX IF NOT EXISTS events_click_map_idx ON events (workspace_id, campaign_id, link_index, kind, delivery_id)
    WHERE kind IN ('click', 'bot_click') AND link_index IS NOT NULL;
"""


forwards = sql_migration(ID, DESCRIPTION, SQL)
