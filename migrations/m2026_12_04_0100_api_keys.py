"""API keys: the keyed hash of each key (never the key), its scopes, limits, expiry and last use.

- `secret_hash`: hex HMAC-SHA256 of the whole key under a server secret; a key is 32 random bytes, so a fast
  keyed hash is as safe as a slow password hash and costs microseconds per request.
- `prefix`: the first characters of the key (`ig_live_AbCd`), to tell keys apart in lists.
- Rotation keeps the row (its id, name and history) and moves the old hash to `previous_hash`, which still
  authenticates until `previous_valid_until`.
"""

from app.db.migrating import sql_migration

ID = "2026-12-04T01:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "api keys"

SQL = """
CREATE TABLE api_keys (
    id serial PRIMARY KEY,
    workspace_id integer NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    name varchar(120) NOT NULL,
    prefix varchar(24) NOT NULL,
    secret_hash varchar(64) NOT NULL UNIQUE,
    previous_hash varchar(64),
    previous_valid_until timestamptz,
    sandbox boolean NOT NULL DEFAULT false,
    scopes varchar(32)[] NOT NULL,
    allowed_ips varchar(64)[] NOT NULL DEFAULT '{}',
    rate_limit integer NOT NULL DEFAULT 6000,
    expires_at timestamptz,
    revoked_at timestamptz,
    created_by integer REFERENCES users(id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    rotated_at timestamptz,
    last_used_at timestamptz,
    last_used_ip varchar(64) NOT NULL DEFAULT ''
);
CREATE INDEX api_keys_workspace_idx ON api_keys (workspace_id, id);
CREATE UNIQUE INDEX api_keys_previous_hash_idx ON api_keys (previous_hash) WHERE previous_hash IS NOT NULL;
"""


forwards = sql_migration(ID, DESCRIPTION, SQL)
