"""Conversions from affiliate postbacks, and each workspace's tracking settings for offers and postbacks.

- `tracking_settings`: one row per workspace, made on first save (until then the defaults apply): the
  names of the sub-id parameters offer links carry (campaign, subscriber, delivery; Everflow's
  `sub1..sub3` by default, a blank name sends none, except for the delivery, which the postback needs),
  the offer domains whose links carry them, the currency revenue is counted in, and the postback secret.
  The secret is 256 random bits shown once; only its SHA-256 (hex) is stored (unique: it names the workspace),
  with its last four characters to tell which one is in use.
- `conversions`: one row per (workspace, transaction id, event name). Everflow sends the base conversion
  and each later event of one click with the same transaction id, so the event name is part of the key;
  a replay of any of them, concurrent ones included, meets the unique index and is counted once. Each row
  names the delivery, campaign, subscriber and server it is attributed to, and the network's offer.
"""

from app.db.migrating import sql_migration

ID = "2026-12-02T04:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "conversions"

SQL = """
CREATE TABLE tracking_settings (
    workspace_id integer PRIMARY KEY REFERENCES workspaces(id) ON DELETE CASCADE,
    campaign_param varchar(40) NOT NULL DEFAULT 'sub1',
    subscriber_param varchar(40) NOT NULL DEFAULT 'sub2',
    delivery_param varchar(40) NOT NULL DEFAULT 'sub3',
    offer_domains text[] NOT NULL DEFAULT '{}',
    currency varchar(3) NOT NULL DEFAULT 'USD',
    postback_secret_hash varchar(64) UNIQUE,
    postback_secret_hint varchar(4) NOT NULL DEFAULT '',
    postback_secret_at timestamptz,
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE conversions (
    id bigserial PRIMARY KEY,
    workspace_id integer NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    transaction_id varchar(128) NOT NULL,
    event_name varchar(64) NOT NULL DEFAULT '',
    delivery_id bigint NOT NULL,
    -- Money already earned stays in the workspace's totals when its campaign is deleted.
    campaign_id integer REFERENCES campaigns(id) ON DELETE SET NULL,
    subscriber_id bigint,
    server_id integer,
    offer_id varchar(64) NOT NULL DEFAULT '',
    revenue numeric(14, 4) NOT NULL DEFAULT 0,
    currency varchar(3) NOT NULL,
    sub_ids jsonb NOT NULL DEFAULT '{}',
    ip varchar(64) NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (workspace_id, transaction_id, event_name)
);
CREATE INDEX conversions_campaign_idx ON conversions (campaign_id, id DESC);
"""


forwards = sql_migration(ID, DESCRIPTION, SQL)
