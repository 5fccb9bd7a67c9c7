"""Engagement figures beyond human opens and clicks: robots, unsubscribes, web views, conversions.

`campaign_engagement` is the campaign page's row of figures. Each writer adds to its own columns in the
transaction that records the event: the aggregator (machine opens, bot clicks, web views), the
unsubscribe path (unsubscribes) and the postback (conversions, revenue). Kinds of `events` rows from
here on: open, click, machine_open, bot_click, web_view, unsubscribe, conversion.
"""

from app.db.migrating import sql_migration

ID = "2026-12-02T01:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "engagement figures"

SQL = """
ALTER TABLE campaign_engagement
    ADD COLUMN machine_opens bigint NOT NULL DEFAULT 0,
    ADD COLUMN bot_clicks bigint NOT NULL DEFAULT 0,
    ADD COLUMN web_views bigint NOT NULL DEFAULT 0,
    ADD COLUMN unsubscribes bigint NOT NULL DEFAULT 0,
    ADD COLUMN conversions bigint NOT NULL DEFAULT 0,
    ADD COLUMN revenue numeric(14, 4) NOT NULL DEFAULT 0;
"""


forwards = sql_migration(ID, DESCRIPTION, SQL)
