"""Robot rules per workspace, seeded with defaults for every workspace; the engagement score's clock.

- `robot_rules`: what the aggregator checks each open and click against, in `position` order; the first
  rule that matches names the event's robot (`meta.rule`) and makes it a `machine_open` or `bot_click`.
  Kinds: `known_robots` (the CrawlerDetect list of robot User-Agents), `user_agent` (a regular
  expression), `network` (CIDR ranges the request came from), `link_burst` (`links` different links of
  one message clicked within `seconds`), `after_delivery` (within `seconds` of the message being sent).
- `seed_robot_rules(workspace)` adds the default rules a workspace lacks (by name); a trigger runs it for
  every new workspace, and it runs here for the existing ones. The networks are the published mail
  security ranges of Microsoft (Exchange Online Protection, where Safe Links scans from), Google,
  Barracuda, Mimecast and Proofpoint.
- `subscribers.engagement_scored_at`: when `engagement_score` was last worked out; the score decays
  from that moment (app/services/tracking/engagement.py).
"""

from app.db.migrating import sql_migration

ID = "2026-12-02T02:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "robot rules"

SQL = r"""
CREATE TABLE robot_rules (
    id serial PRIMARY KEY,
    workspace_id integer NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    name varchar(80) NOT NULL,
    kind varchar(16) NOT NULL
        CHECK (kind IN ('known_robots', 'user_agent', 'network', 'link_burst', 'after_delivery')),
    applies_to varchar(8) NOT NULL DEFAULT 'both' CHECK (applies_to IN ('open', 'click', 'both')),
    pattern text NOT NULL DEFAULT '',
    networks text[] NOT NULL DEFAULT '{}',
    links smallint,
    seconds numeric(8, 3),
    enabled boolean NOT NULL DEFAULT true,
    position integer NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (workspace_id, name)
);
CREATE INDEX robot_rules_workspace_idx ON robot_rules (workspace_id, position, id);

CREATE FUNCTION seed_robot_rules(workspace integer) RETURNS integer LANGUAGE sql AS $$
    WITH added AS (
        INSERT INTO robot_rules (workspace_id, name, kind, applies_to, pattern, networks, links, seconds, position)
        SELECT workspace, d.name, d.kind, d.applies_to, d.pattern, d.networks, d.links, d.seconds, d.position
        FROM (VALUES
            ('Apple Mail Privacy Protection', 'user_agent', 'open', '^Mozilla/5\.0$', '{}'::text[],
             NULL::smallint, NULL::numeric, 10),
            ('Gmail image proxy', 'user_agent', 'open', 'GoogleImageProxy', '{}', NULL, NULL, 20),
            ('Microsoft Safe Links and Defender', 'network', 'both', '',
             '{40.92.0.0/15,40.107.0.0/16,52.100.0.0/14,104.47.0.0/17,2a01:111:f400::/48,2a01:111:f403::/48}',
             NULL, NULL, 30),
            ('Google mail security and proxies', 'network', 'both', '',
             '{64.233.160.0/19,66.102.0.0/20,66.249.80.0/20,72.14.192.0/18,74.125.0.0/16,108.177.8.0/21,'
             '173.194.0.0/16,209.85.128.0/17,2001:4860:4000::/36,2404:6800:4000::/36}', NULL, NULL, 40),
            ('Barracuda', 'network', 'both', '', '{64.235.144.0/20,209.222.80.0/21,35.170.131.81/32}',
             NULL, NULL, 50),
            ('Mimecast', 'network', 'both', '',
             '{205.139.110.0/24,207.211.30.0/24,207.211.31.0/25,216.205.24.0/24,170.10.128.0/22,'
             '170.10.132.0/22,91.220.42.0/24,195.130.217.0/24,185.58.84.0/22,146.101.78.0/24}', NULL, NULL, 60),
            ('Proofpoint', 'network', 'both', '',
             '{67.231.144.0/20,148.163.128.0/19,205.220.160.0/19,185.132.180.0/22,185.183.28.0/22,'
             '208.84.65.0/24,208.86.201.0/24}', NULL, NULL, 70),
            ('Known robot User-Agents', 'known_robots', 'both', '', '{}', NULL, NULL, 80),
            ('Many links within a second', 'link_burst', 'click', '', '{}', 3, 1, 90),
            ('Click within seconds of delivery', 'after_delivery', 'click', '', '{}', NULL, 10, 100)
        ) AS d(name, kind, applies_to, pattern, networks, links, seconds, position)
        ON CONFLICT (workspace_id, name) DO NOTHING
        RETURNING 1
    )
    SELECT count(*)::integer FROM added
$$;

CREATE FUNCTION seed_robot_rules_of_new_workspace() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM seed_robot_rules(NEW.id);
    RETURN NULL;
END $$;
CREATE TRIGGER workspaces_robot_rules AFTER INSERT ON workspaces
    FOR EACH ROW EXECUTE FUNCTION seed_robot_rules_of_new_workspace();

SELECT seed_robot_rules(id) FROM workspaces;

ALTER TABLE subscribers ADD COLUMN engagement_scored_at timestamptz;
"""


forwards = sql_migration(ID, DESCRIPTION, SQL)
