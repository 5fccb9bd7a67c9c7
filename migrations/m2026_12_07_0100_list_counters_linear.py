"""List counters after an UPDATE of subscribers, worked out without joining the two transition tables.

The trigger matched each old row to its new one by id. The planner cannot count a transition table's rows, so it
took them for one and joined them in a nested loop: quadratic, 12.7 s for a statement that moved 6,347
subscribers (one batch of the tracking aggregator, which raises engagement scores). Every updated row is in both
tables, so summing -1 for each old (list, status) and +1 for each new one gives the same counts in one pass: a
row whose list and status stayed the same adds -1 and +1 to one group, which cancel.
"""

from app.db.migrating import sql_migration

ID = "2026-12-07T01:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "list counters without a join"

SQL = """
CREATE OR REPLACE FUNCTION list_counters_after_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO list_counters AS c (list_id, workspace_id, total, unconfirmed, confirmed, unsubscribed,
                                    bounced, complained, blacklisted)
    SELECT list_id, min(workspace_id), sum(delta),
           coalesce(sum(delta) FILTER (WHERE status = 'unconfirmed'), 0),
           coalesce(sum(delta) FILTER (WHERE status = 'confirmed'), 0),
           coalesce(sum(delta) FILTER (WHERE status = 'unsubscribed'), 0),
           coalesce(sum(delta) FILTER (WHERE status = 'bounced'), 0),
           coalesce(sum(delta) FILTER (WHERE status = 'complained'), 0),
           coalesce(sum(delta) FILTER (WHERE status = 'blacklisted'), 0)
    FROM (
        SELECT list_id, min(workspace_id) AS workspace_id, status, sum(delta) AS delta
        FROM (SELECT list_id, workspace_id, status, -1 AS delta FROM old_rows
              UNION ALL
              SELECT list_id, workspace_id, status, 1 FROM new_rows) moved
        GROUP BY list_id, status
        HAVING sum(delta) <> 0
    ) changes
    GROUP BY list_id
    ON CONFLICT (list_id) DO UPDATE SET
        total = c.total + excluded.total, unconfirmed = c.unconfirmed + excluded.unconfirmed,
        confirmed = c.confirmed + excluded.confirmed, unsubscribed = c.unsubscribed + excluded.unsubscribed,
        bounced = c.bounced + excluded.bounced, complained = c.complained + excluded.complained,
        blacklisted = c.blacklisted + excluded.blacklisted;
    RETURN NULL;
END $$;
"""


forwards = sql_migration(ID, DESCRIPTION, SQL)
